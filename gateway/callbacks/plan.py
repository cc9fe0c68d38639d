"""What the spec says gw may send: each operation's `callbacks` and a 3.1 document's `webhooks`, read once
when the pipeline is assembled, each as a `Target` (method, URL template, payload's operation)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..spec.draft import HTTP_METHODS
from ..spec.load import Operation, Service
from .expressions import Expression, ExpressionError, parse_template

log = logging.getLogger("gw.callbacks")


@dataclass(frozen=True)
class Target:
    """One request the spec documents gw sending: `operation` holds its definition and documented responses
    (its answer is judged against them), `url` its URL template (a callback's runtime expression)."""

    kind: str  # callback | webhook
    name: str  # the callback's or webhook's name in the spec
    url: str
    parts: tuple[str | Expression, ...]
    operation: Operation


def callback_targets(service: Service, operation: Operation) -> list[Target]:
    """The operation's callbacks, one target per named callback, expression and method; one whose
    expression breaks the ABNF is left out with a warning naming its place in the spec."""
    callbacks = operation.definition.get("callbacks")
    targets: list[Target] = []
    for name, callback in (callbacks or {}).items() if isinstance(callbacks, dict) else ():
        for expression, item in (callback or {}).items() if isinstance(callback, dict) else ():
            if not isinstance(item, dict) or str(expression).startswith("x-"):
                continue
            try:
                parts = tuple(parse_template(str(expression)))
            except ExpressionError as exc:
                log.warning("%s: paths/%s/%s/callbacks/%s: callback left out: %s", service.spec_file,
                            operation.path, operation.method.lower(), name, exc)
                continue
            for method, definition in _methods(item):
                key = f"{operation.key} {name} {method.upper()}"
                targets.append(Target("callback", str(name), str(expression), parts,
                                      _operation(service, key, method, str(expression), definition)))
    return targets


def webhook_targets(service: Service) -> dict[str, list[Target]]:
    """A 3.1 document's `webhooks`, by name (a webhook may document several methods: the first is fired)."""
    found: dict[str, list[Target]] = {}
    webhooks = service.specification.spec.get("webhooks")
    for name, item in (webhooks or {}).items() if isinstance(webhooks, dict) else ():
        if isinstance(item, dict):
            found[str(name)] = [Target("webhook", str(name), "", (), _operation(service, f"webhook {name} {m.upper()}", m,
                                                                                f"webhooks/{name}", d))
                                for m, d in _methods(item)]
    return found


def service_callbacks(service: Service) -> dict[str, list[Target]]:
    """Every operation of the service that documents callbacks, by operation key."""
    plans = {}
    for operation in service.operations.values():
        if operation.definition.get("callbacks"):
            targets = callback_targets(service, operation)
            if targets:
                plans[operation.key] = targets
    return plans


def _methods(item: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(m, item[m]) for m in HTTP_METHODS if isinstance(item.get(m), dict)]


def _operation(service: Service, key: str, method: str, path: str, definition: dict[str, Any]) -> Operation:
    """The callback's own operation, so contract.check_response judges its answer as any other."""
    responses = {str(k): v for k, v in (definition.get("responses") or {}).items() if isinstance(v, dict)}
    return Operation(service=service.name, key=key, method=method.upper(), path=path, definition=definition,
                     responses=responses)
