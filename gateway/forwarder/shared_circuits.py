"""Circuit state shared through the shared store (Redis), so N gateway processes agree.

What is shared, and how:
- a failure counted while a circuit is closed: `incr(cb:<service>:<url>:failures, ttl=window)`,
  a window that starts at the first failure; the processes' failures add up, and the process
  whose increment reaches `failures` opens the circuit.
- an opened circuit: `set(cb:<service>:<url>:open, "<until, epoch s> <owner>", ttl=open_seconds)`.
- every SYNC_INTERVAL a background task reads the open keys and opens the local circuits another
  process opened. A request only ever reads its local breaker, so the hot path never waits on
  Redis; another process's verdict arrives here within SYNC_INTERVAL, a few failures' worth.
- half-open is per process: when the shared open time is over, each process sends its own probes
  (at most processes x half_open_requests); a failed probe re-opens and publishes again.

Writes run as background tasks, so the failed request does not wait on them either. With Redis
down, `StateUnavailable` is caught (one warning a minute) and each breaker keeps working on its
own process's counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Coroutine, Iterable
from typing import Any

from ..core.events import Channel, CircuitFailureCounted, CircuitOpened
from ..runtime.shared_state import SharedState, StateUnavailable
from .breaker import OPEN, Breaker

log = logging.getLogger("gw.upstream")

SYNC_INTERVAL = 0.5  # seconds between two reads of the shared open states
WARN_EVERY = 60.0


class SharedCircuits:
    """Publishes this process's breakers to the shared store and adopts other processes' verdicts.

    It hears of the breakers on the event channel: a circuit this process opened (CircuitOpened, not
    `shared`) and a failure counted while closed (CircuitFailureCounted).
    """

    def __init__(self, state: SharedState, breakers: Iterable[Breaker], events: Channel) -> None:
        self.state = state
        self.breakers = [b for b in breakers if b.enabled]
        self._by_instance = {(b.service, b.url): b for b in self.breakers}
        self.owner = uuid.uuid4().hex[:12]
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sync: asyncio.Task[None] | None = None
        self._warned_at = -WARN_EVERY
        if self.breakers:
            events.subscribe(CircuitOpened, self._opened)
            events.subscribe(CircuitFailureCounted, self._failure_counted)

    def start(self) -> None:
        self.owner = uuid.uuid4().hex[:12]  # again: a worker forked from the process that built the app is another one
        if self.breakers and self._sync is None:
            self._sync = asyncio.get_running_loop().create_task(self._sync_loop(), name="gw-circuit-sync")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._sync] if self._sync else [])]
        self._sync = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def sync_once(self) -> None:
        """Open every local circuit that another process holds open in the shared store."""
        for breaker in self.breakers:
            value = await self.state.get(_key(breaker, "open"))
            if value:
                self._adopt(breaker, value)

    async def reset(self, breaker: Breaker) -> None:
        """Forget the shared open state and failure count, so no process adopts the circuit again."""
        await self.state.patient().delete(_key(breaker, "open"), _key(breaker, "failures"))  # an operator's change

    def _adopt(self, breaker: Breaker, value: str) -> None:
        until_text, _, owner = value.partition(" ")
        if owner == self.owner:
            return
        left = float(until_text) - time.time()
        if left <= 0.01:
            return
        if breaker.state == OPEN and breaker.open_until >= breaker.clock() + left - 0.05:
            return
        breaker.trip("shared", seconds=left)

    def _opened(self, event: CircuitOpened) -> None:
        breaker = self._by_instance.get((event.service, event.instance))
        if breaker is not None and event.reason != "shared":  # adopted from another process: it is published there
            until = time.time() + breaker.seconds_left()
            self._spawn(self._publish(breaker, until))

    def _failure_counted(self, event: CircuitFailureCounted) -> None:
        breaker = self._by_instance.get((event.service, event.instance))
        if breaker is not None:
            self._spawn(self._count(breaker))

    async def _publish(self, breaker: Breaker, until: float) -> None:
        ttl = until - time.time()
        if ttl > 0:
            await self.state.set(_key(breaker, "open"), f"{until:.3f} {self.owner}", ttl=ttl)
        await self.state.delete(_key(breaker, "failures"))

    async def _count(self, breaker: Breaker) -> None:
        count = await self.state.incr(_key(breaker, "failures"), ttl=breaker.settings.window)
        if count >= breaker.settings.failures and breaker.state != OPEN:
            breaker.trip("failures")

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self._guarded(work))
        except RuntimeError:  # no loop running (a unit test calling the breaker directly)
            work.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except StateUnavailable as exc:
            self._warn(exc)

    async def _sync_loop(self) -> None:
        while True:
            try:
                await self.sync_once()
            except StateUnavailable as exc:
                self._warn(exc)
            except Exception:  # a bad value in the store must not end the loop
                log.exception("reading the shared circuit states failed")
            await asyncio.sleep(SYNC_INTERVAL)

    def _warn(self, exc: StateUnavailable) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning("circuit state not shared (%s): each gateway process counts failures on its own", exc,
                        extra={"fields": {"event": "circuit-sharing-down"}})


def _key(breaker: Breaker, what: str) -> str:
    return f"cb:{breaker.service}:{breaker.url}:{what}"
