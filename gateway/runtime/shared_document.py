"""A small JSON document of runtime switches that every gateway process sharing Redis agrees on.

A change reads the freshest shared copy, edits it, writes it back and applies it here at once; a
background task reads the shared copy every `interval` and applies what another process changed, so
all processes follow within that interval and a request never waits on Redis. A process started
later adopts the document too. Without Redis (`state.kind == "memory"`) the document is this
process's alone. (The same scheme as runtime modes, gateway/runtime/modes.py.)
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from typing import Any

from .background import Loop, follow
from .shared_state import SharedState

log = logging.getLogger("gw.state")

Document = dict[str, Any]


class SharedDocument:
    """`key` in the shared state; `apply(document)` makes this process follow it."""

    def __init__(self, state: SharedState, key: str, apply: Callable[[Document], None], what: str,
                 interval: float = 0.5) -> None:
        self.state = state.patient()  # changed by an operator, followed in the background: never on a request's path
        self.key = key
        self.apply = apply
        self.what = what  # for the one warning line when Redis is away
        self.interval = interval
        self.shared = state.kind != "memory"
        self.document: Document = {}
        self._seen: str | None = None
        self._loop = Loop(f"gw-sync-{key}")

    async def change(self, edit: Callable[[Document], None]) -> None:
        """Edit the freshest copy, share it, apply it here. StateUnavailable when Redis cannot take it."""
        document = await self._fresh() if self.shared else copy.deepcopy(self.document)
        edit(document)
        if self.shared:
            text = json.dumps(document, sort_keys=True)
            await self.state.set(self.key, text)
            self._seen = text
        self._adopt(document)

    async def _fresh(self) -> Document:
        text = await self.state.get(self.key)
        return json.loads(text) if text else copy.deepcopy(self.document)

    def _adopt(self, document: Document) -> None:
        self.document = document
        self.apply(document)

    async def sync_once(self) -> None:
        """Adopt the shared document when another process changed it."""
        text = await self.state.get(self.key)
        if text is not None and text != self._seen:
            self._seen = text
            self._adopt(json.loads(text))

    def start(self) -> None:
        if self.shared:
            unshared = f"{self.what} not shared (%s): this process keeps its own until Redis is back"
            self._loop.start(lambda: follow(self.sync_once, self.interval, log, unshared,
                                            f"reading the shared {self.what} failed"))

    async def stop(self) -> None:
        await self._loop.stop()
