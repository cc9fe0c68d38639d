"""The live feed: the event channel's news as JSON frames, fanned out to the operators listening.

The dashboard's WebSocket (/_gw/ws) and `gw journal --follow` listen. The feed subscribes to the gateway's
event channel (gateway/core/events.py) only while someone listens, so with nobody watching an exchange
publishes nothing; then it turns each event into one frame (`exchange`, `mode`, `circuit`, `chaos`,
`health`) and offers it to every listener without waiting: each listener has a bounded queue, and a
listener too slow to keep up loses its oldest frames (it is told how many), never slows a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..core.events import (
    CallbackSent,
    Channel,
    ChaosSwitched,
    CircuitChanged,
    CircuitClosed,
    CircuitHalfOpened,
    CircuitOpened,
    ExchangeFinished,
    InstanceHealthChanged,
    ModeSwitched,
)

Frame = dict[str, Any]  # {"type": "exchange" | "mode" | "circuit" | ..., ...}; JSON-ready


def _circuit(event: CircuitChanged) -> Frame:
    return {"type": "circuit", "service": event.service, "instance": event.instance, "from": event.before,
            "to": event.after}


FRAMES: dict[type, Callable[[Any], Frame]] = {  # what the feed shows, and how
    ExchangeFinished: lambda e: e.entry.event(),
    CallbackSent: lambda e: {**e.entry.event(), "callback": e.detail},
    ModeSwitched: lambda e: {"type": "mode", "service": e.service, "operation": e.operation, "mode": e.mode},
    ChaosSwitched: lambda e: {"type": "chaos", "service": e.service, "operation": e.operation, "chaos": e.chaos,
                              "switched": e.switched},
    CircuitOpened: _circuit,
    CircuitHalfOpened: _circuit,
    CircuitClosed: _circuit,
    InstanceHealthChanged: lambda e: {"type": "health", "service": e.service, "instance": e.instance,
                                      "from": e.before, "to": e.after, "detail": e.detail},
}


class Subscription:
    """One listener's queue; iterate it for frames, `close()` when done."""

    def __init__(self, bus: EventBus, size: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Frame] = asyncio.Queue(size)
        self.dropped = 0

    def offer(self, frame: Frame) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(frame)

    async def next(self, timeout: float | None = None) -> Frame | None:
        """The next frame, or None after `timeout` seconds without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """The feed's fan-out to its listeners; on the channel only while it has one."""

    def __init__(self, channel: Channel | None = None) -> None:
        self.channel = channel
        self._subscriptions: list[Subscription] = []
        self._leave: Callable[[], None] | None = None

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)

    def publish(self, frame: Frame) -> None:
        """Offer one frame to every listener."""
        for subscription in self._subscriptions:
            subscription.offer(frame)

    def subscribe(self, size: int = 1000) -> Subscription:
        subscription = Subscription(self, size)
        self._subscriptions.append(subscription)
        if self.channel is not None and self._leave is None:
            self._leave = self.channel.subscribe(FRAMES, self._heard)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        if not self._subscriptions and self._leave is not None:
            self._leave, leave = None, self._leave
            leave()

    def _heard(self, event: Any) -> None:
        self.publish(FRAMES[type(event)](event))
