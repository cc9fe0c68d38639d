"""One keep-alive HTTP/1.1 connection to an upstream, and the answer read from it as it comes (httptools parses).

Why gw's own client rather than aiohttp's: measured on this box (32 concurrent GETs to nginx, the client's CPU per
request), aiohttp's ClientSession costs ~170-210 µs, this client ~50-60 µs, a bare asyncio.Protocol with httptools'
parser ~15 µs; the live hop spent a third of its time inside aiohttp. The pool of these connections per origin is
forwarder/connection_pool.py.

A request is written whole (head and body in one write). The connection reads its answer: one parser per connection
(llhttp starts on the next answer where the last one ended), made anew after an answer to HEAD, whose declared length
has no body behind it (so it never makes the next answer's head look like a body); its callbacks fill in the Answer
the forwarder reads. One timer per connection bounds every wait on the upstream: for the head, then between two reads
of the body (nginx's proxy_read_timeout). A body the consumer does not keep up with pauses reading, so a huge answer
is never held whole.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import AsyncIterator
from itertools import chain
from typing import TYPE_CHECKING, cast

import httptools

from .upstream_errors import BrokeOff, Disconnected, InvalidAnswer, UnsafeRequest

if TYPE_CHECKING:
    from .connection_pool import Origin

MAX_HEAD = 64 * 1024  # bytes of an answer's head (status line and headers) read at most: beyond, a 502
HIGH_WATER = 256 * 1024  # body bytes held for a consumer that lags before reading pauses (it resumes once all are read)
BODY_LENGTH_REQUIRED = frozenset({"POST", "PUT", "PATCH"})  # sent `Content-Length: 0` without a body, as aiohttp did

# Fields for this hop only (RFC 9110 7.6.1), never passed on: the answer's (Answer.passed) nor the request's (proxy.py)
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "proxy-connection",
})
# The answer's fields its reader acts on, by lower-case name: its length, its framing, the upstream's keep-alive, and
# the hop-by-hop ones. Most names have none of their lengths: only the others are lowered and looked up.
_LENGTH, _CODING, _KEEP_ALIVE, _CONNECTION, _HOP = range(5)
_NOTED = {name.encode(): _HOP for name in HOP_BY_HOP} | {
    b"content-length": _LENGTH, b"transfer-encoding": _CODING, b"keep-alive": _KEEP_ALIVE, b"connection": _CONNECTION}
_NOTED_SIZES = frozenset(map(len, _NOTED))


def encode_request(method: str, target: str, host: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """The request's head and body as written. Refuses CR, LF and NUL in the target, a header name or value:
    counted over the whole head at once (each line ends in exactly one CRLF), not searched field by field."""
    text = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"
    breaks = len(headers) + 3
    if headers:
        text += "\r\n".join(map(": ".join, headers)) + "\r\n"
    if body or method in BODY_LENGTH_REQUIRED:
        text += f"Content-Length: {len(body)}\r\n"
        breaks += 1
    text += "\r\n"
    if text.count("\n") != breaks or text.count("\r") != breaks or "\x00" in text:
        raise UnsafeRequest("CR, LF or NUL in the request's target or headers")
    try:
        head = text.encode("latin-1")
    except UnicodeEncodeError:  # a value gw set itself beyond latin-1 (a configured header): sent as UTF-8
        head = text.encode("utf-8")
    return head + body if body else head


class Connection(asyncio.Protocol):
    """A connection to one origin: idle in its pool, or carrying one request and reading its answer (the parser's
    callbacks below fill the Answer in)."""

    __slots__ = ("answer", "closed", "deadline", "expires", "idle", "idle_since", "loop", "origin", "parser", "timer",
                 "transport")

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: Origin) -> None:
        self.loop = loop
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.answer: Answer | None = None
        self.parser: httptools.HttpResponseParser | None = None  # made on first use, and anew after an answer to HEAD
        self.closed = False
        self.idle = False  # in the pool's idle list
        self.idle_since = 0.0
        self.expires = 0.0  # when the upstream's own keep-alive timeout (its `Keep-Alive` header) ends; 0: not given
        self.timer: asyncio.TimerHandle | None = None  # the read timeout's one timer (`arm`), due at `deadline`
        self.deadline = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of asyncio's
        sock = self.transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a small request goes out now, not in 40 ms

    def data_received(self, data: bytes) -> None:
        answer = self.answer
        if answer is None:  # bytes while idle, asked for by no request: the connection cannot be trusted
            self.close()
            return
        if answer.complete:  # bytes past the answer's end: the connection cannot carry another request
            answer.keep_alive = False
            return
        answer.received = True
        if not answer.status:
            answer.head_wire += len(data)
        try:
            self.parser.feed_data(data)  # type: ignore[union-attr]  # made by `send`
        except httptools.HttpParserUpgrade:
            answer.fail(InvalidAnswer("the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            if answer.complete:
                answer.keep_alive = False  # garbage or a second answer after a whole one: none of it is read
            elif isinstance(exc.__context__, InvalidAnswer):  # refused by a callback below
                answer.fail(exc.__context__)
            else:
                answer.fail(InvalidAnswer(f"not an HTTP answer: {exc}"))
        else:
            if not answer.status and answer.head_wire > MAX_HEAD and answer.error is None:
                answer.fail(InvalidAnswer(f"an answer head over {MAX_HEAD // 1024} KiB"))
        if not answer.complete and answer.error is None:  # still waited for: the timeout counts from this read
            answer.last = self.loop.time()

    def resume_writing(self) -> None:
        answer = self.answer
        if answer is not None:  # a large request body has (nearly) all gone out: the wait for the answer starts now
            answer.last = self.loop.time()

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost says what it meant

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        answer = self.answer
        if answer is not None:
            answer.lost(exc)

    def send(self, data: bytes, timeout: float, head_only: bool) -> Answer:
        """Write a request; its answer is read from here on."""
        now = self.loop.time()
        answer = self.answer = Answer(self, timeout, head_only, now)
        if self.closed:  # lost between its pick and this write: as if the upstream had closed it unanswered
            answer.lost()
            return answer
        if self.parser is None:
            self.parser = httptools.HttpResponseParser(self)
        assert self.transport is not None
        self.transport.write(data)
        self.arm(now + timeout)
        return answer

    # -- httptools' callbacks, filling in the answer being read (raising InvalidAnswer refuses it) --------------------

    def on_message_begin(self) -> None:
        answer = self.answer
        if answer is not None and answer.complete:  # a second answer begun in the read that ended the first: its bytes
            answer.keep_alive = False  # stay in this connection's parser, so the connection never carries another request

    def on_header(self, name: bytes, value: bytes) -> None:
        answer = self.answer
        assert answer is not None
        if not answer.status:
            answer.raw.append((name, value))
            return
        answer.head_size += len(name) + len(value) + 4  # a trailer (or a second answer's head): not kept, but counted
        if answer.head_size > MAX_HEAD:
            raise InvalidAnswer(f"an answer head and trailers over {MAX_HEAD // 1024} KiB")

    def on_headers_complete(self) -> None:
        answer = self.answer
        assert answer is not None
        if answer.status:  # a second answer in the same read (response splitting): the connection is done, none of it read
            raise InvalidAnswer("bytes past the answer's end")
        parser = self.parser
        assert parser is not None
        status = parser.get_status_code()
        raw, answer.raw = answer.raw, []
        answer.head_size += sum(map(len, chain.from_iterable(raw))) + 4 * len(raw)
        if status < 200:
            answer.informational = True
            return
        if answer.head_size > MAX_HEAD:
            answer.head_wire = MAX_HEAD + 1  # failed once the parser returns (data_received)
            return
        headers, passed = answer.headers, answer.passed
        length: int | None = None
        coding: str | None = None
        connection = ""
        for name, value in raw:  # one pass: decoded, sorted into passed on or hop-by-hop, the framing read
            pair = (name.decode("latin-1"), value.decode("latin-1"))
            headers.append(pair)
            kind = _NOTED.get(name.lower()) if len(name) in _NOTED_SIZES else None  # a cheap first test on the size
            if kind is None:
                passed.append(pair)
            elif kind == _LENGTH:
                length = int(pair[1])  # the parser has checked it is one number
                passed.append(pair)
            elif kind == _CODING:
                coding = pair[1] if coding is None else f"{coding}, {pair[1]}"
            elif kind == _KEEP_ALIVE:
                answer.keep_for = _keep_alive_timeout(pair[1])
            elif kind == _CONNECTION:
                connection = pair[1]
        if connection:  # what the upstream's Connection header names is hop-by-hop too
            named = connection_tokens(connection) - HOP_BY_HOP
            if named:
                answer.passed = [pair for pair in passed if pair[0].lower() not in named]
        chunked = coding is not None
        if chunked and coding != "chunked" and not _only_chunked(coding):
            raise InvalidAnswer("a transfer coding other than chunked alone")
        answer.length = length
        answer.status = status
        if answer.head_only:  # whatever length it declares, an answer to HEAD has no body
            answer.complete = True
            answer.keep_alive = parser.should_keep_alive()
            self.parser = None  # this one waits for the declared body: the next answer gets a parser of its own
        else:
            answer.until_close = length is None and not chunked and status not in (204, 304)
        if answer.waiter is not None:
            answer.wake()

    def on_body(self, body: bytes) -> None:
        answer = self.answer
        assert answer is not None
        if answer.complete:  # past the end of an answer to HEAD: the connection cannot carry another request
            answer.keep_alive = False
            return
        answer.body.append(body)
        answer.buffered += len(body)
        if answer.buffered > HIGH_WATER and not answer.paused:
            answer.paused = True
            assert self.transport is not None
            self.transport.pause_reading()
        if answer.waiter is not None:
            answer.wake()

    def on_message_complete(self) -> None:
        answer = self.answer
        assert answer is not None
        if answer.informational:
            answer.informational = False
            return
        if answer.complete:  # an answer to HEAD, whose head was its end (its parser already let go of)
            return
        parser = self.parser
        assert parser is not None
        answer.complete = True
        answer.keep_alive = parser.should_keep_alive()
        if answer.waiter is not None:
            answer.wake()

    # -- the read timeout -------------------------------------------------------------------------------------------

    def arm(self, due: float) -> None:
        """The read timeout's timer fires by `due` at the latest. One timer per connection, left running when an
        answer ends and re-armed from the current answer's last read when it fires: requests one after another on
        a kept connection schedule and cancel none (only a shorter timeout than the one armed moves it)."""
        timer = self.timer
        if timer is not None:
            if self.deadline <= due:
                return
            timer.cancel()
        self.deadline = due
        self.timer = self.loop.call_at(due, self._check_time)

    def _check_time(self) -> None:
        self.timer = None
        answer = self.answer
        if answer is not None:
            due = answer.waited(self.loop.time())
            if due is not None:
                self.arm(due)

    # -- after the answer -----------------------------------------------------------------------------------------

    def finished(self, reusable: bool) -> None:
        """The answer is done with: back to the pool when it was read to its end and both sides keep alive."""
        answer, self.answer = self.answer, None
        if not reusable or self.closed:
            self.close()
            return
        if answer is not None:
            if answer.paused:
                assert self.transport is not None
                self.transport.resume_reading()  # an idle connection must see the upstream close it
            if answer.keep_for:  # not reused within a second of the upstream's idle timeout: its FIN may be on the way
                self.expires = self.loop.time() + answer.keep_for - 1.0
        self.origin.put(self)

    def close(self) -> None:
        if not self.closed:
            assert self.transport is not None
            self.transport.close()
            self._forget()

    def _forget(self) -> None:
        if not self.closed:
            self.closed = True
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self.origin.forget(self)


class Answer:
    """The answer to one request: its head first (`head()`), then its body as it arrives (`chunks()`, `read()`).

    Filled in by its connection as it reads (Connection's parser callbacks). `release()` hands the connection
    back, or closes it when the answer was not read to its end.
    """

    __slots__ = ("_connection", "_loop", "_released", "_timeout", "_unsent", "body", "buffered", "complete", "error",
                 "head_only", "head_size", "head_wire", "headers", "informational", "keep_alive", "keep_for", "last",
                 "length", "passed", "paused", "raw", "received", "status", "until_close", "waiter")

    def __init__(self, connection: Connection, timeout: float, head_only: bool, now: float) -> None:
        self._loop = connection.loop
        self._connection = connection
        self._released = False
        self._unsent = 0  # the request's bytes not yet sent when the timer last looked
        self._timeout = timeout
        self.head_only = head_only
        self.last = now  # when the upstream was last heard from (or the request sent): the timeout counts from it
        self.status = 0  # 0 until the final answer's head is in
        self.headers: list[tuple[str, str]] = []  # every field, as the upstream spelled it
        self.passed: list[tuple[str, str]] = []  # those passed on: hop-by-hop ones and what Connection names left out
        self.length: int | None = None
        self.received = False  # any byte of the answer arrived (a stale connection's request is sent again only if not)
        self.complete = False
        self.keep_alive = False
        self.keep_for = 0.0  # the upstream's `Keep-Alive: timeout=N`, when it says
        self.paused = False
        self.error: BaseException | None = None
        # as the connection reads it
        self.raw: list[tuple[bytes, bytes]] = []  # the head's fields as parsed, until it is whole
        self.head_wire = 0  # bytes read while the head was not yet whole
        self.head_size = 0  # bytes of the header fields parsed (informational answers' and trailers' too)
        self.informational = False  # inside a 1xx answer (100 Continue, 103 Early Hints): the final one follows
        self.until_close = False  # no length, not chunked: the body ends when the upstream closes
        self.body: deque[bytes] = deque()
        self.buffered = 0
        self.waiter: asyncio.Future[None] | None = None

    # -- read by the forwarder ------------------------------------------------------------------------------------

    async def head(self) -> None:
        """Wait for the final answer's status and headers; raises how the attempt failed."""
        while not self.status:
            if self.error is not None:
                raise self.error
            waiter = self.waiter = self._loop.create_future()
            await waiter

    async def read(self) -> bytes:
        """The whole body (for small answers: a streamed one is read with `chunks`)."""
        if self.complete and self.error is None:  # the usual small answer: it came in with its head
            body = self.body
            return body.popleft() if len(body) == 1 else b"".join(body)
        return b"".join([chunk async for chunk in self.chunks()])

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises BrokeOff, InvalidAnswer or TimeoutError when it does not come whole."""
        body = self.body
        while True:
            if body:
                chunk = body.popleft() if len(body) == 1 else b"".join(body)
                body.clear()
                self.buffered = 0
                if self.paused:
                    self._resume()
                yield chunk
            elif self.complete:
                return
            elif self.error is not None:
                raise self.error
            else:
                waiter = self.waiter = self._loop.create_future()
                await waiter

    def release(self) -> None:
        """Done with the answer, however far it was read."""
        if not self._released:
            self._released = True
            self._connection.finished(self.complete and self.keep_alive and self.error is None)

    # -- told by the connection ---------------------------------------------------------------------------------

    def lost(self, exc: Exception | None = None) -> None:
        """The connection closed under this answer (`exc`: reset or failed rather than closed cleanly)."""
        if self.complete or self.error is not None or self._released:
            return
        if not self.status:
            self.fail(Disconnected("the upstream closed the connection before an answer"))
        elif self.until_close and exc is None:  # a clean close is the body's end; a reset breaks it off
            self.complete = True
            self.wake()
        else:
            self.fail(BrokeOff("the upstream closed the connection in the middle of its answer"))

    def waited(self, now: float) -> float | None:
        """Asked by the connection's timer: when the wait on the upstream ends (None: nothing waits on it now, a
        paused answer waits on its consumer and re-arms when it resumes); the answer fails once that is past."""
        if self.complete or self.error is not None or self._released or self.paused:
            return None
        transport = self._connection.transport
        unsent = transport.get_write_buffer_size() if transport is not None and not self.received else 0
        if unsent and unsent != self._unsent:  # a large request body still going out, and moving: the upstream reads
            self._unsent, self.last = unsent, now
        due = self.last + self._timeout
        if now < due:
            return due
        self.fail(TimeoutError(f"no answer within {self._timeout:g}s"))
        return None

    def wake(self) -> None:
        """Whoever waits for more of the answer (its head, a piece of its body) goes on."""
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def fail(self, error: BaseException) -> None:
        self.error = error
        self._connection.close()
        self.wake()

    def _resume(self) -> None:
        self.paused = False
        self.last = self._loop.time()  # the wait on the upstream starts again now
        connection = self._connection
        transport = connection.transport
        if transport is not None and not connection.closed:
            transport.resume_reading()
            if not self.complete and self.error is None:
                connection.arm(self.last + self._timeout)


def _only_chunked(coding: str) -> bool:
    """Whether chunked is the one transfer coding; any other is refused: gw undoes chunked only, so another coding
    would reach the client undone (the header is hop-by-hop), and without chunked last the body ends only with the
    connection (RFC 9112 6.3)."""
    return coding.strip().lower() == "chunked"


def connection_tokens(value: str) -> set[str]:
    """What a Connection header lists, lower case: header names that are hop-by-hop for this hop only (RFC 9110 7.6.1)."""
    return {token.strip().lower() for token in value.split(",")}


def _keep_alive_timeout(value: str) -> float:
    """The seconds of `Keep-Alive: timeout=5, max=100` (how long the upstream keeps an idle connection); 0 unread."""
    for part in value.split(","):
        name, _, seconds = part.partition("=")
        if name.strip().lower() == "timeout":
            try:
                return max(float(seconds.strip()), 0.001)
            except ValueError:
                return 0.0
    return 0.0
