"""Forward one exchange to an upstream and hand back its answer, streamed.

Only configured upstreams are ever contacted: the target is always `instance URL + the path
below the service's base path`, the client's Host header and absolute-form URLs are never used,
and dot segments are refused, so the gateway cannot be turned into an open proxy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote

from yarl import URL

from ..auth.upstream import rewrite
from ..core.events import Channel, UpstreamAnswered, UpstreamFailed
from ..core.exchange import Exchange, Response
from ..core.problems import Problem
from ..runtime.shared_state import SharedState
from ..settings.config import ServiceConfig, mount_prefix
from . import client
from .connection_pool import HttpClient, Origin
from .health_checks import HealthChecks
from .http1 import HOP_BY_HOP, Answer, connection_tokens
from .instances import Instance
from .retry import RETRYABLE_STATUSES, RetryPolicy, may_retry
from .shared_circuits import SharedCircuits
from .upstream_errors import ConnectFailed, Disconnected, UnsafeRequest, UpstreamError
from .upstreams import UpstreamPool, new_session

if TYPE_CHECKING:
    import aiohttp

    from ..auth.upstream import UpstreamIdentity

CHUNK = 64 * 1024


class Forwarder:
    """Sends exchanges to upstreams with timeouts, retries and streaming; one client for all (forwarder/http1.py,
    pooled by forwarder/connection_pool.py; aiohttp's session only for WebSocket pass-through).

    Per service it keeps the instance pool (load balancing, a circuit breaker per instance) and,
    for the app's lifetime, the active health checks and, with a shared store, the circuit sync.
    How every attempt went, every circuit move and health change, is published on `events`.
    `identity` decides what the upstream sees as Authorization (gateway/auth/upstream.py).
    """

    def __init__(self, services: dict[str, ServiceConfig], state: SharedState | None = None,
                 events: Channel | None = None, identity: UpstreamIdentity | None = None) -> None:
        self.settings = services
        self.events = events = events if events is not None else Channel()
        self.upstream_identity = identity
        self.pools = {name: UpstreamPool.for_service(s, events) for name, s in services.items()}
        self.policies = {name: RetryPolicy(s.retries, s.backoff, s.backoff_max) for name, s in services.items()}
        self.http = HttpClient()
        # each instance's connection pool, made now (an https one's TLS context loads the CAs: never on a request)
        self._origins: dict[Instance, Origin] = {i: self.http.origin(i.url) for p in self.pools.values() for i in p.instances}
        self._session: aiohttp.ClientSession | None = None  # WebSocket pass-through's (forwarder/websockets.py)
        # aiohttp is imported at start only where a service passes WebSockets to an upstream (forwarder/client.py):
        # requests go over gw's own client, so a live service without `websockets` never loads it
        if passes_websockets(services, self.pools):
            client.load()  # now, before serving (and before `--workers N` forks): no WebSocket pays for the import
        self.health = HealthChecks(self.pools, {n: s.health_check for n, s in services.items()}, self.http, events)
        breakers = [i.breaker for pool in self.pools.values() for i in pool.instances]
        self.circuits = SharedCircuits(state, breakers, events) if state is not None and state.kind != "memory" else None
        self.hops = {name: ServiceHop(s, self.pools[name], self.policies[name], identity) for name, s in services.items()}

    async def start(self) -> None:
        self.health.start()
        if self.circuits is not None:
            self.circuits.start()

    async def close(self) -> None:
        await self.health.stop()
        if self.circuits is not None:
            await self.circuits.stop()
        self.http.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """aiohttp's client, for WebSocket pass-through only: made on first use."""
        if self._session is None:
            self._session = new_session()
        return self._session

    def instances(self, service: str) -> list[Instance]:
        """A service's upstream instances (none for a service it does not know), for the operator's read model."""
        pool = self.pools.get(service)
        return list(pool.instances) if pool is not None else []

    async def forward(self, exchange: Exchange) -> Response:
        service, operation = exchange.service, exchange.operation
        assert service is not None and operation is not None
        hop = self.hops[service.name]
        pool = hop.pool
        if not pool.instances:
            raise Problem(502, detail=f"service {service.name} is in {exchange.mode} mode but has no upstream configured",
                          title="No upstream configured", slug="no-upstream")
        method = exchange.method
        suffix = request_target(exchange, hop.prefix)
        body = await exchange.body()
        headers = forward_headers(exchange, hop.identity)
        attempts = hop.attempts(method, operation.idempotent or operation.key in hop.settings.idempotent)
        failure: Problem | None = None
        tried: tuple[Instance, ...] = ()  # a retry goes elsewhere while another instance is left
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(hop.policy.delay(attempt))
                exchange.notes["retries"] = attempt
            upstream = pool.pick(tried)
            if upstream is None:
                raise failure or pool.unavailable()
            target = upstream.path + suffix if suffix.startswith("/") else target_url(upstream, suffix).raw_path_qs
            try:
                response = await self._try(upstream, method, target, headers, body, hop)
            except UnsafeRequest:  # a header gw adds itself (an upstream_auth token with a line break): never sent
                raise Problem(502, detail=f"{service.name} upstream request not sent: CR, LF or NUL in its target or "
                              "headers", title="Unsafe upstream request", slug="unsafe-upstream-request") from None
            except TimeoutError:
                failure = Problem(504, detail=f"{service.name} upstream did not answer within {hop.settings.timeout:g}s",
                                  title="Upstream timed out", slug="upstream-timeout")
                tried = (*tried, upstream)
                continue
            except UpstreamError as exc:
                failure = Problem(502, detail=f"{service.name} upstream could not be reached: {_reason(exc)}",
                                  title="Upstream unreachable", slug="upstream-unreachable")
                tried = (*tried, upstream)
                continue
            if response.status in RETRYABLE_STATUSES and attempt + 1 < attempts:
                response.release()
                upstream.in_flight -= 1
                failure = Problem(502, detail=f"{service.name} upstream answered {response.status}",
                                  title="Upstream failed", slug=f"upstream-{response.status}")
                tried = (*tried, upstream)
                continue
            exchange.notes["upstream"] = upstream.text
            try:
                return await _answer(response, upstream)
            except (UpstreamError, TimeoutError):
                upstream.breaker.failed(probe=False)
                if UpstreamFailed in self.events.listened:
                    self.events.publish(UpstreamFailed(service.name, upstream.text, None, "incomplete"))
                raise broke_off(service.name) from None
        assert failure is not None
        raise failure

    async def _try(self, upstream: Instance, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
                   hop: ServiceHop) -> Answer:
        """One attempt on one instance; its circuit learns how it went. The instance counts the
        request as in flight until `_answer` is done with the response (or it is released)."""
        breaker = upstream.breaker
        probe = breaker.acquire()
        upstream.in_flight += 1
        started = time.perf_counter()
        origin = self._origins.get(upstream)
        if origin is None:
            origin = self._origins[upstream] = self.http.origin(upstream.url)
        settings = hop.settings
        if upstream.authorization is not None:  # credentials in the instance's URL win over the client's
            headers = rewrite(headers, upstream.authorization)
        try:  # `timeout` bounds every wait on the upstream (for its answer, and between two reads of a streamed
            # body), as nginx's proxy_read_timeout does; one timer per request, not two
            response = await self.http.request(origin, method, target, headers, body, settings.timeout,
                                               settings.connect_timeout)
        except (UnsafeRequest, asyncio.CancelledError):  # nothing sent, or the client went away: no verdict on it
            upstream.in_flight -= 1
            breaker.abandoned(probe)
            raise
        except (TimeoutError, UpstreamError) as exc:
            upstream.in_flight -= 1
            breaker.failed(probe)
            if UpstreamFailed in self.events.listened:
                self.events.publish(UpstreamFailed(hop.name, upstream.text, time.perf_counter() - started,
                                                   failure_kind(exc)))
            raise
        if response.status >= 500:
            breaker.failed(probe)
        else:
            breaker.succeeded(probe)
        if UpstreamAnswered in self.events.listened:
            self.events.publish(UpstreamAnswered(hop.name, upstream.text, time.perf_counter() - started,
                                                 response.status))
        return response


class ServiceHop:
    """What forwarding to one service needs, worked out once at start rather than on every request: its pool,
    retry policy, mount prefix, and the upstream identity when it changes anything."""

    __slots__ = ("identity", "name", "policy", "pool", "prefix", "settings")

    def __init__(self, settings: ServiceConfig, pool: UpstreamPool, policy: RetryPolicy,
                 identity: UpstreamIdentity | None) -> None:
        self.name = settings.name
        self.settings = settings
        self.pool = pool
        self.policy = policy
        self.prefix = mount_prefix(settings.base_path)
        self.identity = identity if identity is not None and identity.rewrites(settings.name) else None

    def attempts(self, method: str, marked_idempotent: bool) -> int:
        """1, plus the policy's retries for a request that is safe to send twice."""
        retries = self.policy.retries
        return 1 + retries if retries and may_retry(method, marked_idempotent) else 1


def passes_websockets(services: dict[str, ServiceConfig], pools: dict[str, UpstreamPool]) -> bool:
    """Whether some service passes WebSockets through to an upstream (in any mode: a service's mode can be switched
    to live while serving): only then is aiohttp, their client, loaded at start."""
    return any(settings.websockets and pools[name].instances for name, settings in services.items())


def broke_off(service: str) -> Problem:
    """The 502 for an upstream answer that ended before its end: never passed on, or recorded, as whole."""
    return Problem(502, detail=f"{service} upstream broke off its answer", title="Upstream answer incomplete",
                   slug="upstream-incomplete")


def request_target(exchange: Exchange, prefix: str) -> str:
    """The path and query below the service's mount prefix (`mount_prefix`), exactly as the client encoded them."""
    scope = exchange.scope
    raw = scope.get("raw_path") or exchange.path.encode()
    path = raw.decode("latin-1").split("?", 1)[0]
    if prefix and not path.startswith(prefix):
        path = exchange.path  # the server decoded something odd; fall back to the routed path
    path = path[len(prefix):] or "/"
    if "%" in path or "." in path or "\\" in path or "\x00" in path:  # otherwise no segment can be unsafe
        for segment in unquote(path).split("/"):
            if segment in (".", "..") or "\\" in segment or "\x00" in segment:
                raise Problem(400, detail="paths with dot segments, backslashes or NUL are not forwarded",
                              title="Unsafe path", slug="unsafe-path")
    query = scope.get("query_string")
    return f"{path}?{query.decode('latin-1')}" if query else path


def target_url(upstream: Instance, suffix: str) -> URL:
    """The upstream URL for `suffix`; refuses anything that would leave the upstream's origin (a suffix that
    starts with `/` cannot: it only ever lengthens the path)."""
    url = URL(upstream.base + suffix, encoded=True)
    if not suffix.startswith("/") and url.origin() != upstream.origin:
        raise Problem(400, detail="the request would leave the configured upstream", title="Unsafe path",
                      slug="unsafe-path")
    return url


# Never passed on as the client sent them: hop-by-hop headers, and what the gateway sets itself.
# Expect: gw has the whole body and sends it with the head, so an upstream's 100 Continue (or 417) has no use.
_NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                               "x-request-id", "expect"}


