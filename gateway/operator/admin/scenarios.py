"""The admin API's scenario calls: list scenarios and their states per session, set one, reset them.

The scenarios are the ones the stub files name (`scenario:` in a stub, `stubs/scenarios.py`); their states
live in the shared state, so a change made through any gateway process holds for every process sharing Redis.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ...core.exchange import Exchange, Response
from ...core.problems import Problem
from ...runtime.session import DEFAULT
from ...stubs.scenarios import STARTED, Scenarios

if TYPE_CHECKING:
    from ...runtime.shared_state import SharedState
    from ...stubs import StubStore


class ScenarioAdmin:
    """GET/DELETE /_gw/api/scenarios, PUT /_gw/api/scenarios/{scenario}."""

    def __init__(self, shared: SharedState, stubs: StubStore) -> None:
        self.shared = shared  # where the scenarios' states live
        self.stubs = stubs

    def handlers(self) -> dict[str, Callable[[Exchange], Awaitable[Response]]]:
        return {"listScenarios": self.list_scenarios, "setScenarioState": self.set_state,
                "resetScenarios": self.reset}

    @property
    def scenarios(self) -> Scenarios:
        return Scenarios(self.shared.patient())  # an operator's change waits out a slow moment of Redis

    def known(self) -> dict[str, dict[str, Any]]:
        """Each scenario the stubs name: its states (in the order the stubs give them) and its stubs."""
        found: dict[str, dict[str, Any]] = {}
        for stub in self.stubs.all():
            step = stub.scenario
            if step is None:
                continue
            entry = found.setdefault(step.name, {"states": {STARTED: None}, "stubs": []})
            entry["states"].update(dict.fromkeys([step.state, *([step.next_state] if step.next_state else [])]))
            entry["stubs"].append(f"{stub.service}/{stub.id}")
        return found

    async def list_scenarios(self, exchange: Exchange) -> Response:
        session = exchange.query.get("session") or None
        views = [await self._view(name, entry, session) for name, entry in sorted(self.known().items())]
        return Response.json(200, {"scenarios": views})

    async def set_state(self, exchange: Exchange) -> Response:
        name = str(exchange.path_params.get("scenario", ""))
        entry = self.known().get(name)
        if entry is None:
            raise Problem(404, detail=f"no stub takes part in a scenario {name!r}; scenarios: "
                                      f"{', '.join(sorted(self.known())) or 'none'}")
        change = await exchange.json()  # its shape checked by the admin API's document
        state, session = str(change["state"]), str(change.get("session") or DEFAULT)
        if state not in entry["states"]:
            raise Problem(400, detail=f"scenario {name} has no state {state!r}; its states: {', '.join(entry['states'])}",
                          slug="unknown-scenario-state")
        await self.scenarios.set(name, state, session)
        return Response.json(200, await self._view(name, entry, None))

    async def reset(self, exchange: Exchange) -> Response:
        await self.scenarios.reset(self.known(), exchange.query.get("session") or None)
        return Response(204)

    async def _view(self, name: str, entry: dict[str, Any], session: str | None) -> dict[str, Any]:
        sessions = await self.scenarios.sessions(name)
        if session is not None:
            sessions = {session: sessions.get(session, STARTED)}
        else:
            sessions = {DEFAULT: STARTED, **sessions}
        return {"name": name, "states": list(entry["states"]), "stubs": entry["stubs"], "sessions": sessions}
