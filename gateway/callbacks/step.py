"""The pipeline step that sends an operation's callbacks once its simulated answer has gone out.

Only operations that document `callbacks` pay anything (one dict lookup); the step is not in the
pipeline at all when no loaded spec has one or `callbacks.enabled` is false. A callback follows an
answer gw made up (stub mode, a fallback's or spy's stub: no real server will send it) with a status
below 400 (a refused request triggers nothing). What the runtime expressions need is taken from the
exchange before the answer leaves; URL, payload and the send itself happen in the background after the
last byte of the answer was handed to the server, so they never delay or break it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ..core.exchange import UPSTREAM_SOURCES, Exchange, Response
from ..core.pipeline import Next
from ..forwarder import client
from ..spec.load import Service
from .expressions import Context, Message, Unresolved, as_text, expand
from .payload import request_payload
from .plan import Target, service_callbacks
from .sender import CallbackSender, Outgoing


class Callbacks:
    """Pipeline step after routing: schedules the routed operation's callbacks after its answer."""

    def __init__(self, plans: dict[tuple[str, str], list[Target]], services: dict[str, Service],
                 sender: CallbackSender) -> None:
        self.plans, self.services, self.sender = plans, services, sender

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        response = await call_next(exchange)
        operation = exchange.operation
        targets = self.plans.get((operation.service, operation.key)) if operation is not None else None
        if not targets or response.status >= 400 or not exchange.source or exchange.source in UPSTREAM_SOURCES:
            return response
        assert operation is not None
        service = self.services[operation.service]
        context = await exchange_context(exchange, response)
        origin = exchange.request_id
        after_sent(response, lambda: self.sender.schedule([partial(outgoing, service, t, context, origin) for t in targets]))
        return response


def callback_step(services: dict[str, Service], sender: CallbackSender, enabled: bool) -> list[Callbacks]:
    """The step, when some operation documents callbacks (else nothing: a request pays nothing for it)."""
    plans = {(name, key): targets for name, service in services.items()
             for key, targets in service_callbacks(service).items()} if enabled else {}
    if not plans:
        return []
    client.load()  # aiohttp sends them: imported now, at start (before `--workers N` forks), not by the first callback
    return [Callbacks(plans, services, sender)]


def outgoing(service: Service, target: Target, context: Context, origin: str) -> Outgoing:
    """The request for one callback target: its URL from the runtime expressions, its payload from the spec."""
    try:
        url = expand(list(target.parts), context)
    except Unresolved as exc:
        return Outgoing(service, target, target.url, request_payload(service, {}, ""), origin,
                        reason=f"callback URL {target.url} cannot be built: {exc}")
    payload = request_payload(service, target.operation.definition, f"{service.name}:{target.operation.key}:{url}")
    return Outgoing(service, target, url, payload, origin)


async def exchange_context(exchange: Exchange, response: Response) -> Context:
    """What runtime expressions read, taken from the exchange while it is at hand."""
    scope = exchange.scope
    headers = exchange.headers
    host = headers.get("host") or _server(scope)
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    url = f"{scope.get('scheme', 'http')}://{host}{raw_path}" + (f"?{query}" if query else "")
    body = await exchange.body()
    request = Message(headers={k: v for k, v in headers.items()},
                      query={k: v for k, v in exchange.query.multi_items()[::-1]},  # the first of repeats wins
                      path={k: as_text(v) for k, v in exchange.path_params.items()},
                      body=body, media_type=headers.get("content-type", ""), shared=exchange.request_json(body))
    answer = Message(headers={k: v for k, v in response.headers},
                     body=response.body if isinstance(response.body, bytes) else None,
                     media_type=response.header("content-type") or "", shared=response.body_json())
    return Context(url, exchange.method, response.status, request, answer)


def _server(scope: dict[str, Any]) -> str:
    server = scope.get("server") or ("localhost", None)
    return f"{server[0]}:{server[1]}" if server[1] else str(server[0])


def after_sent(response: Response, then: Callable[[], None]) -> None:
    """Run `then` once the answer's last byte has been handed to the server (or it was given up)."""
    earlier = response.on_close
    done = False

    async def closed() -> None:
        nonlocal done
        if earlier is not None:
            result = earlier()
            if hasattr(result, "__await__"):
                await result
        if not done:
            done = True
            then()

    response.on_close = closed
