"""Keep-alive connections per upstream origin, and the client that sends a request over them (forwarder/http1.py).

Per origin (scheme, host, port): idle connections reused newest first, at most `limit` open (a request beyond
waits for one), an idle one closed after KEEP_ALIVE_IDLE seconds or as soon as the upstream closes it. A request
that finds its pooled connection closed under it (the upstream's FIN raced our write) is sent once more on a fresh
connection when no byte of an answer came back and sending it twice is safe (an idempotent method, or a request
carrying an Idempotency-Key), as Go's net/http does: a POST, even without a body, is never sent twice.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections import deque

from yarl import URL

from .http1 import Answer, Connection, encode_request
from .retry import may_retry
from .upstream_errors import ConnectFailed, Disconnected

# Seconds an idle connection is kept for the next request: below the common upstream idle timeouts (Node's and
# uvicorn's 5 s; aiohttp kept 15 s, gw 60 s before), so gw stops using a connection before the upstream closes it
# and seldom writes into the upstream's FIN (that race costs a POST its answer: 502). A shorter `Keep-Alive:
# timeout=N` from the upstream is honoured too (a connection is not reused within 1 s of N).
KEEP_ALIVE_IDLE = 4.0
LIMIT_PER_ORIGIN = 256  # connections open at once to one origin (aiohttp's limit_per_host before)
IDEMPOTENCY_KEYS = frozenset({"idempotency-key", "x-idempotency-key"})  # a request its client made safe to repeat


class Origin:
    """One upstream origin's connections: the idle ones, how many are open, the requests waiting for one."""

    def __init__(self, url: URL, limit: int, tls: ssl.SSLContext | None) -> None:
        self.host = url.raw_host or ""
        self.named = not _is_address(self.host)  # a name is resolved per new connection, each address tried in turn
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.tls = tls
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if url.is_default_port() else f"{host}:{self.port}"  # never the client's Host
        self.limit = limit
        self.idle: list[Connection] = []
        self.open = 0  # connections open or opening, idle or carrying a request
        self.waiters: deque[asyncio.Future[Connection | None]] = deque()
        self.closed = False
        self._sweep: asyncio.TimerHandle | None = None

    def take_idle(self) -> Connection | None:
        """The newest idle connection, if one is open (the usual case: no wait) and not past the upstream's own
        keep-alive timeout."""
        idle = self.idle
        while idle:
            connection = idle.pop()
            connection.idle = False
            if connection.closed:
                continue
            if connection.expires and connection.expires <= connection.loop.time():
                connection.close()
                continue
            return connection
        return None

    async def acquire(self, connect_timeout: float, reuse: bool = True) -> tuple[Connection, bool]:
        """A connection for one request, and whether it was used before (a pooled one may have gone stale); an idle
        one only if `reuse`. Waiting for one while `limit` are open counts toward `connect_timeout` (TimeoutError),
        as aiohttp's connect timeout did: busy connections that never free up cannot hold a request for ever."""
        deadline = None
        while True:
            connection = self.take_idle() if reuse else None
            if connection is not None:
                return connection, True
            if self.open < self.limit:
                if deadline is None:
                    return await self.connect(connect_timeout), False
                async with asyncio.timeout_at(deadline):
                    return await self.connect(connect_timeout), False
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + connect_timeout
            async with asyncio.timeout_at(deadline):
                handed = await self._wait()
            if handed is not None and not handed.closed:
                return handed, True

    async def connect(self, connect_timeout: float) -> Connection:
        """A new connection, within `connect_timeout` seconds (TimeoutError), or ConnectFailed."""
        loop = asyncio.get_running_loop()
        self.open += 1
        try:
            async with asyncio.timeout(connect_timeout):
                return await self._open(loop)
        except BaseException as exc:
            self._freed()
            if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):  # refused, unreachable, unresolvable,
                raise ConnectFailed(exc) from exc  # a certificate that does not verify
            raise

    async def _open(self, loop: asyncio.AbstractEventLoop) -> Connection:
        """Connect to the origin's first address that takes it; the last refusal otherwise (not one error merging
        every address's, as asyncio's own loop over them gives: "connection refused" stays "connection refused")."""
        if self.named:
            found = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            addresses = [(info[4][0], info[4][1]) for info in found]
        else:
            addresses = [(self.host, self.port)]
        error: OSError | None = None
        for host, port in addresses:
            try:
                _, connection = await loop.create_connection(
                    lambda: Connection(loop, self), host, port, ssl=self.tls,
                    server_hostname=self.host if self.tls is not None else None)
                return connection
            except OSError as exc:
                if isinstance(exc, TimeoutError):
                    raise
                error = exc
        raise error or OSError(f"{self.host} resolves to no address")

    def put(self, connection: Connection) -> None:
        """A connection whose answer was read to its end: to a waiting request, else idle."""
        if self.closed:
            connection.close()
            return
        if self.waiters and self._hand(connection):
            return
        loop = connection.loop
        connection.idle, connection.idle_since = True, loop.time()
        self.idle.append(connection)
        if self._sweep is None:
            self._sweep = loop.call_at(connection.idle_since + KEEP_ALIVE_IDLE, self._close_expired)

    def forget(self, connection: Connection) -> None:
        """A connection closed (by either side): it no longer counts, and a waiting request may open one."""
        if connection.idle:
            connection.idle = False
            self.idle.remove(connection)
        self._freed()

    def close(self) -> None:
        self.closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for connection in list(self.idle):
            connection.close()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(Disconnected("the gateway's client closed"))

    async def _wait(self) -> Connection | None:
        """Wait for a connection handed over, or for room to open one (None)."""
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                handed = waiter.result()
                if handed is not None:
                    self.put(handed)  # handed over as this request went away: the next one takes it
                else:
                    self._pass_room()
            else:
                self.waiters.remove(waiter)
            raise

    def _freed(self) -> None:
        self.open -= 1
        self._pass_room()

    def _pass_room(self) -> None:
        """Room to open a connection: the first request still waiting takes it."""
        self._hand(None)

    def _hand(self, connection: Connection | None) -> bool:
        """Give the first request still waiting `connection` (None: room to open one); whether one was waiting."""
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return True
        return False

    def _close_expired(self) -> None:
        self._sweep = None
        idle = self.idle
        if not idle:
            return
        expired = idle[0].loop.time() - KEEP_ALIVE_IDLE
        while idle and idle[0].idle_since <= expired:  # oldest first: the list is in the order they went idle
            idle[0].close()
        if idle:
            self._sweep = idle[0].loop.call_at(idle[0].idle_since + KEEP_ALIVE_IDLE, self._close_expired)


