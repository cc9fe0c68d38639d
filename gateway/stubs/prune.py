"""`gw stubs prune`: the stubs whose operation is gone from the spec, removed with their side files."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec.load import Service
from .deletion import Deletion
from .format import Stub
from .store import StubStore, stub_operation
from .verify import stub_target


@dataclass
class Pruned:
    """One stale stub: why it is stale, and (unless a dry run) what deleting it did."""

    stub: Stub
    reason: str  # `getUser is not in the spec`
    deletion: Deletion | None = None

    @property
    def notes(self) -> list[str]:
        return self.deletion.notes() if self.deletion else []


def stale_stubs(store: StubStore, services: dict[str, Service]) -> list[Stub]:
    """The stubs of loaded services whose operation the service's spec no longer has."""
    return [s for s in store.all() if s.service in services and stub_operation(s, services[s.service]) is None]


def prune(store: StubStore, services: dict[str, Service], dry_run: bool = False) -> list[Pruned]:
    """Every stale stub, deleted through StubStore.delete (side files included) unless `dry_run`."""
    stale = stale_stubs(store, services)
    pruned = [Pruned(stub, f"{stub_target(stub)} is not in the spec") for stub in stale]
    if not dry_run and stale:
        for item, deletion in zip(pruned, store.delete(*stale), strict=True):
            item.deletion = deletion
    return pruned
