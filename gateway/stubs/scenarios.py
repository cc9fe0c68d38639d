"""Scenarios (as in WireMock): stubs that answer in turn, so a polling flow is 202, 202, then 200.

```yaml
scenario: export-job     # the scenario this stub takes part in
state: Started           # the state it answers in (every scenario starts in `Started`)
next_state: running      # the state after it has answered (optional: stay)
request: {method: GET, path: /jobs/1}
response: {status: 202, body: {status: pending}}
```

A scenario's state is kept per session (`X-GW-Session`, `session.py`) in the shared state: in this process,
or in Redis when `redis_url` is set, so every gateway process sharing it moves the same flow along. A stub
whose state does not hold is no match (the near-miss report says which state the scenario is in).
Stubs without a scenario never ask the shared state for anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.problems import Problem
from ..runtime.shared_state import SharedState, StateUnavailable
from .errors import StubError

STARTED = "Started"
KEYS = ("scenario", "state", "next_state")
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,128}")


@dataclass(frozen=True)
class ScenarioStep:
    """Where a stub stands in its scenario: the state it answers in, and the state it moves the scenario to."""

    name: str
    state: str
    next_state: str | None = None


def scenario_step(data: dict[str, Any], file: Path) -> ScenarioStep | None:
    """The stub file's `scenario`, `state` and `next_state`; None for a stub outside any scenario."""
    name = data.get("scenario")
    if name is None:
        present = [key for key in KEYS[1:] if key in data]
        if present:
            raise StubError(str(file), present[0], "needs `scenario: NAME` (the scenario this state belongs to)")
        return None
    if "state" not in data:
        raise StubError(str(file), "state", f"a scenario stub names the state it answers in (scenarios start in {STARTED})")
    values = {key: data.get(key) for key in KEYS}
    for key, value in values.items():
        if value is not None and not (isinstance(value, (str, int)) and not isinstance(value, bool)
                                      and _NAME.fullmatch(str(value))):
            raise StubError(str(file), key, f"expected a name of 1-128 characters, got {value!r}")
    next_state = values["next_state"]
    return ScenarioStep(str(name), str(values["state"]), None if next_state is None else str(next_state))


def _key(name: str) -> str:
    return f"scenario:{name}"


class Scenarios:
    """Scenario states, per session, in the shared state."""

    def __init__(self, state: SharedState) -> None:
        self.state = state

    async def current(self, session: str, names: Iterable[str]) -> dict[str, str]:
        """The state of each named scenario in this session (`Started` until a stub moves it)."""
        ordered = sorted(set(names))
        found = await self._ask(self.state.hget_many([_key(n) for n in ordered], session))
        return {name: value or STARTED for name, value in zip(ordered, found, strict=True)}

    async def advance(self, session: str, step: ScenarioStep) -> None:
        """A stub answered: its scenario moves to the stub's next state, unless another request moved it first."""
        if step.next_state is not None and step.next_state != step.state:
            await self._ask(self.state.hswap(_key(step.name), session, step.state, step.next_state, STARTED))

    async def set(self, name: str, state: str, session: str) -> None:
        await self._ask(self.state.hset(_key(name), session, state))

    async def sessions(self, name: str) -> dict[str, str]:
        """Every session that has moved this scenario, and its state there."""
        return await self._ask(self.state.hgetall(_key(name)))

    async def reset(self, names: Iterable[str], session: str | None = None) -> None:
        """Back to `Started`: in every session, or in one."""
        keys = [_key(n) for n in names]
        if session is None:
            await self._ask(self.state.delete(*keys))
            return
        for key in keys:
            await self._ask(self.state.hdel(key, session))

    @staticmethod
    async def _ask(call: Any) -> Any:
        try:
            return await call
        except StateUnavailable as exc:
            raise Problem(503, title="Scenario state unavailable", slug="state-unavailable", detail=str(exc)) from None
