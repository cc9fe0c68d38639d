"""WebSocket pass-through: a frontend's realtime channel reaches its upstream through the gateway.

Only paths a service lists under `websockets` are passed, only in the modes that reach the upstream
(live, record, fallback, spy: recording does not apply to a socket), and only to the service's own
configured instances. The handshake meets the same checks as any request: the Origin (browsers let
any page open a socket to any host, so the CORS origins decide), then credentials, read from
`Authorization` or a `token` query parameter (browsers cannot set headers on a WebSocket).
A refused handshake is an HTTP problem+json answer where the server supports it, else a close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ..core.events import Channel, WebSocketsChanged
from ..core.exchange import Exchange
from ..core.problems import PROBLEM_JSON, Problem
from ..edge.observe import request_id_for
from ..settings.config import PROXIED_MODES, ServiceConfig
from ..spec.load import below_base, path_template
from . import Forwarder, client
from .proxy import forward_headers, request_target, target_url

if TYPE_CHECKING:
    import aiohttp

if TYPE_CHECKING:
    from ..runtime.modes import Modes

log = logging.getLogger("gw.websocket")

HANDSHAKE_TIMEOUT = 10.0
SOCKET_HEADERS = {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol",
                  "upgrade"}

Admit = Callable[[Exchange, str], Awaitable[None]]  # (handshake, service name); raises Problem to refuse
OriginCheck = Callable[[str], bool]


class WebSocketPassThrough:
    """ASGI handler for `websocket` scopes: check the handshake, connect upstream, pump both ways.

    Each connection opened and closed is published on `events` (WebSocketsChanged: the metrics' gauge).
    """

    def __init__(self, services: Mapping[str, ServiceConfig], forwarder: Forwarder, admit: Admit,
                 origin_allowed: OriginCheck | None, modes: Modes, events: Channel | None = None) -> None:
        self.modes = modes  # the modes now (runtime switches included)
        self.forwarder = forwarder
        self.admit = admit
        self.origin_allowed = origin_allowed
        self.events = events if events is not None else forwarder.events  # by default the channel the forwarder uses
        self.routes = [(s, _patterns(s)) for s in sorted(services.values(), key=lambda s: -len(s.base_path))
                       if s.websockets]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        exchange = Exchange(_with_token_header(scope), receive)
        exchange.request_id = request_id_for(exchange)
        try:
            settings = self._route(scope["path"])
            upstream = await self._connect(exchange, settings)
        except Problem as problem:
            await refuse(scope, send, problem, exchange.request_id)
            return
        await self._relay(exchange, settings, upstream, receive, send)

    def _route(self, path: str) -> ServiceConfig:
        for settings, patterns in self.routes:
            relative = below_base(settings.base_path, path)
            if relative is not None and any(p.fullmatch(relative) for p in patterns):
                return settings
        raise Problem(404, detail=f"no service passes WebSockets at {path}", slug="no-websocket-route")

    async def _connect(self, exchange: Exchange, settings: ServiceConfig) -> aiohttp.ClientWebSocketResponse:
        origin = exchange.headers.get("origin")
        if origin and self.origin_allowed is not None and not self.origin_allowed(origin):
            raise Problem(403, detail=f"origin {origin} may not open WebSockets here", slug="origin-refused")
        mode = self.modes.mode_of(settings.name)
        if mode not in PROXIED_MODES:
            raise Problem(409, detail=f"service {settings.name} is in {mode} mode; WebSockets pass only "
                                      "in live, record, fallback and spy", slug="websocket-not-proxied")
        await self.admit(exchange, settings.name)  # sets exchange.service; raises 401/403 Problems
        pool = self.forwarder.pools[settings.name]
        instance = pool.pick()
        if instance is None:
            raise pool.unavailable()
        url = target_url(instance, request_target(exchange, self.forwarder.hops[settings.name].prefix))
        headers = [(k, v) for k, v in forward_headers(exchange, self.forwarder.upstream_identity)
                   if k.lower() not in SOCKET_HEADERS]
        protocols = [p.strip() for p in exchange.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
        try:
            return await self.forwarder.session.ws_connect(
                url.with_scheme("wss" if url.scheme == "https" else "ws"), headers=headers, protocols=protocols,
                timeout=client.ClientWSTimeout(ws_receive=None, ws_close=HANDSHAKE_TIMEOUT), autoping=True,
                max_msg_size=0)
        except (TimeoutError, client.ClientError, OSError) as exc:
            raise Problem(502, detail=f"upstream {instance.url} refused the WebSocket: {exc}",
                          slug="upstream-unreachable") from None

    async def _relay(self, exchange: Exchange, settings: ServiceConfig, upstream: aiohttp.ClientWebSocketResponse,
                     receive: Any, send: Any) -> None:
        started = time.perf_counter()
        await send({"type": "websocket.accept", "subprotocol": upstream.protocol,
                    "headers": [(b"x-request-id", exchange.request_id.encode())]})
        self.events.publish(WebSocketsChanged(settings.name, 1))
        counts = {"to_upstream": 0, "to_client": 0}
        try:
            await first_done(_client_to_upstream(receive, upstream, counts), _upstream_to_client(upstream, send, counts))
        finally:
            self.events.publish(WebSocketsChanged(settings.name, -1))
            await upstream.close()
            log.info("websocket closed", extra={"fields": {
                "request_id": exchange.request_id, "service": settings.name, "path": exchange.path,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1), **counts}})


async def _client_to_upstream(receive: Any, upstream: aiohttp.ClientWebSocketResponse, counts: dict[str, int]) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close(code=message.get("code", 1000))
            return
        if message.get("text") is not None:
            await upstream.send_str(message["text"])
        elif message.get("bytes") is not None:
            await upstream.send_bytes(message["bytes"])
        counts["to_upstream"] += 1


async def _upstream_to_client(upstream: aiohttp.ClientWebSocketResponse, send: Any, counts: dict[str, int]) -> None:
    async for message in upstream:
        if message.type == client.WSMsgType.TEXT:
            await send({"type": "websocket.send", "text": message.data})
        elif message.type == client.WSMsgType.BINARY:
            await send({"type": "websocket.send", "bytes": message.data})
        else:
            break
        counts["to_client"] += 1
    code = upstream.close_code or 1000
    with contextlib.suppress(Exception):  # the client may already be gone
        await send({"type": "websocket.close", "code": 1011 if code == 1006 else code})


async def first_done(*coroutines: Awaitable[None]) -> None:
    """Run both directions; when one ends (a close from either side), stop the other."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def refuse(scope: dict[str, Any], send: Any, problem: Problem, request_id: str) -> None:
    """An HTTP problem+json answer to the handshake where the server can send one; else a plain refusal."""
    log.info("websocket refused: %s", problem.detail, extra={"fields": {"request_id": request_id,
                                                                         "path": scope["path"], "status": problem.status}})
    if "websocket.http.response" in scope.get("extensions", {}):
        headers = [(b"content-type", PROBLEM_JSON.encode()), (b"x-request-id", request_id.encode()),
                   *((k.lower().encode(), v.encode()) for k, v in problem.headers.items())]
        await send({"type": "websocket.http.response.start", "status": problem.status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": problem.body(scope["path"])})
    else:
        await send({"type": "websocket.close", "code": 1008})


def _patterns(settings: ServiceConfig) -> list[re.Pattern[str]]:
    """`/events` or `/rooms/{room}` below the base path."""
    return [path_template(path) for path in settings.websockets]


def _with_token_header(scope: dict[str, Any]) -> dict[str, Any]:
    """A `token` query parameter stands for `Authorization: Bearer` (browsers cannot set headers on sockets)."""
    if any(name == b"authorization" for name, _ in scope.get("headers", [])):
        return scope
    token = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))).get("token")
    if not token:
        return scope
    return {**scope, "headers": [*scope.get("headers", []), (b"authorization", f"Bearer {token}".encode())]}

