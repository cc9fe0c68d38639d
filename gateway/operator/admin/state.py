"""Admin API for simulated resources: `GET /_gw/api/services/{service}/state` dumps them, `DELETE` resets
them to the seed data (every session, or `?session=` one)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ...core.exchange import Exchange, Response
from ...core.problems import Problem
from ...runtime.shared_state import StateUnavailable

if TYPE_CHECKING:
    from ...simulation.simulator import Simulation
    from .targets import Targets

Handler = Callable[[Exchange], Awaitable[Response]]
CurrentSimulation = Callable[[], "Simulation | None"]  # the one the pipeline now served was assembled with


def state_handlers(targets: Targets, simulation: CurrentSimulation) -> dict[str, Handler]:
    """The handlers by operationId, for AdminApi's map."""

    async def get_state(exchange: Exchange) -> Response:
        current, service = _target(targets, simulation(), exchange)
        return Response.json(200, await _guarded(current.dump(service, exchange.query.get("session"))))

    async def reset_state(exchange: Exchange) -> Response:
        current, service = _target(targets, simulation(), exchange)
        sessions = await _guarded(current.reset(service, exchange.query.get("session")))
        return Response.json(200, {"service": service, "reset": sessions})

    return {"getServiceState": get_state, "resetServiceState": reset_state}


def _target(targets: Targets, simulation: Simulation | None, exchange: Exchange) -> tuple[Simulation, str]:
    name = targets.service(exchange)
    if simulation is None or name not in simulation.stores:
        raise Problem(404, detail=f"service {name!r} keeps no state: set `state: true` for it in gateway.yaml",
                      slug="no-state")
    return simulation, name


async def _guarded(work: Awaitable) -> object:  # type: ignore[type-arg]
    try:
        return await work
    except StateUnavailable as exc:
        raise Problem(503, detail=f"the resources cannot be reached: {exc}", slug="state-unavailable") from None
