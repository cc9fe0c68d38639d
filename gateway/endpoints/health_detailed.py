"""`/_gw/health/detailed`: what an operator asks first when something is off.

Version, uptime, and per service: its spec, mode (and per-operation overrides), stub count, each
upstream instance with its circuit and last health check, and the spec's load warnings; the shared
state's status when Redis is configured. It tells internals (upstream addresses, spec paths), so
it is guarded as the admin API is; `/_gw/health` and `/_gw/ready` stay open for probes.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..exchange import Exchange, Response
from ..shared_state import StateUnavailable, display_url

if TYPE_CHECKING:
    from ..app import GatewayApp
    from ..forwarder.upstreams import Upstream

REDIS_PING_TIMEOUT = 1.0


class DetailedHealth:
    """Built once per app; reads the app's current services on every request, so reloads show at once."""

    def __init__(self, app: GatewayApp) -> None:
        self.app = app
        self.started = app.started

    async def answer(self, exchange: Exchange) -> Response:
        await self.app.admin_access.check(exchange)  # 403 problem+json for anyone but operators
        report = await self.report()
        return Response.json(200, report)

    async def report(self) -> dict[str, Any]:
        app = self.app
        report: dict[str, Any] = {
            "status": "degraded" if app.loaded.errors else "ok",
            "version": __version__,
            "started_at": _iso(self.started),
            "uptime_s": round(time.time() - self.started, 1),
            "pid": os.getpid(),
            "workers": app.config.workers,
            "metrics": app.config.metrics,
            "services": {name: self.service(name) for name in app.services},
            "load_errors": [str(e) for e in app.loaded.errors],
            "stub_errors": [str(e) for e in app.stubs.errors],
        }
        if app.config.redis_url:
            report["redis"] = await self.redis()
        return report

    def service(self, name: str) -> dict[str, Any]:
        service, settings = self.app.services[name], self.app.config.services[name]
        pool = self.app.forwarder.pools.get(name)
        return {
            "spec": str(service.spec_file),
            "openapi": ".".join(str(n) for n in service.version),
            "base_path": service.base_path,
            "mode": self.app.modes.mode_of(name),
            "operation_modes": dict(self.app.modes.now[name].operations),
            "operations": len(service.operations),
            "stubs": len(self.app.stubs.all(name)),
            "upstreams": {str(i.url): _instance(i) for i in pool.instances} if pool is not None else {},
            "health_check": settings.health_check.path or None,
            "warnings": list(service.warnings),
        }

    async def redis(self) -> dict[str, Any]:
        """Whether the shared state answers a PING now, and how fast."""
        state, url = self.app.state, self.app.config.redis_url
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


def _instance(instance: Upstream) -> dict[str, Any]:
    """One upstream instance: circuit, health and when it was last checked, requests in flight."""
    view = instance.snapshot()
    checked_at = getattr(instance, "checked_at", 0.0)
    view["last_health_check"] = _iso(checked_at) if checked_at else None
    return view


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

