"""One instance of a service's upstream: a URL the gateway connects to, with its weight, health and circuit.

The balancer reads these plain attributes on every pick (gateway/forwarder/balancer.py); the pool of a
service's instances is gateway/forwarder/upstreams.py.
"""

from __future__ import annotations

import base64
from typing import Any

from yarl import URL

from ..settings.policy_settings import CircuitBreakerSettings
from .breaker import OPEN, Breaker

UNCHECKED, HEALTHY, UNHEALTHY = "unchecked", "healthy", "unhealthy"


class Instance:
    """One instance of a service: the only kind of place the gateway ever connects to.

    Plain attributes the balancer reads on every pick: whether the health check passes, the
    circuit, the requests in flight, and the smooth weighted round robin's running weight.
    """

    __slots__ = ("authorization", "base", "breaker", "checked_at", "current_weight", "health", "health_detail", "healthy",
                 "in_flight", "origin", "path", "text", "url", "weight")

    def __init__(self, url: URL, weight: int = 1, breaker: Breaker | None = None) -> None:
        self.url = url
        self.text = shown(url)  # as the journal, the logs and the metrics name it (worked out once, not per request)
        self.base = str(url.with_user(None)).rstrip("/")  # what a request's path below the service's base path is appended to
        self.authorization = basic_authorization(url)  # credentials in the URL: sent to this instance, shown nowhere
        self.origin = url.origin()
        self.path = url.raw_path.rstrip("/")  # the request target's start: a request's path below the base path follows
        self.weight = weight
        self.breaker = breaker or Breaker("", self.text, CircuitBreakerSettings(failures=0))
        self.healthy = True  # False only while the active health check fails
        self.health = UNCHECKED
        self.health_detail = ""
        self.checked_at = 0.0  # time.time() of the last health probe; 0: never probed (/_gw/health/detailed)
        self.in_flight = 0
        self.current_weight = 0

    def named(self, url: str) -> bool:
        """Whether `url` names this instance: as configured or as parsed, a trailing slash either way."""
        wanted = url.rstrip("/")
        return wanted in ((self.breaker.url or self.text).rstrip("/"), self.text.rstrip("/"), str(self.url).rstrip("/"))

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


def shown(url: URL) -> str:
    """The instance's URL as logs, metrics, the journal and the admin API show it: a password in it masked."""
    return str(url.with_password("***")) if url.password is not None else str(url)


def shown_as_written(text: str) -> str:
    """A configured upstream URL as written (the start banner, `gw serve`'s table), its password masked as `shown`."""
    url = URL(text)
    return shown(url) if url.password is not None else text


def basic_authorization(url: URL) -> str | None:
    """`Authorization: Basic` for credentials written into an upstream URL (`http://user:pass@host`), as curl and
    aiohttp send them; None without."""
    if url.user is None:
        return None
    return "Basic " + base64.b64encode(f"{url.user}:{url.password or ''}".encode()).decode()
