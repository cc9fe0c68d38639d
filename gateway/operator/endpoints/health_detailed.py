"""`/_gw/health/detailed`: what an operator asks first when something is off.

Version, uptime, and per service: its spec, mode (and per-operation overrides), stub count, each
upstream instance with its circuit and last health check, and the spec's load warnings; the shared
state's status when Redis is configured. It tells internals (upstream addresses, spec paths), so
it is guarded as the admin API is; `/_gw/health` and `/_gw/ready` stay open for probes. A service is
read from the read model (gateway/operator/state.py), as the admin API and the dashboard read it.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ... import __version__
from ...core.exchange import Exchange, Response
from ...runtime.shared_state import StateUnavailable, display_url

if TYPE_CHECKING:
    from ...runtime.shared_state import SharedState
    from ..admin import AdminAccess
    from ..state import GatewayState, InstanceView, ServiceView

REDIS_PING_TIMEOUT = 1.0


@dataclass(frozen=True)
class HealthFacts:
    """What the report tells of the settings: how many workers, whether /metrics is on, the Redis URL (pinged)."""

    workers: int
    metrics: bool
    redis_url: str  # "" when the state is this process's memory


class DetailedHealth:
    """Built once; asks the read model on every request, so reloads and switches show at once."""

    def __init__(self, state: GatewayState, access: AdminAccess, shared: SharedState, started: float,
                 facts: HealthFacts) -> None:
        self.state = state
        self.access = access
        self.shared = shared  # pinged when it is Redis
        self.facts = facts
        self.started = started  # the app's start: a reload does not reset uptime

    async def answer(self, exchange: Exchange) -> Response:
        await self.access.check(exchange)  # 403 problem+json for anyone but operators
        report = await self.report()
        return Response.json(200, report)

    async def report(self) -> dict[str, Any]:
        state, facts = self.state, self.facts
        report: dict[str, Any] = {
            "status": "degraded" if state.load_errors else "ok",
            "version": __version__,
            "started_at": _iso(self.started),
            "uptime_s": round(time.time() - self.started, 1),
            "pid": os.getpid(),
            "workers": facts.workers,
            "metrics": facts.metrics,
            "services": {view.name: service_json(view) for view in state.services() if view.loaded},
            "load_errors": state.load_errors,
            "stub_errors": state.stub_errors,
        }
        if facts.redis_url:
            report["redis"] = await self.redis()
        return report

    async def redis(self) -> dict[str, Any]:
        """Whether the shared state answers a PING now, and how fast."""
        state, url = self.shared, self.facts.redis_url
        view: dict[str, Any] = {"url": display_url(url), "kind": state.kind}
        ping = getattr(state, "ping", None)
        if ping is None:
            return {**view, "status": "unknown"}
        started = time.perf_counter()
        try:
            ok = await asyncio.wait_for(ping(), REDIS_PING_TIMEOUT)
        except (StateUnavailable, TimeoutError) as exc:
            reason = (str(exc) or type(exc).__name__).replace(url, view["url"])  # its message quotes the URL
            return {**view, "status": "down", "error": reason}
        return {**view, "status": "up" if ok else "down", "ping_ms": round((time.perf_counter() - started) * 1000, 2)}


def service_json(view: ServiceView) -> dict[str, Any]:
    """A loaded service as the detailed health report shows it."""
    return {
        "spec": view.spec_file,
        "openapi": view.openapi,
        "base_path": view.base_path,
        "mode": view.mode,
        "mode_from": view.mode_from,
        "operation_modes": view.operation_modes(),
        "operations": len(view.operations),
        "stubs": view.stubs,
        "upstreams": {i.address: _instance(i) for i in view.instances},
        "health_check": view.health_check,
        "warnings": list(view.warnings),
    }


def _instance(instance: InstanceView) -> dict[str, Any]:
    """One upstream instance: circuit, health and when it was last checked, requests in flight."""
    checked_at = instance.checked_at
    return {**instance.snapshot, "last_health_check": _iso(checked_at) if checked_at else None}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

