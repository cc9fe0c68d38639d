"""One request's ASGI conversation: the app's `receive()` and `send()` on gw's HTTP/1.1 protocol.

It keeps what uvicorn's own cycle promises an ASGI app (`http.request` with the body as it arrives, `100 Continue`
when the app first reads, `http.disconnect` once the client is gone or the answer is done, a plain 500 for an app
that never started its answer, the framing checks of content-length), with gw's costs in mind: the head is
encoded in one pass (answer_head.py) and leaves with the body written in the same step (whole_writes.py), and a `receive()`
waits on a future made only when it really has to wait.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .answer_head import UNTIL_CLOSE, Framing, encode_head
from .whole_writes import gather

if TYPE_CHECKING:
    from .connections import GuardedHttpProtocol

log = logging.getLogger("uvicorn.error")  # uvicorn's name for these lines: gw's log setup formats them

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
BODY_HIGH_WATER = 65536  # bytes of request body held for the app before reading from the client pauses
_SERVER_ERROR_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21"),
                         (b"connection", b"close")]


class RequestCycle:
    """The request being answered (or queued behind a pipelined one) and its answer's progress."""

    __slots__ = ("_pending", "_ready", "_waiter", "body", "complete", "conn", "disconnected", "framing", "head_request",
                 "more_body", "scope", "started", "transport", "waiting_for_100_continue")

    def __init__(self, conn: GuardedHttpProtocol, scope: dict[str, Any], keep_alive: bool, expect_continue: bool) -> None:
        self.conn = conn
        self.transport = conn.transport
        self.scope = scope
        self.head_request = scope["method"] == "HEAD"
        self.framing = Framing(keep_alive, scope["http_version"] != "1.0")
        self.waiting_for_100_continue = expect_continue
        self.disconnected = False
        self.body = b""  # request body arrived and not yet handed to the app
        self.more_body = True
        self._ready = False  # something for a receive(): body, its end, or the end of the conversation
        self._waiter: asyncio.Future[None] | None = None
        self.started = False
        self.complete = False
        self._pending = b""  # the head and what followed it within this step of the loop, written at the step's end

    # the protocol's side

    def arrived(self, body: bytes) -> None:
        """A piece of the request's body (held until the app reads; reading pauses past the high-water mark)."""
        self.body += body
        if len(self.body) > BODY_HIGH_WATER:
            self.conn.pause_reading()
        self.wake()

    def ended(self) -> None:
        self.more_body = False
        self.wake()

    def client_gone(self) -> None:
        """receive() now returns `http.disconnect` and send() writes nothing."""
        self.disconnected = True
        self.wake()

    def wake(self) -> None:
        self._ready = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ASGI

    async def run(self, app: Any) -> None:
        try:
            result = await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            log.error("Exception in ASGI application\n", exc_info=exc)
            if not self.started:
                await self._send_500()
            else:
                self.cut()
        else:
            if result is not None:
                log.error("ASGI callable should return None, but returned '%s'.", result)
                self.cut()
            elif not self.started and not self.disconnected:
                log.error("ASGI callable returned without starting response.")
                await self._send_500()
            elif not self.complete and not self.disconnected:
                log.error("ASGI callable returned without completing response.")
                self.cut()

    def cut(self) -> None:
        """Close after what was gathered: a half-sent answer ends where the app stopped."""
        self.flush()
        self.transport.close()

    async def receive(self) -> dict[str, Any]:
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(CONTINUE)
            self.waiting_for_100_continue = False
        if not self.disconnected and not self.complete:
            self.conn.resume_reading()
            if not self._ready:
                self._waiter = self.conn.loop.create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            self._ready = False
        if self.disconnected or self.complete:
            return {"type": "http.disconnect"}
        body, self.body = self.body, b""
        return {"type": "http.request", "body": body, "more_body": self.more_body}

    async def send(self, message: dict[str, Any]) -> None:
        conn = self.conn
        if conn.write_paused and not self.disconnected:
            await conn.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{kind}'.")
            self._start(message)
        elif not self.complete:
            if kind != "http.response.body":
                raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{kind}'.")
            self._body(message.get("body", b""), message.get("more_body", False))
        else:
            raise RuntimeError(f"Unexpected ASGI message '{kind}' sent, after response already completed.")

    def _start(self, message: dict[str, Any]) -> None:
        self.started = True
        self.waiting_for_100_continue = False
        self._pending = encode_head(message["status"], message.get("headers", ()), self.conn.default_lines(),
                                    self.head_request, self.framing)
        self.conn.loop.call_soon(self.flush)  # the end of this step: head and body leave together (whole_writes.py)

    def flush(self) -> None:
        """Write what this step of the loop gathered (the head, and the body if it came in the same step)."""
        pending = self._pending
        if pending:
            self._pending = b""
            if not self.disconnected and not self.transport.is_closing():
                self.transport.write(pending)

    def _body(self, body: bytes, more_body: bool) -> None:
        framing = self.framing
        if self.head_request:
            framing.length = 0
            data = b""
        elif framing.chunked:
            data = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
            if not more_body:
                data += b"0\r\n\r\n"
        elif framing.length == UNTIL_CLOSE:
            data = body
        else:
            if len(body) > framing.length:
                raise RuntimeError("Response content longer than Content-Length")
            framing.length -= len(body)
            data = body
        if self._pending:
            self._pending = gather(self._pending, data, self.transport)
        elif data:
            self.transport.write(data)
        if not more_body:
            if framing.length > 0:
                raise RuntimeError("Response content shorter than Content-Length")
            if len(self.conn.tasks) <= 1:  # the only request in flight: it leaves now, its bookkeeping after it
                self.flush()
            self.complete = True
            self.wake()
            if not framing.keep_alive:
                self.cut()
            self.conn.answered(self)

    async def _send_500(self) -> None:
        await self.send({"type": "http.response.start", "status": 500, "headers": _SERVER_ERROR_HEADERS})
        await self.send({"type": "http.response.body", "body": b"Internal Server Error", "more_body": False})
