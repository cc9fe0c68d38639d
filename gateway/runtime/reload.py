"""Hot reload: a running gateway picks up edited or added stub files and specs.

Polling, once a second by default: a stat per file is cheap for stores of thousands of stubs,
needs no watcher service, and behaves the same on every filesystem. A broken stub file is
reported and skipped; a broken spec is reported and the service keeps its last good version.
Specs are read in a bounded worker process (gateway/runtime/reload_worker.py): a hostile edit costs at most
`reload_timeout` and `reload_max_memory`, is refused with one line, and later edits reload as usual.

It is handed what it needs by the app that assembles it (the stub store, a way to load the specs, the services
served now, the swap, and of the settings only the polling interval, the bounds and each service's spec file),
never the app or the whole settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..settings.config import SPEC_SUFFIXES
from ..spec.load import LoadResult
from .reload_worker import Bounds, reload_stubs

if TYPE_CHECKING:
    from ..spec.load import Service
    from ..stubs import StubStore

log = logging.getLogger("gw.reload")
Snapshot = dict[Path, tuple[int, int]]


class Reloader:
    """Follows the stub files and the spec files; `load()` loads every spec (bounded by `bounds`), `current()`
    is the services served now, `swap` puts a new set in (the app re-assembles its pipeline around it).
    `spec_paths`: each configured service's spec file (its folder is watched); `interval`: seconds between polls."""

    def __init__(self, stubs: StubStore, load: Callable[[], LoadResult], current: Callable[[], dict[str, Service]],
                 swap: Callable[[LoadResult], None], interval: float, bounds: Bounds, spec_paths: Mapping[str, Path]) -> None:
        self.stubs = stubs
        self.interval = interval
        self.bounds = bounds
        self.spec_paths = spec_paths
        self.load = load
        self.current = current
        self.swap = swap
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stubs, self._specs = self.stub_files(), self.spec_files()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:  # a reload must never take the gateway down
                log.exception("reload failed")

    async def check(self) -> None:
        stubs, specs = await asyncio.to_thread(lambda: (self.stub_files(), self.spec_files()))
        if specs != self._specs:
            self._specs = specs
            await asyncio.to_thread(self.reload_specs)
        if stubs != self._stubs:
            self._stubs = stubs
            await asyncio.to_thread(reload_stubs, self.stubs, self.bounds)
            count = len(self.stubs.all())
            log.warning("stubs reloaded: %d stubs, %d broken files", count, len(self.stubs.errors))

    def reload_specs(self) -> None:
        fresh = self.load()
        services = dict(self.current())
        for error in fresh.errors:
            log.error("spec not reloaded, keeping the last good one: %s", error)
        services.update(fresh.services)
        # a service still served from its last good spec is not an error for readiness
        errors = [] if set(services) == set(self.spec_paths) else fresh.errors
        self.swap(LoadResult(services, errors))
        log.warning("specs reloaded: %s", ", ".join(sorted(fresh.services)) or "none")

    def stub_files(self) -> Snapshot:
        root = self.stubs.root
        found: Snapshot = {}
        if root.is_dir():
            for folder in root.iterdir():
                if folder.is_dir():
                    found.update(_stat_all(p for p in folder.iterdir() if p.is_file()))
        return found

    def spec_files(self) -> Snapshot:
        folders = {path.resolve().parent for path in self.spec_paths.values()}
        return _stat_all(p for folder in folders if folder.is_dir() for p in folder.iterdir()
                         if p.suffix in SPEC_SUFFIXES)


def _stat_all(paths: object) -> Snapshot:
    found: Snapshot = {}
    for path in paths:  # type: ignore[attr-defined]
        try:
            stat = path.stat()
        except OSError:
            continue
        found[path] = (stat.st_mtime_ns, stat.st_size)
    return found
