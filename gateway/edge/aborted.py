"""A request body its client never finished is never forwarded, recorded, or answered as if whole.

When a client leaves half-way through a body it declared (fewer bytes than its Content-Length, or a
chunked body without its last chunk), uvicorn's `receive` hands the app `http.disconnect`. Read
naively, the bytes that came so far look like a complete, shorter body: a 300 KB PUT the client
meant to be 1 MB. `BodyGuard` sits under every reader of the body (the whole app reads through it)
and turns such a disconnect into `ClientAborted`, wherever the body is read: the forwarder (which
reads the whole body before it contacts the upstream, so the upstream never sees a request), request
validation, stub matching. `finish_body` reads what nobody read before an answer counts as a
success (a stub answering a POST whose body it ignores). The app logs one line and counts it;
the steps that journal, count and record an exchange never see it finish.
"""

from __future__ import annotations

from typing import Any

from ..core.exchange import ASGIReceive, Exchange, Response

GUARD = "gw.body_guard"  # scope key: the request's BodyGuard


class ClientAborted(Exception):
    """The client disconnected before the end of the body it declared."""

    def __init__(self, received: int, declared: int | None) -> None:
        self.received = received
        self.declared = declared  # None: chunked
        expected = f"of {declared}" if declared is not None else "of a chunked body without its last chunk"
        super().__init__(f"client left after {received} bytes {expected}")


def declared_length(scope: dict[str, Any]) -> tuple[bool, int | None]:
    """Whether the request declares a body, and its Content-Length (None when chunked or absent)."""
    length: int | None = None
    chunked = False
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.strip().isdigit():
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return chunked or bool(length), length


class BodyGuard:
    """The ASGI `receive` of one request, raising ClientAborted at a disconnect before the body's end.

    A request that declares no body is complete from the start: its disconnect is just the client
    going away, as the streaming answer's watcher expects to see it."""

    def __init__(self, scope: dict[str, Any], receive: ASGIReceive, declared: tuple[bool, int | None] | None = None) -> None:
        """`declared`: `declared_length(scope)` when the caller has read it already."""
        self._receive = receive
        expected, self.declared = declared or declared_length(scope)
        self.complete = not expected
        self.received = 0

    async def __call__(self) -> dict[str, Any]:
        message = await self._receive()
        kind = message["type"]
        if kind == "http.request":
            self.received += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.complete = True
        elif kind == "http.disconnect" and not self.complete:
            raise ClientAborted(self.received, self.declared)
        return message


async def finish_body(exchange: Exchange, response: Response, guard: BodyGuard) -> None:
    """A successful answer to a request whose body nobody read (a stub ignoring a POST's body) waits for that
    body's end, so an upload cut short is never journaled or counted as answered. The rest goes through
    `exchange.receive`, so the body size limit still bounds it; it is not kept. The body limit step calls it
    on its way out (steps/body_limit.py): one frame for both ends of the body."""
    try:
        while not guard.complete and (await exchange.receive())["type"] == "http.request":
            pass
    except BaseException:
        await response.close()
        raise