def forward_headers(exchange: Exchange, identity: UpstreamIdentity | None = None) -> list[tuple[str, str]]:
    """Client headers minus hop-by-hop ones, plus X-Forwarded-* and the request id (one pass over the raw list)."""
    headers: list[tuple[str, str]] = []
    forwarded: list[str] = []
    host = ""
    named: set[str] = set()  # what a Connection header names as hop-by-hop too
    for raw_name, raw_value in exchange.scope["headers"]:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")  # ASGI: lower-case names
        if name not in _NOT_FORWARDED:
            headers.append((name, value))
        elif name == "x-forwarded-for":
            forwarded.append(value)  # one list (RFC 9110 5.3)
        elif name == "host":
            host = value
        elif name == "connection":
            named |= connection_tokens(value)
    if named:
        headers = [(name, value) for name, value in headers if name not in named]
    forwarded_for = ", ".join(forwarded)
    client = exchange.peer_ip  # the hop we saw; a trusted proxy's chain already names the client
    chain = f"{forwarded_for}, {client}" if forwarded_for and client else (forwarded_for or client)
    if chain:
        headers.append(("x-forwarded-for", chain))
    headers.append(("x-forwarded-proto", exchange.scope.get("scheme", "http")))
    if host:
        headers.append(("x-forwarded-host", host))
    if exchange.request_id:
        headers.append(("x-request-id", exchange.request_id))
    return identity.apply(exchange, headers) if identity is not None else headers


