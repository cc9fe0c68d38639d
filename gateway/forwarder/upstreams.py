"""A service's upstream: its instances, the balancer that picks one per attempt, and aiohttp's session for
WebSocket pass-through.

Requests are forwarded by gw's own keep-alive client (forwarder/http1.py, forwarder/connection_pool.py): aiohttp's
ClientSession cost ~210 µs of CPU per request, a third of the live hop. WebSockets keep aiohttp's (its pool held up
under concurrency where httpx's async pool collapsed: STACK-NOTES.md).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from yarl import URL

from ..core.events import Channel
from ..core.problems import Problem
from ..settings.config import ServiceConfig
from . import client
from .balancer import Balancer, make_balancer
from .breaker import OPEN, Breaker
from .instances import Instance, shown_as_written

if TYPE_CHECKING:
    import aiohttp


class UpstreamPool:
    """A service's instances; the balancer picks one per attempt among those that may take it."""

    def __init__(self, service: str, instances: list[Instance], balancer: Balancer | None = None) -> None:
        self.service = service
        self.instances = instances
        self.balancer = balancer or make_balancer("round_robin")

    @classmethod
    def for_service(cls, settings: ServiceConfig, events: Channel | None = None) -> UpstreamPool:
        """The service's instances, each with its breaker; the breakers publish their changes on `events`."""
        instances = [Instance(URL(u), settings.weights.get(u, 1),
                              Breaker(settings.name, shown_as_written(u), settings.circuit_breaker, events=events))
                     for u in settings.upstream]
        return cls(settings.name, instances, make_balancer(settings.load_balancing))

    def pick(self, avoid: tuple[Instance, ...] = ()) -> Instance | None:
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
        return {i.text: i.snapshot() for i in self.instances}


def new_session(limit_per_host: int = 256) -> aiohttp.ClientSession:
    """aiohttp's client for WebSocket pass-through: pooled keep-alive connections, no cookie jar, bytes as they come."""
    connector = client.TCPConnector(limit=0, limit_per_host=limit_per_host, ttl_dns_cache=300,
                                     enable_cleanup_closed=True)
    return client.ClientSession(
        connector=connector,
        cookie_jar=client.DummyCookieJar(),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        timeout=client.ClientTimeout(total=None),
    )
