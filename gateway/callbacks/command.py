"""`gw webhook SERVICE NAME --to URL`: fire a 3.1 webhook from the operator's shell, no gateway running."""

from __future__ import annotations

import asyncio
from typing import Any

from ..settings.config import GatewayConfig
from ..spec.load import SpecError, load_spec
from .sender import CallbackSender, Outcome
from .webhooks import WebhookError, webhook_request


class WebhookCommandError(Exception):
    """One line for the CLI: an unknown service or webhook, a spec that does not load."""


def fire_from_cli(config: GatewayConfig, service_name: str, name: str, to: str) -> tuple[Outcome, dict[str, Any]]:
    """Send it and wait: the outcome, and what was sent (for `--json`). `to` is the operator's own: no allow-list."""
    settings = config.services.get(service_name)
    if settings is None:
        raise WebhookCommandError(f"no service {service_name!r} in {config.source}; services: {', '.join(config.services)}")
    try:
        service = load_spec(config, settings, "cached")
        outgoing = webhook_request(service, name, to, trusted=True)
    except (SpecError, WebhookError) as exc:
        raise WebhookCommandError(str(exc)) from None
    outcome = asyncio.run(CallbackSender(config.callbacks, log_outcomes=False).send(outgoing))
    sent = {"service": service_name, "webhook": name, "method": outgoing.target.operation.method, "to": to,
            "content_type": outgoing.payload.content_type or None, "payload": outgoing.payload.value}
    return outcome, sent
