"""The gateway's one event channel: what happened, as typed events, told to the subscribers registered at assembly.

Publishers (the forwarder, each circuit breaker, the health checks, the WebSocket pass-through, runtime modes,
chaos switches, the recorder, the journal step, the callback sender) import this module only, never the ones
listening: metrics, the live feed (dashboard, `gw journal --follow`), shared circuits (Redis), `gw record`'s
live line. So no publisher imports a listener, and listeners are plugged in by the app that assembles both.

The rules (the live feed's bus had them first):
- Cheap when unheard: publishing a kind nobody subscribed to is one dict lookup. A publisher on a hot path
  tests `Kind in channel.listened` before it even builds the event.
- A subscriber never slows or fails a request. A plain function runs inline and must be quick (a counter, a
  queue offer); if it raises, the error is logged (once a minute per subscriber) and the publisher never sees
  it. An `async` subscriber gets a bounded queue and its own task: the publisher only appends; one that falls
  behind loses its oldest events (the log says how many), never holds anyone up.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

log = logging.getLogger("gw.events")

WARN_EVERY = 60.0  # seconds between two log lines about the same failing or lagging subscriber
QUEUE_SIZE = 1000  # events an async subscriber may fall behind by before its oldest are dropped


class Event:
    """Base of every event kind (a marker: subscriptions are by exact kind)."""

    __slots__ = ()


class Journaled(Protocol):
    """A journal entry (gateway/operator/journal.py): the live feed shows `event()`."""

    def event(self) -> dict[str, Any]: ...


# --- what happened ------------------------------------------------------------------------------

@dataclass(slots=True)
class ExchangeFinished(Event):
    """A client's exchange was answered and journaled."""

    entry: Journaled


@dataclass(slots=True)
class CallbackSent(Event):
    """A callback or webhook the gateway sent (gateway/callbacks/), journaled as an exchange."""

    entry: Journaled
    detail: dict[str, Any]


@dataclass(slots=True)
class UpstreamAnswered(Event):
    """One attempt on one upstream instance got an answer's head (any status: a 5xx is a failure to count)."""

    service: str
    instance: str
    seconds: float
    status: int


@dataclass(slots=True)
class UpstreamFailed(Event):
    """One attempt on one upstream instance failed without an answer, or its answer broke off.

    `kind`: timeout | connect | disconnected | incomplete | other (a bounded metrics label). `seconds` is None
    for `incomplete`: that attempt's time was told when its answer's head arrived (UpstreamAnswered).
    """

    service: str
    instance: str
    seconds: float | None
    kind: str


@dataclass(slots=True)
class CircuitChanged(Event):
    """An instance's circuit breaker moved; subscribe to the kinds below (CIRCUIT_CHANGES)."""

    after: ClassVar[str] = ""
    service: str
    instance: str
    before: str
    reason: str = ""  # why it opened: failures | probe | shared (another gateway process)


@dataclass(slots=True)
class CircuitOpened(CircuitChanged):
    after: ClassVar[str] = "open"


@dataclass(slots=True)
class CircuitHalfOpened(CircuitChanged):
    after: ClassVar[str] = "half_open"


@dataclass(slots=True)
class CircuitClosed(CircuitChanged):
    after: ClassVar[str] = "closed"


CIRCUIT_CHANGES: tuple[type[CircuitChanged], ...] = (CircuitOpened, CircuitHalfOpened, CircuitClosed)


@dataclass(slots=True)
class CircuitFailureCounted(Event):
    """A closed circuit counted a failure that did not open it (shared circuits add it up across processes)."""

    service: str
    instance: str


@dataclass(slots=True)
class InstanceHealthChanged(Event):
    """The active health check found an instance healthy or unhealthy (not its first healthy answer)."""

    service: str
    instance: str
    before: str
    after: str
    detail: str


@dataclass(slots=True)
class WebSocketsChanged(Event):
    """A WebSocket connection through the gateway opened (+1) or closed (-1)."""

    service: str
    delta: int


@dataclass(slots=True)
class StubRecorded(Event):
    """Record mode wrote (or found unchanged) a stub file."""

    stub_id: str
    file: str
    outcome: str  # created | updated | unchanged
    summary: str  # "GET /users/1 -> 200"
    violations: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ModeSwitched(Event):
    """A service's or an operation's mode changed at runtime (here or in another process, through Redis)."""

    service: str
    operation: str | None
    mode: str


