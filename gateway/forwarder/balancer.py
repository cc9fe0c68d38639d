"""Load balancing: which of a service's instances takes the next attempt.

Every strategy skips instances whose health check fails or whose circuit is open, and those in
`avoid` (the instances a retry already failed on). A pick walks the instance list once and
allocates nothing: it runs on every proxied request.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Protocol

from ..core.fork_safe import own_random

if TYPE_CHECKING:
    from .instances import Instance


class Balancer(Protocol):
    def choose(self, instances: list[Instance], avoid: tuple[Instance, ...]) -> Instance | None: ...


def usable(instance: Instance, avoid: tuple[Instance, ...]) -> bool:
    return instance.healthy and instance.breaker.admits() and instance not in avoid


class RoundRobin:
    """Each instance in turn; a skipped instance's turn passes to the next one."""

    def __init__(self) -> None:
        self._next = 0

    def choose(self, instances: list[Instance], avoid: tuple[Instance, ...]) -> Instance | None:
        count = len(instances)
        start = self._next
        for step in range(count):
            index = (start + step) % count
            if usable(instances[index], avoid):
                self._next = (index + 1) % count
                return instances[index]
        return None


class SmoothWeightedRoundRobin:
    """nginx's smooth weighted round robin: weights 3:1 give a a b a, a a b a, ... (never a a a b)."""

    def choose(self, instances: list[Instance], avoid: tuple[Instance, ...]) -> Instance | None:
        best: Instance | None = None
        total = 0
        for instance in instances:
            if not usable(instance, avoid):
                continue
            instance.current_weight += instance.weight
            total += instance.weight
            if best is None or instance.current_weight > best.current_weight:
                best = instance
        if best is not None:
            best.current_weight -= total
        return best


class LeastConnections:
    """The instance with the fewest requests in flight; ties go round robin."""

    def __init__(self) -> None:
        self._start = 0

    def choose(self, instances: list[Instance], avoid: tuple[Instance, ...]) -> Instance | None:
        count = len(instances)
        best: Instance | None = None
        start = self._start
        self._start = (start + 1) % count if count else 0
        for step in range(count):
            instance = instances[(start + step) % count]
            if (best is None or instance.in_flight < best.in_flight) and usable(instance, avoid):
                best = instance
        return best


class Random:
    """Any usable instance, uniformly."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or own_random()  # each forked worker its own picks

    def choose(self, instances: list[Instance], avoid: tuple[Instance, ...]) -> Instance | None:
        if not instances:
            return None
        first = instances[self._rng.randrange(len(instances))]
        if usable(first, avoid):
            return first
        candidates = [i for i in instances if usable(i, avoid)]  # only when the first draw was skipped
        return self._rng.choice(candidates) if candidates else None


STRATEGIES: dict[str, type] = {
    "round_robin": RoundRobin,
    "weighted_round_robin": SmoothWeightedRoundRobin,
    "least_connections": LeastConnections,
    "random": Random,
}


def make_balancer(strategy: str) -> Balancer:
    return STRATEGIES[strategy]()
