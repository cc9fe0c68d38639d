"""Rate limits: the most specific `rate_limit` for the routed operation, counted in the shared state.

A policy step: it runs once the operation is known, after auth (so `key: user` can use the caller's
identity), before the request is validated. Counting is GCRA in `shared_state` (in this process,
or atomically in Redis so every gateway process shares one limit).

Every limited answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (IETF
httpapi draft: integers, reset in seconds from now); a refused one is 429 problem+json with
`Retry-After`. When Redis is unreachable the request passes (one warning a minute), or with
`fail_closed: true` is refused with 503: a gateway must never hang on its bookkeeping.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from ..core.exchange import Exchange, Response
from ..core.pipeline import Next, Step
from ..core.problems import Problem
from ..core.wording import counted
from ..runtime.shared_state import Allowance, SharedState, StateUnavailable
from ..settings.config import GatewayConfig, ServiceConfig
from ..settings.policy_settings import RateLimitSettings
from ..spec.load import Operation, Service

log = logging.getLogger("gw.rate_limit")

WARN_EVERY = 60.0  # seconds between "limits not enforced" warnings while the shared state is down


@dataclass(frozen=True)
class Limit:
    """One operation's limit, and the counter namespace of the level it was configured at."""

    settings: RateLimitSettings
    scope: str  # "gateway", "service:users", "operation:users:getUser": levels never share counters
    header: str  # lower-case header name for `key: header:NAME`, else ""


@dataclass(frozen=True)
class RateLimitLevels:
    """What rate limiting reads from the settings: the gateway-wide limit and each service's (with its operations')."""

    default: RateLimitSettings
    services: Mapping[str, ServiceConfig]

    @classmethod
    def of(cls, config: GatewayConfig) -> RateLimitLevels:
        return cls(config.rate_limit, config.services)


def limit_for(levels: RateLimitLevels, service: str, operation: str) -> Limit | None:
    """The operation's effective limit (operation, then service, then gateway-wide); None when off."""
    settings = levels.services[service]
    override = settings.operations.get(operation)
    if override is not None and override.rate_limit is not None:
        found, scope = override.rate_limit, f"operation:{service}:{operation}"
    elif settings.rate_limit is not None:
        found, scope = settings.rate_limit, f"service:{service}"
    else:
        found, scope = levels.default, "gateway"
    if not found.enabled:
        return None
    header = found.key.partition(":")[2].lower() if found.key.startswith("header:") else ""
    return Limit(found, scope, header)


def any_rate_limit(levels: RateLimitLevels) -> bool:
    """Whether any level sets a limit: without one the step is left out of the pipeline."""
    services = levels.services.values()
    found = [levels.default, *(s.rate_limit for s in services)]
    found += [o.rate_limit for s in services for o in s.operations.values()]
    return any(level is not None and level.enabled for level in found)


def client_key(limit: Limit, exchange: Exchange) -> str:
    """Who is counted: the caller's subject, a header's value (hashed: keys may be secrets), or the IP.
    Each kind has its own prefix, so a user named like an address never shares an address's count."""
    if limit.settings.key == "user" and exchange.identity is not None:
        return "user:" + exchange.identity.subject
    if limit.header:
        value = exchange.headers.get(limit.header)
        if value:
            return "hdr:" + hashlib.sha256(value.encode()).hexdigest()[:32]
    return "ip:" + exchange.client_ip


class RateLimit:
    """A policy: per limited operation, a step that counts the request, adds the RateLimit-* headers, refuses with
    429 over it."""

    def __init__(self, levels: RateLimitLevels, state: SharedState) -> None:
        self.levels = levels
        self.state = state
        self._warned_at = -math.inf
        self._degraded = False

    def for_operation(self, service: Service, operation: Operation) -> Step | None:
        """The operation's count, its effective limit bound (asked once per operation, on its first request, by the
        router); None when no level limits it: its requests never call this policy."""
        limit = limit_for(self.levels, service.name, operation.key)
        return None if limit is None else partial(self._limited, limit)

    async def _limited(self, limit: Limit, exchange: Exchange, call_next: Next) -> Response:
        allowance = await self._take(limit, exchange)
        if allowance is None:
            return await call_next(exchange)
        headers = rate_limit_headers(allowance)
        if not allowance.allowed:
            retry_after = str(max(1, math.ceil(allowance.retry_after)))
            raise Problem(429, detail=f"rate limit of {counted(limit.settings.limit, 'request')} per {limit.settings.window:g}s "
                                      f"reached; retry in {retry_after}s",
                          slug="rate-limited", headers={**headers, "Retry-After": retry_after})
        try:
            response = await call_next(exchange)
        except Problem as problem:  # a 400 from validation after us is still a counted, limited answer
            problem.headers.update(headers)
            raise
        response.headers.extend(headers.items())
        return response

    async def _take(self, limit: Limit, exchange: Exchange) -> Allowance | None:
        """The decision, or None to let the request through uncounted (shared state down, failing open)."""
        settings = limit.settings
        try:
            allowance = await self.state.take(f"{limit.scope}:{client_key(limit, exchange)}",
                                              settings.limit, settings.window, settings.burst)
        except StateUnavailable as exc:
            if settings.fail_closed:
                raise Problem(503, detail="rate limits cannot be checked now (shared state unreachable) and "
                                          "rate_limit.fail_closed is set", slug="rate-limit-unavailable",
                              headers={"Retry-After": "1"}) from None  # the store is asked again after a second
            self._warn(exc)
            return None
        if self._degraded:
            self._degraded = False
            log.info("shared state is back: rate limits are enforced again")
        return allowance

    def _warn(self, exc: StateUnavailable) -> None:
        """One warning a minute while it lasts, not one per request."""
        self._degraded = True
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning("rate limits not enforced, letting requests through (fail_closed: false): %s", exc)


def rate_limit_headers(allowance: Allowance) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(allowance.limit),
        "RateLimit-Remaining": str(allowance.remaining),
        "RateLimit-Reset": str(max(0, math.ceil(allowance.reset))),
    }
