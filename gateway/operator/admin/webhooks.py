"""Admin API handler: fire a service's 3.1 webhook from a test in any language.

`POST /_gw/api/services/{service}/webhooks/{name}` with `{"to": URL}`: the gateway sends it now and
answers with the receiver's status and the time it took. The gateway process sends for a remote caller,
so `callbacks.allow` applies (gateway/callbacks/webhooks.py says why the CLI differs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...callbacks.webhooks import WebhookError, webhook_request
from ...core.exchange import Exchange, Response
from ...core.problems import Problem

if TYPE_CHECKING:
    from ...callbacks.sender import CallbackSender
    from ..state import GatewayState


async def fire_webhook(state: GatewayState, callbacks: CallbackSender, exchange: Exchange) -> Response:
    name = str(exchange.path_params.get("service", ""))
    service = state.specs.get(name)
    if service is None:
        raise Problem(404, detail=f"no service {name!r}; services: {', '.join(state.specs)}")
    webhook = str(exchange.path_params.get("name", ""))
    to = str((await exchange.json())["to"])  # the validator has checked the body's shape
    try:
        outgoing = webhook_request(service, webhook, to, origin=exchange.request_id)
    except WebhookError as exc:
        raise Problem(404, detail=str(exc)) from None
    outcome = await callbacks.send(outgoing)
    if outcome.outcome == "refused":
        raise Problem(403, detail=f"webhook {webhook} not sent: {outcome.reason}", title="Webhook target refused",
                      slug="webhook-target-refused")
    if outcome.outcome != "sent":
        raise Problem(502, detail=f"webhook {webhook} to {to}: {outcome.reason}", title="Webhook not delivered",
                      slug="webhook-failed")
    return Response.json(200, {"webhook": webhook, "to": to, "method": outgoing.target.operation.method,
                               "status": outcome.status, "duration_ms": outcome.duration_ms, "contract": outcome.contract,
                               "payload": outgoing.payload.value})
