"""Forward one exchange to an upstream and hand back its answer, streamed.

Only configured upstreams are ever contacted: the target is always `instance URL + the path
below the service's base path`, the client's Host header and absolute-form URLs are never used,
and dot segments are refused, so the gateway cannot be turned into an open proxy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote

import aiohttp
from yarl import URL

from ..exchange import Exchange, Response
from ..problems import Problem
from ..settings.config import ServiceConfig, mount_prefix
from ..shared_state import SharedState
from .health_checks import HealthChecks
from .retry import RETRYABLE_STATUSES, RetryPolicy, may_retry
from .shared_circuits import SharedCircuits
from .upstreams import Upstream, UpstreamPool, new_session

if TYPE_CHECKING:
    from ..auth.upstream import UpstreamIdentity
    from ..metrics import GatewayMetrics

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "proxy-connection",
})
CHUNK = 64 * 1024


class Forwarder:
    """Sends exchanges to upstreams with timeouts, retries and streaming; one client for all.

    Per service it keeps the instance pool (load balancing, a circuit breaker per instance) and,
    for the app's lifetime, the active health checks and, with a shared store, the circuit sync.
    """

    upstream_identity: UpstreamIdentity | None = None  # what the upstream sees as Authorization (gateway/auth/upstream.py)
    observer: GatewayMetrics | None = None  # told how every attempt went (gateway/metrics.py), when metrics are on

    def __init__(self, services: dict[str, ServiceConfig], state: SharedState | None = None) -> None:
        self.settings = services
        self.pools = {name: UpstreamPool.for_service(s) for name, s in services.items()}
        self.policies = {name: RetryPolicy(s.retries, s.backoff, s.backoff_max) for name, s in services.items()}
        self._timeouts = {name: aiohttp.ClientTimeout(total=None, sock_connect=s.connect_timeout, sock_read=s.timeout)
                          for name, s in services.items()}
        self._session: aiohttp.ClientSession | None = None
        self.health = HealthChecks(self.pools, {n: s.health_check for n, s in services.items()}, lambda: self.session)
        breakers = [i.breaker for pool in self.pools.values() for i in pool.instances]
        self.circuits = SharedCircuits(state, breakers) if state is not None and state.kind != "memory" else None

    async def start(self) -> None:
        if self._session is None:
            self._session = new_session()
        self.health.start()
        if self.circuits is not None:
            self.circuits.start()

    async def close(self) -> None:
        await self.health.stop()
        if self.circuits is not None:
            await self.circuits.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = new_session()
        return self._session

    async def forward(self, exchange: Exchange) -> Response:
        service, operation = exchange.service, exchange.operation
        assert service is not None and operation is not None
        settings = self.settings[service.name]
        pool = self.pools[service.name]
        if not pool.instances:
            raise Problem(502, detail=f"service {service.name} is in {exchange.mode} mode but has no upstream configured",
                          title="No upstream configured", slug="no-upstream")
        suffix = request_target(exchange, service.base_path)
        body = await exchange.body()
        headers = forward_headers(exchange, self.upstream_identity)
        policy = self.policies[service.name]
        retryable = may_retry(exchange.method, operation.idempotent or operation.key in settings.idempotent)
        attempts = 1 + (policy.retries if retryable else 0)
        failure: Problem | None = None
        tried: tuple[Upstream, ...] = ()  # a retry goes elsewhere while another instance is left
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(policy.delay(attempt))
                exchange.notes["retries"] = attempt
            upstream = pool.pick(tried)
            if upstream is None:
                raise failure or pool.unavailable()
            url = target_url(upstream, suffix)
            try:
                response = await self._try(upstream, exchange.method, url, headers, body, settings)
            except TimeoutError:
                failure = Problem(504, detail=f"{service.name} upstream did not answer within {settings.timeout:g}s",
                                  title="Upstream timed out", slug="upstream-timeout")
                tried = (*tried, upstream)
                continue
            except aiohttp.ClientError as exc:
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
                return await _answer(response, exchange.method == "HEAD", upstream)
            except (aiohttp.ClientError, TimeoutError) as exc:
                upstream.breaker.failed(probe=False)
                if self.observer is not None:
                    self.observer.upstream_broke_off(service.name, upstream.text, exc)
                raise broke_off(service.name) from None
        assert failure is not None
        raise failure

    async def _try(self, upstream: Upstream, method: str, url: URL, headers: list[tuple[str, str]], body: bytes,
                   settings: ServiceConfig) -> aiohttp.ClientResponse:
        """One attempt on one instance; its circuit learns how it went. The instance counts the
        request as in flight until `_answer` is done with the response (or it is released)."""
        breaker = upstream.breaker
        probe = breaker.acquire()
        upstream.in_flight += 1
        started = time.perf_counter()
        try:
            response = await self._send(method, url, headers, body, settings)
        except (TimeoutError, aiohttp.ClientError) as exc:
            upstream.in_flight -= 1
            breaker.failed(probe)
            self._observe(settings, upstream, started, None, exc)
            raise
        except asyncio.CancelledError:
            upstream.in_flight -= 1
            breaker.abandoned(probe)
            raise
        if response.status >= 500:
            breaker.failed(probe)
        else:
            breaker.succeeded(probe)
        self._observe(settings, upstream, started, response.status, None)
        return response

    def _observe(self, settings: ServiceConfig, upstream: Upstream, started: float, status: int | None,
                 error: BaseException | None) -> None:
        """Tell the metrics (when on) how one attempt went: how long it took, and how it failed."""
        if self.observer is not None:
            self.observer.upstream_attempt(settings.name, upstream.text, time.perf_counter() - started, status, error)

    async def _send(self, method: str, url: URL, headers: list[tuple[str, str]], body: bytes,
                    settings: ServiceConfig) -> aiohttp.ClientResponse:
        # `timeout` bounds every wait on the upstream (for its answer, and between two reads of a
        # streamed body), as nginx's proxy_read_timeout does; one timer per request, not two.
        timeout = self._timeouts[settings.name]
        return await self.session.request(method, url, headers=headers, data=body or None,
                                          allow_redirects=False, timeout=timeout)


def broke_off(service: str) -> Problem:
    """The 502 for an upstream answer that ended before its end: never passed on, or recorded, as whole."""
    return Problem(502, detail=f"{service} upstream broke off its answer", title="Upstream answer incomplete",
                   slug="upstream-incomplete")


def request_target(exchange: Exchange, base_path: str) -> str:
    """The path and query below the service's base path, exactly as the client encoded them."""
    raw = exchange.scope.get("raw_path") or exchange.path.encode()
    path = raw.decode("latin-1").split("?", 1)[0]
    base = mount_prefix(base_path)
    if base and not path.startswith(base):
        path = exchange.path  # the server decoded something odd; fall back to the routed path
    path = path[len(base):] or "/"
    for segment in unquote(path).split("/"):
        if segment in (".", "..") or "\\" in segment or "\x00" in segment:
            raise Problem(400, detail="paths with dot segments, backslashes or NUL are not forwarded",
                          title="Unsafe path", slug="unsafe-path")
    query = exchange.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def target_url(upstream: Upstream, suffix: str) -> URL:
    """The upstream URL for `suffix`; refuses anything that would leave the upstream's origin (a suffix that
    starts with `/` cannot: it only ever lengthens the path)."""
    url = URL(upstream.base + suffix, encoded=True)
    if not suffix.startswith("/") and url.origin() != upstream.origin:
        raise Problem(400, detail="the request would leave the configured upstream", title="Unsafe path",
                      slug="unsafe-path")
    return url


