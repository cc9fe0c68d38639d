"""Runtime modes: switch a service's (or one operation's) mode while the gateway runs.

The settings (gateway.yaml) are frozen: the mode *now* lives here, one `ServiceModes` per service, built
from the settings' modes plus what was switched. ModeDispatch reads `modes.now[name].mode_for(key)` on
every request (two dict lookups, as before), a switch updates those objects in place, and a hot reload
(which re-assembles the pipeline over the same Modes) keeps it.

With `redis_url` set, every switch is also written to one shared document (`gw:modes`) of
overrides on top of each process's gateway.yaml, and a background task reads it every
SYNC_INTERVAL and applies what another process changed: all processes follow within half a
second, and a request never waits on Redis (gateway/runtime/shared_document.py). A process started later
adopts the overrides too. Each change (local or adopted) is published on the event bus as a `mode` event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..core.events import Channel, ModeSwitched
from ..settings.config import MODES, ServiceConfig
from .shared_document import Document, SharedDocument
from .shared_state import SharedState

log = logging.getLogger("gw.modes")

KEY = "modes"
SYNC_INTERVAL = 0.5


# where a mode in effect comes from (`Modes.effective`)
FROM_RUNTIME = "runtime"  # switched while running (admin API, dashboard, `gw mode`), in this process or another
FROM_SETTINGS = "gateway.yaml"  # as the settings say
FROM_SERVICE = "service"  # an operation without a mode of its own follows its service's


class ModeError(Exception):
    """An unknown service, operation or mode: the admin API answers 404 or 400 with this message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Overrides:
    """What was switched at runtime: `services: {name: mode}`, `operations: {name: {key: mode | None}}`.

    None for an operation means "cleared": it follows its service, whatever gateway.yaml said.
    """

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data or {}
        self.services: dict[str, str] = dict(data.get("services") or {})
        self.operations: dict[str, dict[str, str | None]] = {k: dict(v) for k, v in (data.get("operations") or {}).items()}

    def to_document(self) -> Document:
        return {"services": self.services, "operations": self.operations}


class ServiceModes:
    """One service's modes now: its own, and those of operations that have one of their own."""

    __slots__ = ("mode", "operations")

    def __init__(self, mode: str, operations: dict[str, str]) -> None:
        self.mode, self.operations = mode, operations

    def mode_for(self, operation_key: str) -> str:
        return self.operations.get(operation_key, self.mode)

    def has_own(self, operation_key: str) -> bool:
        return operation_key in self.operations


class Modes:
    """Switches modes in this process and, through the shared state, in every process."""

    def __init__(self, settings: Mapping[str, ServiceConfig], state: SharedState, events: Channel) -> None:
        self.settings = settings
        self.state = state
        self.events = events
        self.baseline = {name: (s.mode, {k: o.mode for k, o in s.operations.items() if o.mode is not None})
                         for name, s in settings.items()}  # what gateway.yaml says, never changed
        self.now = {name: ServiceModes(mode, dict(operations)) for name, (mode, operations) in self.baseline.items()}
        self.overrides = Overrides()
        self.document = SharedDocument(state, KEY, lambda document: self.apply(Overrides(document)), "modes",
                                       SYNC_INTERVAL)

    # -- switching -----------------------------------------------------------------------------

    async def set_service(self, service: str, mode: str) -> None:
        self._check(service, mode)
        await self._change(lambda o: o.services.__setitem__(service, mode))

    async def set_operation(self, service: str, operation: str, mode: str) -> None:
        self._check(service, mode)
        await self._change(lambda o: o.operations.setdefault(service, {}).__setitem__(operation, mode))

    async def clear_operation(self, service: str, operation: str) -> None:
        self._check(service, None)
        await self._change(lambda o: o.operations.setdefault(service, {}).__setitem__(operation, None))

    def _check(self, service: str, mode: str | None) -> None:
        """Services and modes; the caller checks operations against the loaded spec."""
        if service not in self.settings:
            raise ModeError(404, f"no service {service!r}; services: {', '.join(self.settings)}")
        if mode is not None and mode not in MODES:
            raise ModeError(400, f"mode must be one of {', '.join(MODES)}, got {mode!r}")

    async def _change(self, edit: Any) -> None:
        """Edit the freshest shared overrides, write them back, apply them here at once."""

        def edited(document: Document) -> None:
            overrides = Overrides(document)
            edit(overrides)
            document.clear()
            document.update(overrides.to_document())

        await self.document.change(edited)

    # -- applying ------------------------------------------------------------------------------

    def mode_for(self, service: str, operation_key: str) -> str:
        """The operation's mode now."""
        return self.now[service].mode_for(operation_key)

    def mode_of(self, service: str) -> str:
        """The service's mode now."""
        return self.now[service].mode

    def apply(self, overrides: Overrides) -> None:
        """Make the modes now say baseline + overrides; publish a `mode` event per change."""
        before = self.table()
        self.overrides = overrides
        for name, now in self.now.items():
            mode, operations = self.baseline[name]
            merged = dict(operations)
            for key, op_mode in overrides.operations.get(name, {}).items():
                if op_mode is None:
                    merged.pop(key, None)
                else:
                    merged[key] = op_mode
            now.mode, now.operations = overrides.services.get(name, mode), merged
        self._announce(before, self.table())

    def table(self) -> dict[tuple[str, str | None], str]:
        """(service, None) -> mode and (service, operation) -> mode for every operation with a mode of its own."""
        table: dict[tuple[str, str | None], str] = {}
        for name, now in self.now.items():
            table[(name, None)] = now.mode
            table.update({(name, key): mode for key, mode in now.operations.items()})
        return table

    def effective(self, service: str, operation: str | None = None) -> tuple[str, str]:
        """The mode in effect for a service (or one operation) and where it comes from: `runtime` (switched),
        `gateway.yaml`, or `service` (an operation without a mode of its own follows its service's)."""
        now = self.now[service]
        if operation is None:
            return now.mode, FROM_RUNTIME if service in self.overrides.services else FROM_SETTINGS
        if not now.has_own(operation):
            return now.mode, FROM_SERVICE
        switched = self.overrides.operations.get(service, {}).get(operation) is not None
        return now.mode_for(operation), FROM_RUNTIME if switched else FROM_SETTINGS

    def _announce(self, before: dict[tuple[str, str | None], str], after: dict[tuple[str, str | None], str]) -> None:
        for service, operation in sorted(set(before) | set(after), key=lambda k: (k[0], k[1] or "")):
            old, new = before.get((service, operation)), after.get((service, operation))
            if old == new:
                continue
            mode = new if new is not None else self.now[service].mode  # a cleared override: its service's mode
            log.warning("mode of %s%s is now %s", service, f" {operation}" if operation else "", mode,
                        extra={"fields": {"event": "mode", "service": service, "operation": operation, "mode": mode}})
            self.events.publish(ModeSwitched(service, operation, mode))

    # -- following other processes ---------------------------------------------------------------

    def start(self) -> None:
        self.document.start()

    async def stop(self) -> None:
        await self.document.stop()

    async def sync_once(self) -> None:
        """Adopt the shared overrides when another process changed them."""
        await self.document.sync_once()
