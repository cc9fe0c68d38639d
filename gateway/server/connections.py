"""What one client connection may hold: deadlines for the request head and body, a size cap on the head,
and a cap on open connections answered with 503 rather than a reset.

uvicorn's HttpToolsProtocol (chosen whenever httptools is installed, as `uvicorn[standard]` does) only
closes idle keep-alive connections. A connection that never finishes its head, or dribbles a body a byte
at a time, stays open forever, and a few hundred of them exhaust the process's file descriptors. A huge
head is worse: httptools joins a header's pieces with `bytes +=` (uvicorn the URL's too), quadratic in the
number of reads, so one 64 MB header cost ~15 s of CPU. This subclass, given to uvicorn as its `http=`
option, counts the head's raw bytes before the parser sees them and refuses past the caps (parsing stays
linear, memory bounded), and keeps two deadlines on the event loop's timers.

Each request's ASGI scope also carries the connection itself as the extension `gw.connection`
(`RawConnection`): chaos faults (gateway/chaos/faults.py) cut or garble it below HTTP, which ASGI
cannot say.

Beyond the parser callbacks and asyncio's Protocol methods that it overrides, it relies on uvicorn in four
places, all in `_UvicornCycle` below: the server's set of open connections (`self.connections`), the
current request's cycle (`self.cycle`: response started / complete, waiting for `100 Continue`),
telling the app the client is gone (`cycle.disconnected`, `cycle.message_event`, as uvicorn's own
`connection_lost` does) and the scope of the request being read (`self.scope`, for the extension).
tests/hostile/test_connections.py::test_uvicorn_internals_this_module_relies_on fails loudly if a release
moves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import struct
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..core.exchange import CONNECTION_EXTENSION
from ..core.problems import PROBLEM_JSON, Problem
from ..settings.policy_settings import ServerSettings
from .whole_writes import WholeWrites

log = logging.getLogger("gw.connections")

LINGER = 2.0  # after a refusal, how long the client's remaining bytes are read and dropped before closing
HEAD_SLACK = 64  # the method, the version and the line ends around the target and the header lines


def uvicorn_limits(settings: ServerSettings) -> dict[str, Any]:
    """uvicorn options applying `settings`. The protocol factory pickles (workers are spawned with it)."""
    return {"http": functools.partial(GuardedHttpProtocol, settings=settings),
            "timeout_keep_alive": settings.keep_alive,
            # SIGTERM (Kubernetes, docker stop): stop accepting, let in-flight requests finish, bounded
            "timeout_graceful_shutdown": settings.drain_timeout}


def make_room_for_connections(max_connections: int) -> None:
    """Raise this process's soft limit on open files toward what `max_connections` needs (a proxied request holds
    an upstream socket too; workers inherit the limit). The common default of 1,024 is below the default cap, and
    past it accept() fails for everyone, not just the newest client. Warn when the hard limit forbids enough."""
    try:
        import resource
    except ImportError:  # not on Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * max_connections + 256
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft < max_connections + 64:
        log.warning("open-file limit %d is too low for server.max_connections %d: raise `ulimit -n` or lower the "
                    "setting, or new connections fail before the cap answers 503", soft, max_connections)


class _UvicornCycle:
    """The few uvicorn internals the guard reads or sets, in one place (see the module docstring)."""

    @staticmethod
    def open_connections(protocol: HttpToolsProtocol) -> int:
        return len(protocol.connections)

    @staticmethod
    def state(protocol: HttpToolsProtocol) -> str:
        """`idle` (no request being answered), `waiting` (the app has not started its answer) or `sending`."""
        cycle = protocol.cycle
        if cycle is None or cycle.response_complete:
            return "idle"
        return "sending" if cycle.response_started else "waiting"

    @staticmethod
    def awaiting_continue(protocol: HttpToolsProtocol) -> bool:
        """The client asked `Expect: 100-continue` and waits for the app to read before it sends the body."""
        cycle = protocol.cycle
        return cycle is not None and bool(cycle.waiting_for_100_continue)

    @staticmethod
    def client_gone(protocol: HttpToolsProtocol) -> None:
        """The app's `receive()` now returns `http.disconnect` and its `send()` writes nothing, as after a
        disconnect: the gateway answers the client itself."""
        cycle = protocol.cycle
        if cycle is not None:
            cycle.disconnected = True
            cycle.message_event.set()

    @staticmethod
    def scope(protocol: HttpToolsProtocol) -> dict[str, Any]:
        """The ASGI scope of the request whose head is being read (made by uvicorn at its first byte)."""
        return protocol.scope


class RawConnection:
    """One client connection below HTTP, for faults on purpose: reset it, close it unanswered, or write
    bytes no HTTP server would and close. Afterwards the protocol reads nothing more from it."""

    def __init__(self, transport: asyncio.Transport, on_cut: Any) -> None:
        self.transport = transport
        self._on_cut = on_cut  # the protocol stops reading and answering

    def reset(self) -> None:
        """A TCP RST: linger 0, then close (the kernel drops what is queued and resets the connection)."""
        self._on_cut()
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def close(self, data: bytes = b"") -> None:
        """Write `data` (maybe nothing), then close: the client reads it and then the end of the connection."""
        self._on_cut()
        if data:
            self.transport.write(data)
        self.transport.close()


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head/body deadlines, head size caps and a connection cap."""

    def __init__(self, *args: Any, settings: ServerSettings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self._clock: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # set once connected
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._head_since = 0.0  # when the head being read began (its deadline counts from there)
        self._body_open = False  # a head is complete and its body is not: the body's deadline applies
        self._reading_head = True  # between one message's end (or the connection's start) and the next head's end
        self._head_begun = False  # a byte of the next request has arrived
        self._head_bytes = 0
        self._url_bytes = 0
        self._body_since = self._body_last = 0.0
        self._body_bytes = 0
        self._over_capacity = False
        self._done = False  # answered by the guard (what the client still sends is dropped) or handed to a WebSocket

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._clock = asyncio.get_running_loop()
        super().connection_made(WholeWrites(transport, self._clock))  # type: ignore[arg-type]  # head+body: one write
        self._over_capacity = _UvicornCycle.open_connections(self) > self.settings.max_connections
        self._head_timer = self._clock.call_later(self.settings.header_timeout, self._head_timed_out)
        self._raw = RawConnection(transport, self._cut)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        self._feed(data)
        if self._head_begun or self._body_open:  # a head or body still unfinished (nearly every request arrives whole)
            self._arm_timers()

    def _feed(self, data: bytes) -> None:
        if not self._reading_head:
            super().data_received(data)
            return
        while data:  # the head is fed only as far as its caps allow, so no parser sees more
            room = self.settings.max_header_size + HEAD_SLACK + self._url_bytes - self._head_bytes
            if room <= 0:
                self._refuse(431, "Request Header Fields Too Large", "request-headers-too-large",
                             f"the request's header lines exceed {self.settings.max_header_size} bytes "
                             "(server.max_header_size)")
                return
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            super().data_received(piece)
            if self._done or self.transport.is_closing():
                return
            if not self._reading_head:
                if data:
                    self._feed(data)
                return

    # httptools parser callbacks

    def on_message_begin(self) -> None:
        if self._done:
            return
        self._head_begun = True
        self._head_since = self._clock.time()  # its timer is armed only if the head is still unfinished (_arm_timers)
        super().on_message_begin()
        _UvicornCycle.scope(self).setdefault("extensions", {})[CONNECTION_EXTENSION] = self._raw

    def on_url(self, url: bytes) -> None:
        if self._done:
            return
        self._url_bytes += len(url)
        if self._url_bytes > self.settings.max_request_line:
            self._refuse(414, "URI Too Long", "request-line-too-long",
                         f"the request target exceeds {self.settings.max_request_line} bytes (server.max_request_line)")
            return
        super().on_url(url)

    # on_header is uvicorn's own (no frame of ours per header line): once the guard has answered, the lines the parser
    # still reads land in the refused request's list, which no app ever sees

    def on_headers_complete(self) -> None:
        if self._done:
            return
        if self._head_timer is not None:
            self._cancel_head_timer()
        self._reading_head = self._head_begun = False
        if self._over_capacity and _UvicornCycle.open_connections(self) > self.settings.max_connections:
            self._refuse(503, "Service Unavailable", "too-many-connections",
                         f"the gateway holds its limit of {self.settings.max_connections} open connections "
                         "(server.max_connections); try again shortly", retry_after=1)
            return
        self._over_capacity = False
        self._body_since = self._body_last = self._clock.time()
        self._body_bytes = 0
        self._body_open = True  # its timer is armed only if the body is still unfinished (_arm_timers)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._done:
            return
        self._body_bytes += len(body)
        self._body_last = self._clock.time()
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._done:
            return
        if self._body_timer is not None:
            self._cancel_body_timer()
        self._body_open = False
        self._reading_head, self._head_bytes, self._url_bytes = True, 0, 0
        super().on_message_complete()

    # uvicorn's own answers and hand-overs

    def send_400_response(self, msg: str) -> None:
        if not self._done:  # after the guard's answer the parser may still trip on what follows: say nothing more
            super().send_400_response(msg)

    def handle_websocket_upgrade(self) -> None:
        if self._done:
            return
        self._cancel_timers()  # the transport now belongs to the WebSocket protocol
        self._done = True  # and this protocol reads nothing more
        if isinstance(self.transport, WholeWrites):  # the WebSocket protocol gets the socket's own transport
            self.transport.flush()
            self.transport = self.transport.real
        super().handle_websocket_upgrade()

    def _cut(self) -> None:
        """The connection is being cut on purpose (RawConnection): nothing more is read or answered."""
        self._done = True
        self._cancel_timers()

    # deadlines

    def _arm_timers(self) -> None:
        """After a read: a timer only for a head or body still unfinished. A request that arrives whole in one
        read (nearly every one) sets and cancels no timer; the deadlines count from the head's first byte and
        the head's end, as if armed then."""
        if self._done or self.transport.is_closing():
            return
        if self._reading_head and self._head_begun and self._head_timer is None:
            self._head_timer = self._clock.call_at(self._head_since + self.settings.header_timeout, self._head_timed_out)
        elif self._body_open and self._body_timer is None:
            self._body_timer = self._clock.call_at(self._body_deadline(), self._body_check)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._done or self.transport.is_closing():
            return
        if _UvicornCycle.state(self) != "idle":  # a pipelined head while an answer is under way: wait for it
            self._head_timer = self._clock.call_later(self.settings.header_timeout, self._head_timed_out)
            return
        if not self._head_begun:
            self.transport.close()  # never said a word: nothing to answer
            return
        self._refuse(408, "Request Timeout", "request-head-timeout",
                     f"the request head did not arrive within {self.settings.header_timeout:g}s (server.header_timeout)")

    def _body_deadline(self) -> float:
        """When the body is late: `body_timeout` after its last piece, or once its average rate, after a first
        `body_timeout` of grace, falls under `body_min_rate`."""
        settings = self.settings
        deadline = self._body_last + settings.body_timeout
        if settings.body_min_rate:
            deadline = min(deadline, self._body_since + settings.body_timeout + self._body_bytes / settings.body_min_rate)
        return deadline

    def _body_check(self) -> None:
        self._body_timer = None
        if self._done or self.transport.is_closing():
            return
        now = self._clock.time()
        if not self.transport.is_reading() or _UvicornCycle.awaiting_continue(self):  # the app holds it back, not the client
            self._body_since = self._body_last = now
            self._body_bytes = 0
        deadline = self._body_deadline()
        if now < deadline:
            self._body_timer = self._clock.call_later(deadline - now, self._body_check)
            return
        self._refuse(408, "Request Timeout", "request-body-timeout",
                     f"the request body stalled: no progress for {self.settings.body_timeout:g}s or slower than "
                     f"{self.settings.body_min_rate} bytes/s (server.body_timeout, server.body_min_rate)")

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_head_timer()
        self._cancel_body_timer()

    # the guard's answer

    def _refuse(self, status: int, title: str, slug: str, detail: str, retry_after: int | None = None) -> None:
        """Answer problem+json and close gently: the client's remaining bytes are read and dropped for a moment
        (closing on unread data would reset the connection and the client might never see the answer)."""
        self._done = True
        self._cancel_timers()
        peer = self.transport.get_extra_info("peername")
        client = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "")
        log.info("connection from %s refused: %s", client, detail,
                 extra={"fields": {"client": client, "status": status, "reason": slug}})
        state = _UvicornCycle.state(self)
        if state == "sending":  # an answer is half written: no room for another, only the cut
            self.transport.close()
            return
        if state == "waiting":
            _UvicornCycle.client_gone(self)
        self.transport.write(_answer(status, title, slug, detail, retry_after))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._clock.call_later(LINGER, self.transport.close)


def _answer(status: int, title: str, slug: str, detail: str, retry_after: int | None) -> bytes:
    body = Problem(status, detail=detail, title=title, slug=slug).body()
    headers = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"date: {formatdate(usegmt=True)}",
               f"content-type: {PROBLEM_JSON}", f"content-length: {len(body)}", "connection: close",
               "cache-control: no-store", "x-content-type-options: nosniff"]
    if retry_after is not None:
        headers.append(f"retry-after: {retry_after}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + body
