"""Circuit breakers: one per upstream instance, so one sick instance is skipped, not the service.

closed ── `failures` within `window` ──▶ open ── `open_seconds` later ──▶ half-open
   ▲                                      ▲                                   │
   └──────────── a probe succeeds ────────┴────────── a probe fails ──────────┘

Failures are connection errors, timeouts and 5xx answers. While open the balancer skips the
instance; half-open lets `half_open_requests` probes through at a time.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..core.events import Channel, CircuitClosed, CircuitFailureCounted, CircuitHalfOpened, CircuitOpened
from ..settings.policy_settings import CircuitBreakerSettings

log = logging.getLogger("gw.upstream")

CLOSED, OPEN, HALF_OPEN = CircuitClosed.after, CircuitOpened.after, CircuitHalfOpened.after
CHANGED = {CLOSED: CircuitClosed, OPEN: CircuitOpened, HALF_OPEN: CircuitHalfOpened}  # the event each move publishes


class Breaker:
    """The circuit of one instance. Every method is synchronous: the hot path never awaits it.

    It publishes on `events` every move (CircuitOpened, CircuitHalfOpened, CircuitClosed: metrics, the live
    feed, and shared circuits, which tell other processes of a circuit this one opened) and every failure
    counted while closed (CircuitFailureCounted: shared circuits add them up across processes).
    """

    __slots__ = ("_failed_at", "clock", "events", "open_until", "opened_by", "probes", "service", "settings", "state",
                 "url")

    def __init__(self, service: str, url: str, settings: CircuitBreakerSettings,
                 clock: Callable[[], float] = time.monotonic, events: Channel | None = None) -> None:
        self.service, self.url, self.settings = service, url, settings
        self.clock = clock  # injectable: unit tests walk the transitions on a fake clock
        self.events = events if events is not None else Channel()
        self.state = CLOSED
        self.open_until = 0.0  # clock() when an open circuit turns half-open
        self.opened_by = ""  # "failures", "probe", or "shared" (another gateway process)
        self.probes = 0  # half-open probes in flight
        self._failed_at: deque[float] = deque()

    @property
    def enabled(self) -> bool:
        return self.settings.failures > 0

    def admits(self) -> bool:
        """May a request go to this instance now? (Checked by the balancer for every candidate.)"""
        if self.state == CLOSED:
            return True
        if self.state == OPEN and not self._open_time_over():
            return False
        return self.probes < self.settings.half_open_requests

    def _open_time_over(self) -> bool:
        """Turn an open circuit half-open once its time is up (lazily: no timer per instance)."""
        if self.state == OPEN and self.clock() >= self.open_until:
            self._move(HALF_OPEN)
        return self.state != OPEN

    def acquire(self) -> bool:
        """The balancer chose this instance; True when the request is a half-open probe."""
        if self.state == HALF_OPEN:
            self.probes += 1
            return True
        return False

    def succeeded(self, probe: bool) -> None:
        if probe:
            self.probes = max(0, self.probes - 1)
        if self.state == HALF_OPEN:
            self._failed_at.clear()
            self._move(CLOSED)

    def failed(self, probe: bool) -> None:
        if not self.enabled:
            return
        if probe:
            self.probes = max(0, self.probes - 1)
        if self.state == HALF_OPEN:
            self.trip("probe")
        elif self.state == CLOSED:
            now = self.clock()
            window = self._failed_at
            window.append(now)
            while window and window[0] <= now - self.settings.window:
                window.popleft()
            if len(window) >= self.settings.failures:
                self.trip("failures")
            elif CircuitFailureCounted in self.events.listened:
                self.events.publish(CircuitFailureCounted(self.service, self.url))

    def abandoned(self, probe: bool) -> None:
        """The request ended without an outcome (the client went away): free its probe slot."""
        if probe:
            self.probes = max(0, self.probes - 1)

    def trip(self, reason: str, seconds: float | None = None) -> None:
        """Open the circuit for `seconds` (default `open_seconds`); `shared` comes from another process."""
        self.open_until = self.clock() + (self.settings.open_seconds if seconds is None else seconds)
        self.opened_by = reason
        self._failed_at.clear()
        self._move(OPEN)

    def reset(self) -> None:
        """Close the circuit now and forget recent failures (an operator's call, from the admin API)."""
        self._failed_at.clear()
        self.open_until = 0.0
        self.opened_by = ""
        self._move(CLOSED)

    def snapshot(self) -> dict[str, Any]:
        """The circuit as the operator surface shows it."""
        self._open_time_over()
        view: dict[str, Any] = {"state": self.state, "recent_failures": len(self._failed_at)}
        if self.state == OPEN:
            view["half_open_in_s"] = round(max(0.0, self.open_until - self.clock()), 3)
            view["opened_by"] = self.opened_by
        return view

    def seconds_left(self) -> float:
        return max(0.0, self.open_until - self.clock()) if self.state == OPEN else 0.0

    def _move(self, to: str) -> None:
        before, self.state = self.state, to
        if before == to:
            return
        self.probes = 0
        kind = CHANGED[to]
        if kind in self.events.listened:
            self.events.publish(kind(self.service, self.url, before, self.opened_by if to == OPEN else ""))
        level = logging.WARNING if to == OPEN else logging.INFO
        log.log(level, "circuit %s: %s %s (%s -> %s)", to.replace("_", "-"), self.service, self.url, before, to,
                extra={"fields": {"event": "circuit", "service": self.service, "instance": self.url,
                                  "from": before, "to": to, "reason": self.opened_by if to == OPEN else ""}})