class HttpClient:
    """The gateway's HTTP/1.1 client for upstreams: one pool per origin, TLS verified against the system's CAs."""

    def __init__(self, limit_per_origin: int = LIMIT_PER_ORIGIN, tls: ssl.SSLContext | None = None) -> None:
        self.limit = limit_per_origin
        self.closed = False
        self._origins: dict[tuple[str, str, int | None], Origin] = {}
        self._tls = tls  # for https origins; by default made on first use from the system's CAs

    def origin(self, url: URL) -> Origin:
        """The pool for `url`'s origin (made on first use)."""
        key = (url.scheme, url.raw_host or "", url.port)
        origin = self._origins.get(key)
        if origin is None:
            if self.closed:  # a late caller (a health probe still running at shutdown): no new pool left open
                raise Disconnected("the gateway's client closed")
            if url.scheme == "https" and self._tls is None:
                self._tls = ssl.create_default_context()  # verifies the certificate and the host name
            origin = self._origins[key] = Origin(url, self.limit, self._tls if url.scheme == "https" else None)
        return origin

    async def request(self, origin: Origin, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
                      timeout: float, connect_timeout: float) -> Answer:
        """Send a request and wait for its answer's head; the body is read from the answer, which is released.

        Raises ConnectFailed, Disconnected, InvalidAnswer, TimeoutError (no connection within `connect_timeout`,
        no head within `timeout`), UnsafeRequest (nothing sent)."""
        data = encode_request(method, target, origin.host_header, headers, body)
        head_only = method == "HEAD"
        connection = origin.take_idle()
        reused = connection is not None
        if connection is None:
            connection, reused = await origin.acquire(connect_timeout)
        answer = None
        try:
            answer = connection.send(data, timeout, head_only)
            await answer.head()
            return answer
        except Disconnected:
            if not reused or answer is None or answer.received or not may_retry(method, has_idempotency_key(headers)):
                raise
        except BaseException:  # failed (closed already), or the request went away (cancelled): never pooled
            connection.close()
            raise
        connection, _ = await origin.acquire(connect_timeout, reuse=False)  # the pooled one had gone stale: once more
        try:
            answer = connection.send(data, timeout, head_only)
            await answer.head()
        except BaseException:
            connection.close()
            raise
        return answer

    def close(self) -> None:
        self.closed = True
        for origin in self._origins.values():
            origin.close()
        self._origins.clear()


def has_idempotency_key(headers: list[tuple[str, str]]) -> bool:
    """Whether the request's client made it safe to send twice (an idempotent method is `may_retry`'s to judge)."""
    return any(name.lower() in IDEMPOTENCY_KEYS for name, _ in headers)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