async def _answer(upstream: Answer, instance: Instance) -> Response:
    """The upstream's answer: small bodies read whole (one write), large or unsized ones streamed; its headers as
    the client gets them (hop-by-hop ones left out as the answer's head was read: Answer.passed)."""
    headers = upstream.passed
    length = upstream.length
    if upstream.head_only or (length is not None and length <= CHUNK):
        try:
            body = b"" if upstream.head_only else await upstream.read()
        finally:
            upstream.release()
            instance.in_flight -= 1
        return Response(upstream.status, headers, body)
    return Response(upstream.status, headers, upstream.chunks(), on_close=_closer(upstream, instance))


def _closer(upstream: Answer, instance: Instance) -> Callable[[], None]:
    """Releases the connection and ends the instance's in-flight count, once, however often called."""
    done = False

    def close() -> None:
        nonlocal done
        upstream.release()
        if not done:
            done = True
            instance.in_flight -= 1

    return close


def failure_kind(error: BaseException) -> str:
    """One word per way an attempt fails without an answer: a bounded `kind` (the metrics' label)."""
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, ConnectFailed):
        return "connect"
    if isinstance(error, Disconnected):
        return "disconnected"
    return "other"


def _reason(exc: UpstreamError) -> str:
    if isinstance(exc, ConnectFailed):
        return "connection refused" if isinstance(exc.os_error, ConnectionRefusedError) else "cannot connect"
    if isinstance(exc, Disconnected):
        return "connection closed before an answer"
    return type(exc).__name__
