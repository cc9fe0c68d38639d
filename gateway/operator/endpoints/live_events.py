"""`/_gw/ws`: the gateway's live events over a WebSocket, one JSON text frame per event.

The dashboard's feed and charts are drawn from this stream. The first frame is a `hello` with the
services and their modes (so a client draws the page without a second request); then every event
the bus carries (`exchange`, `mode`, `circuit`, ...) as it happens; a `heartbeat` when nothing
happened for a while (so a dead connection is noticed by both ends); and `dropped` with a count
when this client fell behind and the bus had to drop its oldest events. A slow client never slows
a request: the bus gives each listener a bounded queue and drops from it, never waits.

Only operators may listen (the same check as the admin API). Because a browser lets any web page
open a WebSocket to any address, and loopback is an operator address by default, a handshake from
another site's page (its `Origin` neither this gateway's host nor an allowed CORS origin) is
refused: otherwise any page a developer visits could read their traffic. A page's own origin only
counts when its host is one of the gateway's own (`allowed_hosts`, else an IP address, `localhost`
or the bind name): a DNS-rebinding page (`Host` and `Origin` both `evil.example`) is another site.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ...core.exchange import Exchange
from ...core.problems import Problem
from ...edge.hardening import OwnPages, rebinding_proof
from ...edge.observe import request_id_for
from ...forwarder.websockets import first_done, refuse
from ..admin import AdminAccess
from ..events import EventBus, Frame, Subscription

log = logging.getLogger("gw.live")

PATH = "/_gw/ws"
Hello = Callable[[], Awaitable[dict[str, Any]]]  # the first frame's content
OriginCheck = Callable[[str], bool]
HostCheck = Callable[[str], bool]  # is this host name one of the gateway's own


class LiveEvents:
    """ASGI handler for WebSocket scopes at `/_gw/ws`."""

    def __init__(self, events: EventBus, access: AdminAccess, hello: Hello,
                 origin_allowed: OriginCheck | None = None, heartbeat: float = 15.0, queue_size: int = 1000,
                 own_host: HostCheck | None = None) -> None:
        self.events = events
        self.access = access
        self.hello = hello
        self.origin_allowed = origin_allowed
        self.own_host = own_host or rebinding_proof
        self.heartbeat = heartbeat
        self.queue_size = queue_size
        self.open = 0  # connected listeners (for the operator surface's own metrics)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        exchange = Exchange(scope, receive)
        exchange.request_id = request_id_for(exchange)
        try:
            self._check_origin(exchange)
            await self.access.check(exchange)
        except Problem as problem:
            await refuse(scope, send, problem, exchange.request_id)
            return
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        subscription = self.events.subscribe(self.queue_size)  # before the hello: nothing falls between
        self.open += 1
        try:
            await send({"type": "websocket.accept", "headers": [(b"x-request-id", exchange.request_id.encode())]})
            await _send_json(send, {"type": "hello", "ts": time.time(), **await self.hello()})
            await first_done(self._pump(subscription, send), _until_disconnect(receive))
        except OSError:
            pass  # the client went away mid-send
        finally:
            self.open -= 1
            subscription.close()
            log.info("live events closed", extra={"fields": {"request_id": exchange.request_id,
                                                             "dropped": subscription.dropped}})

    def _check_origin(self, exchange: Exchange) -> None:
        """A browser page may only listen when it is served by this gateway or from an allowed CORS origin."""
        origin = exchange.headers.get("origin")
        if not origin:
            return  # not a browser: scripts and CLIs send none
        if OwnPages(self.own_host, self.origin_allowed).allows(origin, exchange.headers.get("host", "")):
            return
        raise Problem(403, detail=f"a page from {origin} may not read the gateway's live events (a host name of "
                                  "the gateway's own belongs in allowed_hosts)", slug="origin-refused")

    async def _pump(self, subscription: Subscription, send: Any) -> None:
        """Events out as they come; a heartbeat when idle; a `dropped` note when this client fell behind."""
        reported = 0
        while True:
            event = await subscription.next(self.heartbeat)
            if subscription.dropped > reported:
                await _send_json(send, {"type": "dropped", "count": subscription.dropped - reported})
                reported = subscription.dropped
            await _send_json(send, event if event is not None else {"type": "heartbeat", "ts": time.time()})


async def _until_disconnect(receive: Any) -> None:
    """Read (and ignore) what the client sends, so its close is noticed at once."""
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return


async def _send_json(send: Any, event: Frame) -> None:
    await send({"type": "websocket.send", "text": json.dumps(event, default=str, separators=(",", ":"))})
