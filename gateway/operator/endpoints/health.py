"""`/_gw/health` (the process is alive) and `/_gw/ready` (specs loaded; live upstreams reachable, healthy, circuit not open)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from yarl import URL

from ...core.exchange import Exchange, Response
from ...core.pipeline import Next
from ...core.problems import Problem
from ...forwarder import Forwarder
from ...forwarder.instances import HEALTHY, Instance
from ...settings.config import PROXIED_MODES
from ...spec.load import Service

if TYPE_CHECKING:
    from ...runtime.modes import Modes

Handler = Callable[[Exchange], Awaitable[Response]]  # a GET endpoint under /_gw/


class GatewayEndpoints:
    """Answers /_gw/ paths itself; everything else walks on to the router."""

    def __init__(self, services: dict[str, Service], load_errors: list[str], forwarder: Forwarder,
                 more: dict[str, Handler], started: float, modes: Modes) -> None:
        self.modes = modes  # the modes now (runtime switches included)
        self.forwarder = forwarder  # its pools know each instance's health check and circuit
        self.services = services
        self.load_errors = load_errors
        self.started = started  # the app's start: a reload does not reset uptime
        self.routes: dict[str, Handler] = {"/_gw/health": self.health, "/_gw/ready": self.ready,
                                           **more}  # /_gw/health/detailed, /_gw/metrics

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        path = exchange.path
        if not path.startswith("/_gw/") and path != "/_gw":
            return await call_next(exchange)
        handler = self.routes.get(path.rstrip("/"))
        if handler is None:
            raise Problem(404, detail=f"the gateway has no endpoint {path}")
        if exchange.method not in ("GET", "HEAD"):
            raise Problem(405, detail=f"{exchange.method} is not allowed on {path}; allowed: GET, HEAD",
                          headers={"Allow": "GET, HEAD"})
        exchange.source = "gateway"
        return await handler(exchange)

    async def health(self, _exchange: Exchange) -> Response:
        return Response.json(200, {"status": "alive", "uptime_s": round(time.time() - self.started, 1)})

    async def ready(self, _exchange: Exchange) -> Response:
        checks = await asyncio.gather(*(self._service_ready(s) for s in self.services.values()))
        report: dict[str, Any] = {"services": dict(checks)}
        reasons = [f"{name}: {state['reason']}" for name, state in checks if not state["ready"]]
        reasons += self.load_errors
        if reasons:
            report.update(status="not ready", reasons=reasons)
            return Response.json(503, report)
        report["status"] = "ready"
        return Response.json(200, report)

    async def _service_ready(self, service: Service) -> tuple[str, dict[str, Any]]:
        mode = self.modes.mode_of(service.name)
        state: dict[str, Any] = {"mode": mode, "operations": len(service.operations), "ready": True}
        if mode in PROXIED_MODES:
            pool = self.forwarder.pools[service.name]
            instances = pool.instances
            state["instances"] = pool.snapshot()
            verdicts = await asyncio.gather(*(_available(i) for i in instances))
            state["upstreams"] = {i.text: ok for i, (ok, _) in zip(instances, verdicts, strict=True)}
            if not any(ok for ok, _ in verdicts):
                state.update(ready=False, reason=_not_ready_reason(instances, [why for _, why in verdicts]))
        return service.name, state


async def _available(instance: Instance) -> tuple[bool, str]:
    """Whether the instance could take a request now, and why not."""
    if not instance.taking_requests():
        return False, instance.unavailable_because()
    if instance.health == HEALTHY:
        return True, ""
    return (True, "") if await _reachable(instance.text) else (False, "unreachable")


def _not_ready_reason(instances: list[Instance], why: list[str]) -> str:
    if not instances:
        return "no upstream configured"
    if all(w == "unreachable" for w in why):
        return "no upstream instance is reachable"
    return "no upstream instance is available: " + "; ".join(f"{i.url} {w}" for i, w in zip(instances, why, strict=True))


async def _reachable(url: str, timeout: float = 1.0) -> bool:
    parsed = URL(url)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parsed.host, parsed.port), timeout)
    except (TimeoutError, OSError):
        return False
    writer.close()
    return True

