"""A hot reload reads specs in a worker process with a deadline and a memory cap.

A spec edited in while serving may be hostile or just pathological: huge, nested 100,000 deep, or
slow to bundle, resolve and check. Parsed in the serving process it would hold a core (and the GIL)
with nothing able to stop it, and the reload loop behind it would never run again. So each spec is
first loaded in full by a child process, forked from the gateway (its modules are already imported,
so a worker starts in milliseconds; a fork server's children took seconds), that is killed at
`reload_timeout`, may add at most `reload_max_memory`, and refuses files over `reload_max_spec_size`.
Only a spec that loaded there is built in the gateway, from the very document the child read (handed
back pickled, so a file changed in between cannot slip past). Stub files are reloaded the same way.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings.config import GatewayConfig, ServiceConfig
from ..spec.checks import checker_for
from ..spec.fetch import fetch_spec, is_url
from ..spec.load import Bundled, Service, SpecError, bundle_spec, load_service, read_document
from ..stubs import StubStore
from ..stubs.format import StubError

log = logging.getLogger("gw.reload")

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class Bounds:
    """What one spec's reload may take."""

    timeout: float  # seconds, wall clock, for reading, bundling and building the spec
    max_spec_size: int  # bytes, per file read (the spec and the files its $refs bring in)
    max_memory: int  # bytes the worker may add to what it starts with

    @classmethod
    def of(cls, config: GatewayConfig) -> Bounds:
        return cls(config.reload_timeout, config.reload_max_spec_size, config.reload_max_memory)


def bounded_loader(config: GatewayConfig, bounds: Bounds) -> Callable[[ServiceConfig], Service]:
    """A loader for `load_services`: each spec tried in a worker first, then built here from what it read."""

    def load(settings: ServiceConfig) -> Service:
        spec_file = config.spec_path(settings)
        raw, unresolved, note = trial(config, settings, bounds)
        service = load_service(settings.name, spec_file, settings.base_path, "cached", bundled=(raw, unresolved))
        service.warnings[:0] = [note] if note else []
        return service

    return load


def trial(config: GatewayConfig, settings: ServiceConfig, bounds: Bounds) -> tuple[dict[str, Any], list[Any], str | None]:
    """Load the spec in a worker process within `bounds`: the bundled document, its unresolved references
    and the fetch note on success; SpecError (one located line) when it failed or went past a bound."""
    spec_file = config.spec_path(settings)
    checker_for({})  # imported here, once: the worker inherits it, so its deadline bounds this spec's load, not gw's imports
    try:
        outcome, payload = run_bounded(_work, (config, settings, bounds), bounds)
    except Refused as exc:
        raise SpecError(str(spec_file), "", str(exc)) from None
    if outcome == "error":
        source, key, reason = payload
        raise SpecError(source, key, reason)
    raw, unresolved = pickle.loads(payload[0])
    return raw, unresolved, payload[1]


class Refused(Exception):
    """The worker went past a bound (time, memory) or died: one line saying which; `file`: the file it was reading
    when the deadline passed, where it said (`reading`)."""

    def __init__(self, reason: str, file: str | None = None) -> None:
        super().__init__(reason)
        self.file = file


READING = "reading"  # a worker's note before each file it reads: ("reading", path), then its one answer


def reading(sender: Any) -> Callable[[Path | None], None]:
    """For a worker that reads many files: tell the gateway each one before it is read (`Refused.file`), and
    None once every one is read (a deadline passed while the answer is put together names no file)."""
    return lambda file: sender.send_bytes(pickle.dumps((READING, None if file is None else str(file)),
                                                       protocol=pickle.HIGHEST_PROTOCOL))


def run_bounded(target: Any, args: tuple[Any, ...], bounds: Bounds) -> Any:
    """`target(sender, *args)` in a worker process; what it sent (pickled), or Refused when it took longer than
    `bounds.timeout` (it is killed: nothing of it keeps running; the file it said it was `reading` is named) or
    stopped without an answer. Blocks: call it from a thread (`asyncio.to_thread`), never on the event loop. One
    worker at a time (the poller and the admin API may both reload): memory stays within one `reload_max_memory`,
    and multiprocessing's child list is not thread-safe."""
    with _ONE_AT_A_TIME:
        return _run(target, args, bounds)


_ONE_AT_A_TIME = threading.Lock()


def _run(target: Any, args: tuple[Any, ...], bounds: Bounds) -> Any:
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=target, args=(sender, *args), name="gw reload", daemon=True)
    worker.start()
    sender.close()
    deadline = time.monotonic() + bounds.timeout
    file = None
    try:
        while True:
            if not receiver.poll(max(0.0, deadline - time.monotonic())):
                raise Refused(f"loading took longer than reload_timeout ({bounds.timeout:g} s)", file)
            try:
                message = pickle.loads(receiver.recv_bytes())
            except (EOFError, OSError):
                worker.join(1)
                raise Refused(_died(worker.exitcode, bounds)) from None
            if message[0] != READING:
                return message
            file = message[1]
    finally:
        receiver.close()
        if worker.is_alive():
            worker.kill()
        worker.join(5)
        with contextlib.suppress(ValueError):
            worker.close()


