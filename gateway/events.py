"""Live gateway events (one per exchange, plus mode and circuit changes) fanned out to listeners.

The dashboard's WebSocket (/_gw/ws) and `gw journal --follow` listen; the pipeline publishes and
never waits: each listener has a bounded queue, and a listener too slow to keep up loses its oldest
events (it is told how many), never slows a request.
"""

from __future__ import annotations

import asyncio
from typing import Any

Event = dict[str, Any]  # {"type": "exchange" | "mode" | "circuit" | ..., ...}; JSON-ready


class Subscription:
    """One listener's queue; iterate it for events, `close()` when done."""

    def __init__(self, bus: EventBus, size: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event] = asyncio.Queue(size)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    async def next(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after `timeout` seconds without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """In-process fan-out. Publishing costs nothing when nobody listens."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)

    def publish(self, event: Event) -> None:
        for subscription in self._subscriptions:
            subscription.offer(event)

    def subscribe(self, size: int = 1000) -> Subscription:
        subscription = Subscription(self, size)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
