"""A process's background loops (following the shared state, listening to the other processes): one task
each, started with the app and cancelled when it stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from .shared_state import StateUnavailable


class Loop:
    """One named task, started at most once, cancelled and awaited by `stop`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self, work: Callable[[], Awaitable[None]]) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(work(), name=self.name)  # type: ignore[arg-type]

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def follow(sync_once: Callable[[], Awaitable[None]], interval: float, log: logging.Logger, unshared: str,
                 failed: str) -> None:
    """`sync_once()` every `interval`, for ever. An unreachable shared state is logged once (`unshared`, with the
    reason) until it answers again; any other failure (a bad value in the store) is logged and never ends the loop."""
    warned = False
    while True:
        try:
            await sync_once()
            warned = False
        except StateUnavailable as exc:
            if not warned:
                log.warning(unshared, exc)
                warned = True
        except Exception:
            log.exception(failed)
        await asyncio.sleep(interval)
