"""schemathesis's test phases as `gw contract --phases` names them, without importing schemathesis: the
CLI builds its `--help` (defaults included) from these, and `gw --version` must stay instant."""

from __future__ import annotations

from collections.abc import Iterable

from .target import ContractError

PHASES = ("examples", "coverage", "fuzzing")  # the default run; "stateful" is asked for by name


def resolve_phases(requested: Iterable[str]) -> tuple[str, ...]:
    phases = tuple(dict.fromkeys(requested))
    unknown = [p for p in phases if p not in (*PHASES, "stateful")]
    if unknown or not phases:
        raise ContractError(f"--phases: expected some of {', '.join((*PHASES, 'stateful'))}, got {', '.join(phases)!r}")
    return phases
