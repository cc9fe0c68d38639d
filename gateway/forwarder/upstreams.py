"""The upstream instances of a service and the one pooled HTTP client that reaches them.

aiohttp's ClientSession is the client: measured here (STACK-NOTES.md), its pool held up under
concurrency where httpx's async pool collapsed.
"""

from __future__ import annotations

import math
from typing import Any

import aiohttp
from yarl import URL

from ..problems import Problem
from ..settings.config import ServiceConfig
from ..settings.policy_settings import CircuitBreakerSettings
from .balancer import Balancer, make_balancer
from .breaker import OPEN, Breaker

UNCHECKED, HEALTHY, UNHEALTHY = "unchecked", "healthy", "unhealthy"


class Upstream:
    """One instance of a service: the only kind of place the gateway ever connects to.

    Plain attributes the balancer reads on every pick: whether the health check passes, the
    circuit, the requests in flight, and the smooth weighted round robin's running weight.
    """

    __slots__ = ("base", "breaker", "checked_at", "current_weight", "health", "health_detail", "healthy", "in_flight",
                 "origin", "text", "url", "weight")

    def __init__(self, url: URL, weight: int = 1, breaker: Breaker | None = None) -> None:
        self.url = url
        self.text = str(url)  # as the journal, the logs and the metrics name it (worked out once, not per request)
        self.base = self.text.rstrip("/")  # what a request's path below the service's base path is appended to
        self.origin = url.origin()
        self.weight = weight
        self.breaker = breaker or Breaker("", str(url), CircuitBreakerSettings(failures=0))
        self.healthy = True  # False only while the active health check fails
        self.health = UNCHECKED
        self.health_detail = ""
        self.checked_at = 0.0  # time.time() of the last health probe; 0: never probed (/_gw/health/detailed)
        self.in_flight = 0
        self.current_weight = 0

    def taking_requests(self) -> bool:
        """Healthy, and its circuit closed, half-open, or due to half-open (for readiness, not the hot path)."""
        return self.healthy and self.breaker.seconds_left() == 0

    def unavailable_because(self) -> str:
        if not self.healthy:
            return f"health check failing ({self.health_detail})" if self.health_detail else "health check failing"
        if self.breaker.state == OPEN:
            return f"circuit open for {self.breaker.seconds_left():.1f}s more"
        return "half-open, waiting for its probe"

    def snapshot(self) -> dict[str, Any]:
        """This instance as /_gw/ready (and metrics) show it."""
        view: dict[str, Any] = {"weight": self.weight, "in_flight": self.in_flight, "health": self.health,
                                "circuit": self.breaker.snapshot()}
        if self.health_detail:
            view["health_detail"] = self.health_detail
        return view


class UpstreamPool:
    """A service's instances; the balancer picks one per attempt among those that may take it."""

    def __init__(self, service: str, instances: list[Upstream], balancer: Balancer | None = None) -> None:
        self.service = service
        self.instances = instances
        self.balancer = balancer or make_balancer("round_robin")

    @classmethod
    def for_service(cls, settings: ServiceConfig) -> UpstreamPool:
        instances = [Upstream(URL(u), settings.weights.get(u, 1), Breaker(settings.name, u, settings.circuit_breaker))
                     for u in settings.upstream]
        return cls(settings.name, instances, make_balancer(settings.load_balancing))

    def pick(self, avoid: tuple[Upstream, ...] = ()) -> Upstream | None:
        """An instance that may take a request now, other than those in `avoid` when one is left."""
        chosen = self.balancer.choose(self.instances, avoid)
        if chosen is None and avoid:
            chosen = self.balancer.choose(self.instances, ())
        return chosen

    def unavailable(self) -> Problem:
        """503 for a request no instance may take: every circuit open, or every health check failing."""
        circuits_open = all(i.healthy for i in self.instances)  # so each is open, or half-open and probing
        waits = [i.breaker.seconds_left() for i in self.instances if i.breaker.state == OPEN]
        why = "; ".join(f"{i.url} {i.unavailable_because()}" for i in self.instances)
        problem = Problem(503, detail=f"service {self.service}: no upstream instance can take requests now ({why})",
                          title="Circuit open" if circuits_open else "No healthy upstream",
                          slug="circuit-open" if circuits_open else "no-healthy-upstream",
                          extra={"service": self.service})
        if waits:
            problem.headers["Retry-After"] = str(max(1, math.ceil(min(waits))))
        return problem

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {str(i.url): i.snapshot() for i in self.instances}


def new_session(limit_per_host: int = 256) -> aiohttp.ClientSession:
    """The gateway's one client: pooled keep-alive connections, no cookie jar, bytes as they come."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=limit_per_host, ttl_dns_cache=300,
                                     enable_cleanup_closed=True)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        timeout=aiohttp.ClientTimeout(total=None),
    )
