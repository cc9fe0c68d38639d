"""Fire a 3.1 `webhooks` entry on demand: its documented method, a payload from its request body, to a URL
the caller names (the spec gives webhooks no URL: the subscriber registers one out of band).

`gw webhook SERVICE NAME --to URL` sends from the operator's own process, to a URL the operator typed:
the allow-list does not apply (it guards against URLs that arrive inside API requests; an operator at a
shell can reach that URL anyway). Over the admin API (`POST /_gw/api/services/{service}/webhooks/{name}`)
the gateway process itself sends, for a remote caller, from wherever the gateway runs: the allow-list
applies, as it does to callbacks.
"""

from __future__ import annotations

import time

from ..spec.load import Service
from .payload import request_payload
from .plan import webhook_targets
from .sender import CallbackSender, Outcome, Outgoing


class WebhookError(LookupError):
    """The service or webhook named does not exist (the message lists what does)."""


def webhook_names(service: Service) -> list[str]:
    return sorted(webhook_targets(service))


def webhook_request(service: Service, name: str, to: str, trusted: bool = False, origin: str = "") -> Outgoing:
    """The request that fires webhook `name` of `service` at `to`."""
    targets = webhook_targets(service).get(name)
    if not targets:
        listed = ", ".join(webhook_names(service)) or "none"
        where = "" if service.openapi31 else f" ({service.spec_file.name} is OpenAPI {'.'.join(map(str, service.version))}: " \
                                              f"webhooks are an OpenAPI 3.1 feature)"
        raise WebhookError(f"{service.name} has no webhook {name!r} (webhooks: {listed}){where}")
    target = targets[0]
    seed = f"{service.name}:webhook:{name}:{time.time_ns()}"  # each firing is a new event
    return Outgoing(service, target, to, request_payload(service, target.operation.definition, seed), origin,
                    trusted=trusted)


async def fire(sender: CallbackSender, service: Service, name: str, to: str, trusted: bool = False,
               origin: str = "") -> Outcome:
    """Send webhook `name` now and wait for the outcome."""
    return await sender.send(webhook_request(service, name, to, trusted, origin))
