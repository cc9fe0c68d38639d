"""Chaos switched at runtime (admin API, `gw chaos`): per service and per operation, in every process.

The switches live here, in runtime state, never in the settings objects: gateway.yaml's chaos stays
what the file says, and a cleared switch gives it back. With `redis_url` they are one shared document
(`gw:chaos`) that every process follows within half a second (gateway/runtime/shared_document.py).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from ..core.events import Channel, ChaosSwitched
from ..runtime.shared_document import Document, SharedDocument
from ..runtime.shared_state import SharedState
from ..settings.chaos import ChaosSettings, check_chaos
from ..settings.policy_settings import SettingsError

log = logging.getLogger("gw.chaos")

KEY = "chaos"
Target = tuple[str, str | None]  # (service, operation key or None for the whole service)


class ChaosSwitches:
    """The runtime switches of this process, kept equal to the shared document."""

    def __init__(self, services: Collection[str], state: SharedState, events: Channel) -> None:
        self.services = set(services)
        self.events = events
        self.table: dict[Target, ChaosSettings] = {}
        self.active = False  # any switch at all: the one check a request pays when none is set
        self.document = SharedDocument(state, KEY, self._apply, "chaos switches")

    def get(self, service: str, operation: str | None) -> ChaosSettings | None:
        return self.table.get((service, operation))

    async def set(self, service: str, operation: str | None, settings: ChaosSettings) -> None:
        await self.document.change(lambda d: _entries(d, service).__setitem__(operation or "*", settings.to_json()))

    async def clear(self, service: str, operation: str | None) -> None:
        await self.document.change(lambda d: _entries(d, service).pop(operation or "*", None))

    def start(self) -> None:
        self.document.start()

    async def stop(self) -> None:
        await self.document.stop()

    def _apply(self, document: Document) -> None:
        """Parse the document (as written by set(), maybe by another process) and announce what changed."""
        table: dict[Target, ChaosSettings] = {}
        for service, entries in document.items():
            for key, raw in (entries or {}).items():
                try:
                    table[(service, None if key == "*" else key)] = check_chaos(raw)
                except SettingsError as exc:  # written by another version of gw: not followed, said once
                    log.warning("chaos switch for %s %s not followed: %s", service, key, exc)
        before, self.table = self.table, table
        self.active = bool(table)
        for target in sorted(set(before) | set(table), key=lambda t: (t[0], t[1] or "")):
            if before.get(target) != table.get(target):
                self._announce(target, table.get(target))

    def _announce(self, target: Target, settings: ChaosSettings | None) -> None:
        service, operation = target
        text = settings.describe() if settings is not None else "cleared (gateway.yaml's, if any)"
        log.warning("chaos of %s%s: %s", service, f" {operation}" if operation else "", text,
                    extra={"fields": {"event": "chaos", "service": service, "operation": operation, "chaos": text}})
        self.events.publish(ChaosSwitched(service, operation, text, settings is not None))


def _entries(document: Document, service: str) -> dict[str, Any]:
    return document.setdefault(service, {})