def _died(exitcode: int | None, bounds: Bounds) -> str:
    return (f"the loader stopped (exit code {exitcode}), most likely past reload_max_memory "
            f"({bounds.max_memory / 2**20:g} MiB)")


def _context() -> Any:
    """Fork where there is fork (the worker only reads files and builds plain data, then exits; Python renews
    the import and logging locks in a forked child), else spawn (Windows: slower to start, same bounds)."""
    return multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")


def reload_stubs(store: StubStore, bounds: Bounds) -> str | None:
    """Read the store's files again in a worker within `bounds`, and swap them in; each broken file is logged
    and skipped. When the worker goes past a bound, the store keeps what it had: the reason is returned."""
    try:
        outcome, payload = run_bounded(_stubs_work, (store.root, store.services, bounds), bounds)
    except Refused as exc:
        outcome, payload, where = "error", str(exc), exc.file or store.root  # the file past the deadline, named
    else:
        where = store.root
    if outcome == "error":
        log.error("stubs not reloaded, keeping the ones loaded before: %s: %s", where, payload)
        return f"{where}: {payload}"
    stubs, errors = payload
    store.replace(stubs, [StubError(*error) for error in errors])
    for error in store.errors:
        log.warning("stub skipped: %s", error)
    return None


# -- in the worker ---------------------------------------------------------------------------------


def _work(sender: Any, config: GatewayConfig, settings: ServiceConfig, bounds: Bounds) -> None:
    """Read, bundle and build the spec as the gateway would; send back the document it read, or the error."""
    _in_worker(bounds)
    spec_file = config.spec_path(settings)
    try:
        note = fetch_spec(settings.spec, read=_sized_reader(bounds.max_spec_size))[1] if is_url(settings.spec) else None
        bundled: Bundled = bundle_spec(spec_file, _sized_reader(bounds.max_spec_size))
        document = pickle.dumps(bundled, protocol=pickle.HIGHEST_PROTOCOL)  # before building changes it
        load_service(settings.name, spec_file, settings.base_path, "cached", bundled=bundled)
        message: tuple[str, Any] = ("ok", (document, note))
    except SpecError as exc:
        message = ("error", (exc.source, exc.key, exc.reason))
    except MemoryError:
        message = ("error", (str(spec_file), "", f"loading needs more than reload_max_memory "
                                                 f"({bounds.max_memory / 2**20:g} MiB)"))
    except RecursionError:
        message = ("error", (str(spec_file), "", "the document nests too deeply to read"))
    except Exception as exc:  # the gateway reports it as one line, whatever it was
        message = ("error", (str(spec_file), "", f"could not be loaded ({type(exc).__name__}: {exc})"))
    try:
        sender.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
    except (MemoryError, RecursionError):
        sender.send_bytes(pickle.dumps(("error", (str(spec_file), "", "the document is too large or nests too "
                                                  "deeply to hand over"))))


def _stubs_work(sender: Any, root: Path, services: list[str], bounds: Bounds) -> None:
    """Read every stub file as the gateway would; send back the stubs and the broken files' errors."""
    _in_worker(bounds)
    try:
        tell = reading(sender)
        store = StubStore(root, services, tell)
        tell(None)
        message: tuple[str, Any] = ("ok", (store.stubs, [(e.source, e.key, e.reason) for e in store.errors]))
        sender.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
    except (MemoryError, RecursionError) as exc:
        reason = "loading needs more than reload_max_memory" if isinstance(exc, MemoryError) else "a file nests too deeply"
        sender.send_bytes(pickle.dumps(("error", reason)))


def _in_worker(bounds: Bounds) -> None:
    """The worker's memory and CPU caps; its logging off (the gateway reports what the worker sends back); the
    server's signal handling undone, so SIGTERM ends a forked worker and no signal of its own reaches the gateway's
    loop. The CPU cap ends the worker even when the gateway died (kill -9) before it could."""
    _cap_memory(bounds.max_memory)
    _cap_cpu(bounds.timeout)
    logging.getLogger("gw").disabled = True
    with contextlib.suppress(ValueError, OSError):
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_DFL)


def _sized_reader(limit: int) -> Any:
    def read(path: Path) -> dict[str, Any]:
        try:
            size = path.stat().st_size
        except OSError:
            size = 0  # read_document reports it
        if size > limit:
            raise SpecError(str(path), "", f"the file is {size / 2**20:.1f} MiB, over reload_max_spec_size "
                                           f"({limit / 2**20:g} MiB)")
        return read_document(path)

    return read


def _cap_cpu(timeout: float) -> None:
    try:
        import resource

        seconds = math.ceil(timeout) + 1  # past the soft limit the kernel sends SIGXCPU (ends it), past the hard SIGKILL
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    except (ImportError, OSError, ValueError):
        pass


def _cap_memory(budget: int) -> None:
    """Let the worker's address space grow by `budget` bytes at most: past it, allocations fail (MemoryError)."""
    try:
        import resource

        with open("/proc/self/statm") as statm:
            in_use = int(statm.read().split()[0]) * _PAGE
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        soft = in_use + budget if hard == resource.RLIM_INFINITY else min(in_use + budget, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except (ImportError, OSError, ValueError):
        pass  # no /proc or no rlimits (not Linux): the deadline still bounds the worker
