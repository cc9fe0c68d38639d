"""gw's HTTP/1.1 connection, given to uvicorn as its `http=` protocol: what one client connection may hold
(deadlines for the request head and body, a size cap on the head, a cap on open connections answered with 503
rather than a reset) and the ASGI conversation of each request on it (gateway/server/request_cycle.py).

uvicorn keeps the sockets, the workers, the lifespan, graceful shutdown and WebSockets (an upgrade is handed to
its configured `ws_protocol_class`); the protocol is written on httptools' parser and asyncio's Protocol, and of
uvicorn reads only what it hands every `http=` protocol: its Config and the server state (open connections,
running tasks, default headers, the request count), pinned by tests/hostile/test_connections.py
(test_what_uvicorn_hands_every_http_protocol); its behaviours by tests/test_http_protocol.py.

uvicorn's own HttpToolsProtocol only closes idle keep-alive connections. A connection that never finishes its
head, or dribbles a body a byte at a time, would stay open forever, and a few hundred of them exhaust the process's
file descriptors. A huge head is worse: httptools joins a header's pieces with `bytes +=`, quadratic in the number
of reads, so one 64 MB header cost ~15 s of CPU. This protocol counts the head's raw bytes before the parser sees
them and refuses past the caps (parsing stays linear, memory bounded), and keeps two deadlines on the event
loop's timers. It also answers for less than uvicorn's: the answer head is encoded and checked in one pass
(answer_head.py), head and body leave in one write at the end of the loop's step (whole_writes.py), and
keep-alive is one timer per connection re-armed when it fires rather than one set and cancelled per answer.

Pipelined requests queue at most MAX_QUEUED deep (the rest of the client's bytes wait unparsed), each is answered
in order, and a later request's refusal waits behind the answers before it; trailers never reach the scope and
count against the head cap (tests/test_http_protocol_hardening.py). A client that takes none of its answer for
`server.send_timeout` is cut (send_deadline.py, tests/test_server_send_timeout.py).

Each request's ASGI scope also carries the connection itself as the extension `gw.connection`
(`RawConnection`): chaos faults (gateway/chaos/faults.py) cut or garble it below HTTP, which ASGI
cannot say.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import struct
import urllib.parse
from collections import deque
from typing import TYPE_CHECKING, Any

import httptools

from ..core.exchange import CONNECTION_EXTENSION
from ..core.problems import PROBLEM_JSON, Problem
from ..settings.policy_settings import ServerSettings
from .answer_head import STATUS_LINE, connection_tokens, encode_defaults
from .request_cycle import RequestCycle
from .send_deadline import SendDeadline

if TYPE_CHECKING:
    from uvicorn import Config

log = logging.getLogger("gw.connections")
log_server = logging.getLogger("uvicorn.error")  # uvicorn's name for a server's own warnings: gw's log setup formats them


def _not_the_denial_false_alarm(record: logging.LogRecord) -> bool:
    """uvicorn's websockets-sansio protocol logs this ERROR after every handshake the app refused with an HTTP answer
    (the `websocket.http.response` extension: gw's 401/403/404/409 problem+json), which it sent correctly: it never
    marks such a handshake complete (uvicorn PR #3138, open as of 0.54; its wsproto protocol does). Dropped, so a
    refused token does not page whoever alerts on ERROR lines. gw answers every handshake it is handed."""
    return record.msg != "ASGI callable returned without completing handshake."


log_server.addFilter(_not_the_denial_false_alarm)

LINGER = 2.0  # after a refusal, how long the client's remaining bytes are read and dropped before closing
HEAD_SLACK = 64  # the method, the version and the line ends around the target and the header lines
MAX_QUEUED = 16  # pipelined requests read ahead of the one being answered; past it the client's bytes wait unparsed
PIECE = 4096  # a read is parsed this much at a time while requests queue, so the queue stops near MAX_QUEUED


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


class GuardedHttpProtocol(asyncio.Protocol):
    """gw's HTTP/1.1 connection: httptools parses, one RequestCycle per request talks ASGI to the app, and the
    guard keeps head/body deadlines, head size caps and the connection cap."""

    def __init__(self, config: Config, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None, *, settings: ServerSettings) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app = config.loaded_app
        self.settings = settings
        self.server_state = server_state  # uvicorn's: open connections, running tasks, default headers, request count
        self.connections: set[Any] = server_state.connections
        self.tasks: set[asyncio.Task[None]] = server_state.tasks
        self.app_state = app_state
        self.loop: asyncio.AbstractEventLoop = _loop or asyncio.get_event_loop()
        self.ws_protocol_class = config.ws_protocol_class
        self.root_path: str = config.root_path
        self.keep_alive_timeout: float = config.timeout_keep_alive
        self._asgi = {"version": config.asgi_version, "spec_version": "2.3"}
        self.parser = self._new_parser()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set once connected
        self._raw: RawConnection = None  # type: ignore[assignment]
        self.server: tuple[str, int | None] | None = None
        self.client: tuple[str, int] | None = None
        self.scheme = "http"
        self.cycle: RequestCycle | None = None
        self.pipeline: deque[RequestCycle] = deque()  # requests read while an earlier one is answered
        self.scope: dict[str, Any] = None  # type: ignore[assignment]  # of the request whose head is being read
        self.headers: list[tuple[bytes, bytes]] = []
        self.url = b""
        self._expect_continue = False
        self._hosts = 0  # Host lines in the head being read (HTTP/1.1 needs exactly one)
        self._trailer_bytes = 0  # of the chunked body's trailers, counted against the head cap and then dropped
        self._chunk_open = False  # a chunk's size line was read and none of its data yet: maybe the last, trailers next
        self._trailer_fed = 0  # bytes read while so, over reads (a trailer line httptools holds until its end)
        self._held = b""  # bytes read past MAX_QUEUED pipelined requests, parsed once the queue has drained
        self._refusal = b""  # a later pipelined request's refusal, written once the answers before it are out
        self._defaults: tuple[Any, bytes] = (None, b"")  # uvicorn's default headers (the date) and their encoding
        self.read_paused = self.write_paused = False
        self._writable: asyncio.Future[None] | None = None
        self._send_deadline: SendDeadline | None = None  # made the first time writing pauses (server.send_timeout)
        self._eof = False  # the client shut its sending side and what it sent is being answered (server.half_close)
        self._idle_since = 0.0  # when the last answer completed (keep-alive counts from there)
        self._keep_alive_timer: asyncio.TimerHandle | None = None
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
        self.connections.add(self)
        self.transport = transport
        self.server = _local_address(transport)
        self.client = _peer_address(transport)
        self.scheme = "https" if transport.get_extra_info("sslcontext") else "http"
        self._over_capacity = len(self.connections) > self.settings.max_connections
        self._head_timer = self.loop.call_later(self.settings.header_timeout, self._head_timed_out)
        self._raw = RawConnection(transport, self._cut)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        self._cancel_timers()
        if self._keep_alive_timer is not None:
            self._keep_alive_timer.cancel()
            self._keep_alive_timer = None
        cycle = self.cycle
        if cycle is not None:
            if cycle.complete:
                cycle.wake()
            else:
                cycle.client_gone()
        self.resume_writing()
        if exc is None:
            self.transport.close()
        self.parser = None  # type: ignore[assignment]

    def eof_received(self) -> bool | None:
        """The client shut its sending side (FIN). `server.half_close: close` (the default): it has gone, the
        transport closes and the app hears so (as uvicorn and nginx have it). `answer`: the requests it sent whole
        are answered, then the connection closes; a request cut short is never answered, and with nothing whole
        before it (or on an idle connection) the connection closes at once."""
        if self.settings.half_close != "answer" or self._done:
            return None
        if (self._head_begun or self._body_open) and not self._drop_cut_short():
            return None
        if self._state() == "idle" and not self.pipeline and not self._held:
            return None
        self._eof = True
        newest = self.pipeline[-1] if self.pipeline else self.cycle
        if newest is not None and not self._held:  # the last request: its answer says `connection: close` and ends it
            newest.framing.keep_alive = False
        return True  # the write side stays open

    def _drop_cut_short(self) -> bool:
        """The request the client's FIN cut short is dropped, its deadline stopped, so only the whole ones before it
        are answered; False when it is the request under way (nothing whole to answer)."""
        if self._body_open:
            if not self.pipeline:
                return False
            self.pipeline.pop()  # queued behind the answers, never started
            self._cancel_body_timer()
            self._body_open = self._chunk_open = False
        else:
            self._cancel_head_timer()
            self._head_begun = False
        return True

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        if self._held or len(self.pipeline) >= MAX_QUEUED:  # the queue is full: these bytes wait, unparsed
            self._held += data
            self.pause_reading()
            return
        if len(data) > PIECE and self._reading_head:  # maybe many pipelined requests: parse a piece at a time
            for start in range(0, len(data), PIECE):
                self._feed(data[start:start + PIECE])
                if self._done or len(self.pipeline) >= MAX_QUEUED:
                    if not self._done:
                        self._held = data[start + PIECE:]
                        self.pause_reading()
                    break
        else:
            self._feed(data)
        if self._head_begun or self._body_open:  # a head or body still unfinished (nearly every request arrives whole)
            self._arm_timers()

    def pause_writing(self) -> None:
        """The transport's buffer is over its high-water mark: the app's next send() waits, and the client has
        `server.send_timeout` to take some of what waits (send_deadline.py)."""
        self.write_paused = True
        if self._send_deadline is None:
            self._send_deadline = SendDeadline(self.loop, self.transport, self.settings.send_timeout, self._send_timed_out)
        self._send_deadline.start()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self._send_deadline is not None:
            self._send_deadline.stop()
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    async def drain(self) -> None:
        if self._writable is None:
            self._writable = self.loop.create_future()
        await asyncio.shield(self._writable)

    def pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            if not self._eof:  # after the client's FIN there is nothing more to read
                self.transport.resume_reading()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: close when idle, else after the answer under way."""
        cycle = self.cycle
        if cycle is None:
            self.transport.close()
        elif cycle.complete:
            cycle.cut()
        else:
            cycle.framing.keep_alive = False

    def _feed(self, data: bytes) -> None:
        if not self._reading_head:
            rest = self._parse(data)
            if rest:  # an unsupported upgrade whose head came in an earlier read
                self._feed(rest)
            elif self._chunk_open and not self._done:
                self._trailer_fed += len(data)
                if self._trailer_fed > self.settings.max_header_size + HEAD_SLACK:
                    self._refuse_trailers()
            return
        while data:  # the head is fed only as far as its caps allow, so no parser sees more
            room = self.settings.max_header_size + HEAD_SLACK + self._url_bytes - self._head_bytes
            if room <= 0:
                self._refuse(431, "Request Header Fields Too Large", "request-headers-too-large",
                             f"the request's header lines exceed {self.settings.max_header_size} bytes "
                             "(server.max_header_size)", behind=self._answering())
                return
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            rest = self._parse(piece)
            if rest:  # an unsupported upgrade: what followed it is read as ordinary requests
                data = rest + data
                self._head_bytes = 0
            if self._done or self.transport.is_closing():
                return
            if not self._reading_head:
                if data:
                    self._feed(data)
                return

    def _new_parser(self) -> httptools.HttpRequestParser:
        parser = httptools.HttpRequestParser(self)
        with contextlib.suppress(AttributeError):  # httptools < 0.6.3: a pipelined request after `close` is refused
            parser.set_dangerous_leniencies(lenient_data_after_close=True)
        return parser

    def _parse(self, data: bytes) -> bytes:
        """Feed the parser; returns the bytes after an unsupported upgrade (h2c...), for the caller to go on with."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            log_server.warning("Invalid HTTP request received.")
            self._refuse_400("Invalid HTTP request received.", behind=self._reading_head and self._answering())
        except httptools.HttpParserUpgrade as upgrade:
            if not self._upgrading():
                log_server.warning("Unsupported upgrade request.")
                if any(name in (b"content-length", b"transfer-encoding") for name, _ in self.headers):
                    self._close_after(self.pipeline[-1] if self.pipeline else self.cycle)
                    return b""
                self.parser = self._new_parser()  # the request was answered as a plain one; the parser stopped at it
                self._reading_head, self._head_begun = True, False
                return data[upgrade.args[0]:] if upgrade.args else b""
            if self._answering():  # an earlier answer is still going out: it must not end up inside the WebSocket
                self._refuse(400, "Bad Request", "pipelined-upgrade",
                             "a WebSocket upgrade may not be pipelined behind a request being answered", behind=True)
            else:
                self._hand_to_websocket()
        return b""

    # httptools parser callbacks

    def on_message_begin(self) -> None:
        if self._done:
            return
        self._head_begun = True
        self._head_since = self.loop.time()  # its timer is armed only if the head is still unfinished (_arm_timers)
        self.url = b""
        self._expect_continue = False
        self._hosts = self._trailer_bytes = 0
        self.headers = []
        self.scope = {"type": "http", "asgi": self._asgi, "http_version": "1.1", "server": self.server,
                      "client": self.client, "scheme": self.scheme, "root_path": self.root_path, "headers": self.headers,
                      "state": self.app_state.copy(), "extensions": {CONNECTION_EXTENSION: self._raw}}

    def on_url(self, url: bytes) -> None:
        if self._done:
            return
        self._url_bytes += len(url)
        if self._url_bytes > self.settings.max_request_line:
            self._refuse(414, "URI Too Long", "request-line-too-long",
                         f"the request target exceeds {self.settings.max_request_line} bytes (server.max_request_line)",
                         behind=self._answering())
            return
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._reading_head:  # a chunked body's trailers: never in the scope (nothing checked them), capped
            self._trailer_bytes += len(name) + len(value) + 4
            if self._trailer_bytes > self.settings.max_header_size:
                self._refuse_trailers()
            return
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True
        elif name == b"host":
            self._hosts += 1
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._done:
            return
        if self._head_timer is not None:
            self._cancel_head_timer()
        self._reading_head = self._head_begun = False
        if self._over_capacity and len(self.connections) > self.settings.max_connections:
            self._refuse(503, "Service Unavailable", "too-many-connections",
                         f"the gateway holds its limit of {self.settings.max_connections} open connections "
                         "(server.max_connections); try again shortly", retry_after=1)
            return
        self._over_capacity = False
        self._body_since = self._body_last = self.loop.time()
        self._body_bytes = 0
        self._body_open = True  # its timer is armed only if the body is still unfinished (_arm_timers)
        parser, scope = self.parser, self.scope
        version = parser.get_http_version()
        scope["method"] = parser.get_method().decode("ascii")
        if version != "1.1":
            scope["http_version"] = version
        elif self._hosts != 1:  # RFC 9112 3.2: readers in front and behind could take different hosts
            self._refuse(400, "Bad Request", "bad-host", "an HTTP/1.1 request needs exactly one Host header (RFC 9112 3.2)",
                         behind=self._answering())
            return
        if parser.should_upgrade() and self._upgrading():
            return
        url = httptools.parse_url(self.url)
        raw_path = url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope["path"] = self.root_path + path
        scope["raw_path"] = self.root_path.encode("ascii") + raw_path if self.root_path else raw_path
        scope["query_string"] = url.query or b""
        cycle = RequestCycle(self, scope, version != "1.0" and parser.should_keep_alive(), self._expect_continue)
        current = self.cycle
        if current is None or current.complete:
            self.cycle = cycle
            self._start(cycle)
        else:  # pipelined: answered after the one under way; reading goes on once the queue has drained
            self.pause_reading()
            self.pipeline.append(cycle)

    def _refuse_trailers(self) -> None:
        self._refuse(431, "Request Header Fields Too Large", "request-headers-too-large",
                     f"the request's trailer lines exceed {self.settings.max_header_size} bytes (server.max_header_size)")

    def on_chunk_header(self) -> None:
        self._chunk_open = True
        self._trailer_fed = 0

    def on_body(self, body: bytes) -> None:
        self._chunk_open = False
        if self._done:
            return
        self._body_bytes += len(body)
        self._body_last = self.loop.time()
        cycle = self._reading()
        if cycle is not None:
            cycle.arrived(body)

    def on_message_complete(self) -> None:
        if self._done:
            return
        if self._body_timer is not None:
            self._cancel_body_timer()
        self._body_open = self._chunk_open = False
        self._reading_head, self._head_bytes, self._url_bytes, self._trailer_fed = True, 0, 0, 0
        cycle = self._reading()
        if cycle is not None:
            cycle.ended()

    def _reading(self) -> RequestCycle | None:
        """The cycle whose body the parser is reading (the newest), unless it is already answered or upgrading."""
        cycle = self.pipeline[-1] if self.pipeline else self.cycle
        if cycle is None or cycle.complete or (self.parser.should_upgrade() and self._upgrading()):
            return None
        return cycle

    # requests and answers

    def _start(self, cycle: RequestCycle) -> None:
        task = self.loop.create_task(cycle.run(self.app))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    def answered(self, cycle: RequestCycle) -> None:
        """The cycle's answer is complete: the next pipelined request starts, or the connection waits idle."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        if self.pipeline:
            self.cycle = self.pipeline.popleft()
            self._start(self.cycle)
            return
        if self._refusal:  # a later request's refusal waited for the answers before it
            self._write_refusal()
            return
        self.resume_reading()
        if self._held:
            held, self._held = self._held, b""
            self.data_received(held)
            if self._held or self.pipeline or self.transport.is_closing():
                return
        if self._eof:  # all the half-closed client sent is answered
            self.transport.close()
            return
        self._idle_since = self.loop.time()
        if self._keep_alive_timer is None:
            self._keep_alive_timer = self.loop.call_at(self._idle_since + self.keep_alive_timeout, self._keep_alive_check)

    def _keep_alive_check(self) -> None:
        """One timer per connection, re-armed only when it fires: an idle connection is closed `timeout_keep_alive`
        after its last answer, and a busy one is not touched (no timer set and cancelled per answer)."""
        self._keep_alive_timer = None
        if self.transport.is_closing() or self._done:
            return
        cycle = self.cycle
        if self._head_begun or self._body_open or (cycle is not None and not cycle.complete):
            return  # a request is under way: its answer re-arms the timer
        deadline = self._idle_since + self.keep_alive_timeout
        if self.loop.time() >= deadline:
            self.transport.close()
        else:
            self._keep_alive_timer = self.loop.call_at(deadline, self._keep_alive_check)

    def default_lines(self) -> bytes:
        """uvicorn's default headers (the `date`, refreshed each second by the server) as encoded lines."""
        defaults = self.server_state.default_headers
        if self._defaults[0] is not defaults:
            self._defaults = (defaults, encode_defaults(defaults))
        return self._defaults[1]

    def _flush_answer(self) -> None:
        """Before the protocol writes or closes by itself: the answer gathered in this step goes first."""
        if self.cycle is not None:
            self.cycle.flush()

    def _close_after(self, cycle: RequestCycle | None) -> None:
        """An upgrade request with a body: the parser leaves the body to the protocol upgraded to, so those bytes
        must never be read as requests (smuggling). Its answer goes out with `connection: close`; nothing more is read."""
        self._done = True
        self._cancel_timers()
        if cycle is None or cycle.complete:
            self.transport.close()
        else:
            cycle.framing.keep_alive = False

    def _answering(self) -> bool:
        """An earlier request is being answered or waits its turn: a refusal now must come after its answer."""
        return bool(self.pipeline) or self._state() != "idle"

    # WebSockets: handed to uvicorn's configured protocol

    def _upgrading(self) -> bool:
        """The request asks `Connection: upgrade` to `websocket` and a WebSocket protocol is configured."""
        if self.ws_protocol_class is None:
            return False
        connection: list[bytes] = []
        upgrade = None
        for name, value in self.headers:
            if name == b"connection":
                connection = connection_tokens(value)
            elif name == b"upgrade":
                upgrade = value.lower()
        return b"upgrade" in connection and upgrade == b"websocket"

    def _hand_to_websocket(self) -> None:
        if self._done:
            return
        self._cancel_timers()  # the transport now belongs to the WebSocket protocol
        if self._send_deadline is not None:
            self._send_deadline.stop()
        self._done = True  # and this protocol reads nothing more
        self._flush_answer()
        self.connections.discard(self)
        output = [self.scope["method"].encode(), b" ", self.url, b" HTTP/1.1\r\n"]
        for name, value in self.scope["headers"]:
            output += [name, b": ", value, b"\r\n"]
        output.append(b"\r\n")
        protocol = self.ws_protocol_class(config=self.config, server_state=self.server_state,  # type: ignore[call-arg]
                                          app_state=self.app_state)
        protocol.connection_made(self.transport)
        protocol.data_received(b"".join(output))
        self.transport.set_protocol(protocol)

    def _cut(self) -> None:
        """The connection is being cut on purpose (RawConnection): nothing more is read or answered."""
        self._done = True
        self._cancel_timers()

    def _state(self) -> str:
        """`idle` (no request being answered), `waiting` (the app has not started its answer) or `sending`."""
        cycle = self.cycle
        if cycle is None or cycle.complete:
            return "idle"
        return "sending" if cycle.started else "waiting"

    # deadlines

    def _arm_timers(self) -> None:
        """After a read: a timer only for a head or body still unfinished. A request that arrives whole in one
        read (nearly every one) sets and cancels no timer; the deadlines count from the head's first byte and
        the head's end, as if armed then."""
        if self._done or self.transport.is_closing():
            return
        if self._reading_head and self._head_begun and self._head_timer is None:
            self._head_timer = self.loop.call_at(self._head_since + self.settings.header_timeout, self._head_timed_out)
        elif self._body_open and self._body_timer is None:
            self._body_timer = self.loop.call_at(self._body_deadline(), self._body_check)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._done or self.transport.is_closing():
            return
        if self._state() != "idle":  # a pipelined head while an answer is under way: wait for it
            self._head_timer = self.loop.call_later(self.settings.header_timeout, self._head_timed_out)
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
        now = self.loop.time()
        held = not self.transport.is_reading() or (self.cycle is not None and self.cycle.waiting_for_100_continue)
        if held:  # the app holds it back, not the client
            self._body_since = self._body_last = now
            self._body_bytes = 0
        deadline = self._body_deadline()
        if now < deadline:
            self._body_timer = self.loop.call_later(deadline - now, self._body_check)
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

    def _refuse(self, status: int, title: str, slug: str, detail: str, retry_after: int | None = None, *,
                behind: bool = False) -> None:
        """Answer problem+json and close gently: the client's remaining bytes are read and dropped for a moment
        (closing on unread data would reset the connection and the client might never see the answer). `behind`:
        the refusal is for a later pipelined request, so it waits for the answers before it (nothing more is read)."""
        self._done = True
        self._cancel_timers()
        self._flush_answer()
        extra = b"cache-control: no-store\r\nx-content-type-options: nosniff\r\n"
        if retry_after is not None:
            extra += b"retry-after: %d\r\n" % retry_after
        answer = self._own_answer(status, PROBLEM_JSON.encode(), Problem(status, detail=detail, title=title, slug=slug).body(),
                                  extra)
        client = self._peer()
        log.info("connection from %s refused: %s", client, detail,
                 extra={"fields": {"client": client, "status": status, "reason": slug}})
        if behind:
            self._wait_turn(answer)
            return
        state = self._state()
        if state == "sending":  # an answer is half written: no room for another, only the cut
            self.transport.close()
            return
        if state == "waiting" and self.cycle is not None:  # the gateway answers the client itself
            self.cycle.client_gone()
        self.transport.write(answer)
        self._close_gently()

    def _send_timed_out(self) -> None:
        """The client took none of its answer for `send_timeout`: cut, and the app hears it has gone
        (connection_lost), so a stream stops and a live hop frees its upstream connection."""
        client = self._peer()
        log.info("connection from %s cut: it took none of its answer for %gs (server.send_timeout)", client,
                 self.settings.send_timeout, extra={"fields": {"client": client, "reason": "send-timeout"}})
        self._done = True
        self._cancel_timers()
        self.transport.abort()

    def _peer(self) -> str:
        """The client's address for a log line."""
        peer = self.transport.get_extra_info("peername")
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "")

    def _refuse_400(self, message: str, *, behind: bool) -> None:
        """A request the parser cannot read: a plain 400 (as uvicorn's), after the answers before it if `behind`."""
        if self._done:  # after the guard's answer the parser may still trip on what follows: say nothing more
            return
        self._flush_answer()
        answer = self._own_answer(400, b"text/plain; charset=utf-8", message.encode("ascii"), b"")
        if behind:
            self._done = True
            self._cancel_timers()
            self._wait_turn(answer)
            return
        self.transport.write(answer)
        self.transport.close()

    def _own_answer(self, status: int, content_type: bytes, body: bytes, extra: bytes) -> bytes:
        """The one builder of the protocol's own answers (refusals, 400s): they all close the connection."""
        return b"".join((STATUS_LINE[status], self.default_lines(), b"content-type: %s\r\n" % content_type,
                         b"content-length: %d\r\nconnection: close\r\n" % len(body), extra, b"\r\n", body))

    def _wait_turn(self, answer: bytes) -> None:
        """Hold a later request's refusal until the answers before it are out (answered() writes it)."""
        self._refusal = answer
        self._held = b""
        self.pause_reading()

    def _write_refusal(self) -> None:
        self._flush_answer()
        answer, self._refusal = self._refusal, b""
        self.transport.write(answer)
        self.resume_reading()  # what the client still sends is read and dropped until the close
        self._close_gently()

    def _close_gently(self) -> None:
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER, self.transport.close)



def _peer_address(transport: asyncio.Transport) -> tuple[str, int] | None:
    """The client's (host, port) for the scope, as uvicorn gives it (the socket first: uvloop's peername can lag)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            info = sock.getpeername()
        except OSError:
            return None
        return (str(info[0]), int(info[1])) if isinstance(info, tuple) else None
    info = transport.get_extra_info("peername")
    return (str(info[0]), int(info[1])) if isinstance(info, list | tuple) and len(info) == 2 else None


def _local_address(transport: asyncio.Transport) -> tuple[str, int | None] | None:
    """The server's (host, port) for the scope; a Unix socket's path with no port."""
    sock = transport.get_extra_info("socket")
    info = sock.getsockname() if sock is not None else transport.get_extra_info("sockname")
    if isinstance(info, list | tuple) and len(info) >= 2:
        return (str(info[0]), int(info[1]))
    return (info, None) if isinstance(info, str) else None