@dataclass(slots=True)
class ChaosSwitched(Event):
    """Chaos was switched on, changed or cleared for a service or an operation at runtime."""

    service: str
    operation: str | None
    chaos: str  # as the operator reads it
    switched: bool  # False: cleared


# --- the channel -----------------------------------------------------------------------------------

Subscriber = Callable[[Any], None] | Callable[[Any], Awaitable[None]]
Kinds = type[Event] | Iterable[type[Event]]


class Channel:
    """Typed publish/subscribe inside one process. `listened`: the kinds someone subscribed to, and who."""

    def __init__(self) -> None:
        self.listened: dict[type[Event], tuple[Callable[[Any], None], ...]] = {}
        self._queued: list[_Queued] = []
        self._warned: dict[Any, float] = {}

    def subscribe(self, kinds: Kinds, subscriber: Subscriber, queue_size: int = QUEUE_SIZE) -> Callable[[], None]:
        """Tell `subscriber` of every event of `kinds`; returns the function that ends the subscription.

        A coroutine function is fed from a bounded queue by a task of its own (see the module's rules).
        """
        handler: Callable[[Any], None]
        if inspect.iscoroutinefunction(subscriber):
            handler = _Queued(subscriber, queue_size, self)
            self._queued.append(handler)
        else:
            handler = subscriber  # type: ignore[assignment]
        kinds = (kinds,) if isinstance(kinds, type) else tuple(kinds)
        for kind in kinds:  # a new tuple each time: a publish running through the old one is not disturbed
            self.listened[kind] = (*self.listened.get(kind, ()), handler)
        return lambda: self._unsubscribe(kinds, handler)

    def publish(self, event: Event) -> None:
        handlers = self.listened.get(type(event))
        if handlers:
            for handler in handlers:
                try:
                    handler(event)
                except Exception:
                    self.failed(handler, event)

    async def close(self) -> None:
        """Stop the async subscribers' tasks (the app is shutting down)."""
        for queued in self._queued:
            await queued.stop()

    def failed(self, subscriber: Any, event: Event) -> None:
        """A subscriber raised: log it, at most once a minute per subscriber; never the publisher's problem."""
        now = time.monotonic()
        if now - self._warned.get(subscriber, -WARN_EVERY) >= WARN_EVERY:
            self._warned[subscriber] = now
            log.exception("event subscriber %s failed on %s", _name(subscriber), type(event).__name__)

    def _unsubscribe(self, kinds: tuple[type[Event], ...], handler: Callable[[Any], None]) -> None:
        for kind in kinds:
            left = tuple(h for h in self.listened.get(kind, ()) if h is not handler)
            if left:
                self.listened[kind] = left
            else:
                self.listened.pop(kind, None)
        if isinstance(handler, _Queued) and handler in self._queued:
            self._queued.remove(handler)
            handler.discard()


class _Queued:
    """An async subscriber behind a bounded queue, drained by its own task (started on the first event)."""

    def __init__(self, subscriber: Callable[[Any], Awaitable[None]], size: int, channel: Channel) -> None:
        self.subscriber = subscriber
        self.pending: deque[Event] = deque(maxlen=size)
        self.dropped = 0
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._warned_at = -WARN_EVERY

    def __call__(self, event: Event) -> None:
        pending = self.pending
        if len(pending) == pending.maxlen:
            self.dropped += 1  # the deque drops its oldest on append
        pending.append(event)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # published outside the event loop: delivered with the next event published inside it
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._drain(), name=f"gw-events-{_name(self.subscriber)}")
        self._wake.set()

    async def _drain(self) -> None:
        while True:
            while self.pending:
                if self.dropped:
                    self._lagging()
                event = self.pending.popleft()
                try:
                    await self.subscriber(event)
                except Exception:
                    self._channel.failed(self.subscriber, event)
            self._wake.clear()
            await self._wake.wait()

    def _lagging(self) -> None:
        dropped, self.dropped = self.dropped, 0
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning("event subscriber %s fell behind: %d events dropped", _name(self.subscriber), dropped)

    def discard(self) -> None:
        """Unsubscribed (from any thread): drop what is pending and end the task."""
        self.pending.clear()
        task, self._task = self._task, None
        if task is not None and not task.done() and not task.get_loop().is_closed():
            task.get_loop().call_soon_threadsafe(task.cancel)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass


def _name(subscriber: Any) -> str:
    return getattr(subscriber, "__qualname__", None) or type(subscriber).__name__