# Never passed on as the client sent them: hop-by-hop headers, and what the gateway sets itself.
_NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                               "x-request-id"}


def forward_headers(exchange: Exchange, identity: UpstreamIdentity | None = None) -> list[tuple[str, str]]:
    """Client headers minus hop-by-hop ones, plus X-Forwarded-* and the request id."""
    raw = exchange.scope["headers"]
    drop = _NOT_FORWARDED
    for name, value in raw:
        if name == b"connection":
            drop = drop | {token.strip().lower() for token in value.decode("latin-1").split(",")}
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]  # ASGI: lower-case names
    forwarded_for = ", ".join(value for name, value in headers if name == "x-forwarded-for")  # one list (RFC 9110 5.3)
    host = dict(headers).get("host", "")
    headers = [(name, value) for name, value in headers if name not in drop]
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


async def _answer(upstream: aiohttp.ClientResponse, head_only: bool, instance: Upstream) -> Response:
    """The upstream's answer: small bodies read whole (one write), large or unsized ones streamed."""
    connection = upstream.headers.get("Connection")
    drop = HOP_BY_HOP | {t.strip().lower() for t in connection.split(",")} if connection else HOP_BY_HOP
    headers = [(k, v) for k, v in upstream.headers.items() if k.lower() not in drop]
    length = upstream.content_length
    if head_only or (length is not None and length <= CHUNK):
        try:
            body = b"" if head_only else await upstream.read()
        finally:
            upstream.release()
            instance.in_flight -= 1
        return Response(upstream.status, headers, body)
    return Response(upstream.status, headers, _chunks(upstream), on_close=_closer(upstream, instance))


def _closer(upstream: aiohttp.ClientResponse, instance: Upstream) -> Callable[[], None]:
    """Releases the connection and ends the instance's in-flight count, once, however often called."""
    done = False

    def close() -> None:
        nonlocal done
        upstream.release()
        if not done:
            done = True
            instance.in_flight -= 1

    return close


async def _chunks(upstream: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    async for chunk in upstream.content.iter_chunked(CHUNK):
        yield chunk


def _reason(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connection refused" if isinstance(exc.os_error, ConnectionRefusedError) else "cannot connect"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection closed before an answer"
    return type(exc).__name__
