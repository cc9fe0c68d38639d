"""Runtime modes: switch a service's (or one operation's) mode while the gateway runs.

ModeDispatch reads `config.services[name].mode_for(key)` on every request, so a switch is a change
to those ServiceConfig objects: no lookup is added to the hot path, and a hot reload (which
re-assembles the pipeline over the same config objects) keeps it.

With `redis_url` set, every switch is also written to one shared document (`gw:modes`) of
overrides on top of each process's gateway.yaml, and a background task reads it every
SYNC_INTERVAL and applies what another process changed: all processes follow within half a
second, and a request never waits on Redis (gateway/shared_document.py). A process started later
adopts the overrides too. Each change (local or adopted) is published on the event bus as a `mode` event.
"""

from __future__ import annotations

import logging
from typing import Any

from .config import MODES, ServiceConfig
from .core.events import Channel, ModeSwitched
from .shared_document import Document, SharedDocument
from .shared_state import SharedState

log = logging.getLogger("gw.modes")

KEY = "modes"
SYNC_INTERVAL = 0.5


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


class Modes:
    """Switches modes in this process and, through the shared state, in every process."""

    def __init__(self, settings: dict[str, ServiceConfig], state: SharedState, events: Channel) -> None:
        self.settings = settings
        self.state = state
        self.events = events
        self.baseline = {name: (s.mode, {k: dict(v) for k, v in s.operations.items()}) for name, s in settings.items()}
        self.overrides = Overrides()
        self.document = SharedDocument(state, KEY, lambda document: self.apply(Overrides(document)), "modes",
                                       SYNC_INTERVAL)
        self.shared = self.document.shared

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

    def apply(self, overrides: Overrides) -> None:
        """Make the config objects say baseline + overrides; publish a `mode` event per change."""
        before = self.table()
        self.overrides = overrides
        for name, settings in self.settings.items():
            mode, operations = self.baseline[name]
            settings.mode = overrides.services.get(name, mode)
            merged = {k: dict(v) for k, v in operations.items()}
            for key, op_mode in overrides.operations.get(name, {}).items():
                entry = merged.setdefault(key, {})
                if op_mode is None:
                    entry.pop("mode", None)
                else:
                    entry["mode"] = op_mode
            settings.operations = merged
        self._announce(before, self.table())

    def table(self) -> dict[tuple[str, str | None], str]:
        """(service, None) -> mode and (service, operation) -> mode for every operation with a mode of its own."""
        table: dict[tuple[str, str | None], str] = {}
        for name, settings in self.settings.items():
            table[(name, None)] = settings.mode
            for key, override in settings.operations.items():
                if "mode" in override:
                    table[(name, key)] = override["mode"]
        return table

    def effective(self, service: str, operation: str | None = None) -> tuple[str, str]:
        """The mode in effect for a service (or one operation) and where it comes from: `runtime` (switched),
        `gateway.yaml`, or `service` (an operation without a mode of its own follows its service's)."""
        settings = self.settings[service]
        if operation is None:
            return settings.mode, "runtime" if service in self.overrides.services else "gateway.yaml"
        own = settings.operations.get(operation, {})
        if "mode" not in own:
            return settings.mode, "service"
        switched = self.overrides.operations.get(service, {}).get(operation) is not None
        return own["mode"], "runtime" if switched else "gateway.yaml"

    def _announce(self, before: dict[tuple[str, str | None], str], after: dict[tuple[str, str | None], str]) -> None:
        for service, operation in sorted(set(before) | set(after), key=lambda k: (k[0], k[1] or "")):
            old, new = before.get((service, operation)), after.get((service, operation))
            if old == new:
                continue
            mode = new if new is not None else self.settings[service].mode  # a cleared override: its service's mode
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
