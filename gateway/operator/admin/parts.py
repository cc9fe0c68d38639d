"""What the admin API acts on: the narrow objects that own each change, handed over by the app that assembles them.

The admin API reads through the read model (gateway/operator/state.py) and acts through these: the mode
switcher, the circuit reset, the stub store, the journal, chaos's switches, the callback sender, the shared
state and the cluster. None of them is the app, so no handler reaches past what it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...callbacks.sender import CallbackSender
    from ...chaos.step import Chaos
    from ...forwarder.instances import Instance
    from ...forwarder.shared_circuits import SharedCircuits
    from ...runtime.modes import Modes
    from ...runtime.reload_worker import Bounds
    from ...runtime.shared_state import SharedState
    from ...simulation.simulator import Simulation
    from ...stubs import StubStore
    from ...stubs.redaction import Redactor
    from ..cluster import Cluster
    from ..journal import Journal
    from .access import AdminAccess


class CircuitReset:
    """Closes one instance's circuit here and, with a shared store, in every process."""

    def __init__(self, instances: Callable[[str], Sequence[Instance]], shared: SharedCircuits | None) -> None:
        self.instances = instances
        self.shared = shared

    async def reset(self, service: str, url: str) -> Instance | None:
        """The instance `url` names (`Instance.named`), its circuit closed; None when the service has none such.
        Raises StateUnavailable when closed here but not in the shared state."""
        found = next((i for i in self.instances(service) if i.named(url)), None)
        if found is None:
            return None
        found.breaker.reset()
        if self.shared is not None:
            await self.shared.reset(found.breaker)
        return found


@dataclass(frozen=True)
class AdminParts:
    access: AdminAccess  # who may use /_gw/api
    modes: Modes  # runtime mode switches, in every process
    circuits: CircuitReset
    stubs: StubStore
    journal: Journal
    chaos: Chaos  # its runtime switches and what is in effect
    callbacks: CallbackSender  # webhooks fired on request
    shared: SharedState  # scenario states, API stubs
    cluster: Cluster  # questions every gateway process answers
    bounds: Bounds  # what a stub reload may take
    redactor: Callable[[str | None], Redactor]  # a service's recording redactor, for journal entries shown
    simulation: Callable[[], Simulation | None]  # the `state:` services' resources of the pipeline now served

