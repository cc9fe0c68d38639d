"""Run the gateway on uvicorn, in this process or as `workers` forked processes sharing the port."""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from ..app import GatewayApp, build_app
from ..operator.metrics import multiprocess_dir
from ..settings.config import GatewayConfig, apply_overrides, config_for_specs, load_config
from ..spec.checks import defer_background_checks, start_deferred_checks
from .connections import make_room_for_connections, uvicorn_limits
from .workers import Supervisor


def is_gateway_config(path: Path) -> bool:
    """Whether a `gw serve` source is a gateway.yaml (it has `services:`) rather than an OpenAPI document
    (`openapi:` or `swagger:`)."""
    if path.suffix not in (".yaml", ".yml"):
        return False
    if path.name in ("gateway.yaml", "gateway.yml"):
        return True
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return "services:" in head and "openapi:" not in head and "swagger:" not in head


@dataclass
class ServeArgs:
    """What `gw serve` was given."""

    config: str | None = None
    specs: list[str] = field(default_factory=list)
    mode: str | None = None
    upstream: list[str] = field(default_factory=list)
    timeout: float | None = None
    retries: int | None = None
    keep_going: bool = False
    host: str | None = None
    port: int | None = None
    workers: int | None = None
    dynamic: bool = False  # generated bodies for every service's operations

    def config_obj(self) -> GatewayConfig:
        config = config_for_specs(self.specs) if self.specs else load_config(self.config)
        config = apply_overrides(config, self.mode, self.upstream or None, self.timeout, self.retries)
        top = {"host": self.host or None, "port": self.port or None, "workers": self.workers or None,
               "keep_going": self.keep_going or None}
        flags: dict[str, Any] = {key: value for key, value in top.items() if value is not None}
        if self.dynamic:
            flags["services"] = {name: {"dynamic": True} for name in config.services}
        return config.with_flags(flags) if flags else config


def _served(app: GatewayApp) -> GatewayApp:
    """An app this process serves until it ends: what it loaded at start-up can leave the GC's sight."""
    app.freeze_objects = True
    return app


def uvicorn_options(config: GatewayConfig) -> dict:
    """How uvicorn runs the gateway; tests use the same. Our own access log replaces uvicorn's, and
    X-Forwarded-* from clients is not trusted (the forwarder appends the peer it really saw). uvicorn's
    loggers write through gw's handler (`setup_logging`), not a logging config of uvicorn's own. Connections
    are bounded by `server:` (gateway/server/connections.py, gw's own HTTP/1.1 protocol on httptools); the event
    loop is uvloop's (`event_loop`)."""
    return dict(host=config.host, port=config.port, log_level="warning", access_log=False, log_config=None,
                server_header=False, proxy_headers=False, lifespan="on", loop=event_loop(),
                **uvicorn_limits(config.server))


def event_loop() -> str:
    """uvloop, named rather than left to uvicorn's "auto" (which quietly falls back): every request's I/O runs
    on the loop, and uvloop's is the faster one. uvicorn[standard] installs it wherever it builds; where it
    does not (Windows), asyncio's."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def prepare_serving(config: GatewayConfig) -> None:
    """Before anything is loaded for `gw serve`. The cyclic garbage collector pauses until serving starts: what
    loads now lives as long as the process, and each full collection walked all of it again (a quarter of a
    large spec's start-up). The spec checks that run in a thread wait until serving starts (in the workers with
    `--workers N`: a thread must not be running when the process forks). For `--workers N`, metrics count into
    files every worker adds to (made now, so the app's counters are made in that mode). What was imported so far
    lives as long as the process too: frozen now, the one collection before serving (`_keep_loaded`) leaves it alone."""
    gc.disable()
    gc.freeze()
    defer_background_checks()  # started when serving starts: the load does not share the CPU with them
    if config.workers <= 1 or _prepared:
        return
    _prepared.add(config.workers)
    atexit.register(_cleanup.close)  # also when the CLI stops before serving (a spec that does not load)
    if config.metrics:
        _cleanup.enter_context(multiprocess_dir())


_prepared: set[int] = set()  # not empty once prepared
_cleanup = contextlib.ExitStack()  # the metrics folder, removed when serving ends


def keep_loaded_specs() -> None:
    """The specs are loaded (`gw serve`, before the app is built from them) and live as long as the process: frozen
    out of the collector's walks now, so the one collection before serving walks only the app built from them.
    A load leaves no garbage cycles behind (none found on Kubernetes' or GitHub's spec); that collection walking
    the whole load again cost 0.1 s of Kubernetes' start and 0.2 s of GitHub's."""
    gc.freeze()


def serve(args: ServeArgs, config: GatewayConfig, app: GatewayApp | None = None) -> None:
    """Block serving until interrupted: `app` (built from `config` when not given) in this process, or, with
    `workers` > 1, in that many forked workers (gateway/server/workers.py). `prepare_serving` comes before the app is built."""
    options = uvicorn_options(config)
    make_room_for_connections(config.server.max_connections)
    if config.workers <= 1:
        app = _served(app or build_app(config))
        _keep_loaded()
        start_deferred_checks(leader=True)
        uvicorn.run(app, **options)
        return
    prepare_serving(config)  # done already when the CLI built `app`
    app = _served(app or build_app(config))
    _keep_loaded()  # before the fork: the workers' collections then leave the shared pages alone
    with _cleanup:
        supervisor = Supervisor(uvicorn.Config(app, **options), config.workers, config.server.drain_timeout,
                                on_fork=_in_each_worker)
        code = supervisor.run()
    if code:
        raise SystemExit(code)


def _keep_loaded() -> None:
    """What was loaded lives as long as the process: one collection (the load's own garbage cycles), then frozen
    out of the collector's later walks (the lifespan sees it frozen and leaves it), and the collector, paused by
    `prepare_serving`, on again. Re-enabled before freezing, it could walk the whole load once more first."""
    gc.collect()
    gc.freeze()
    gc.enable()


def _in_each_worker(index: int) -> None:
    """A new worker: the first works out the specs' deferred checks, the others take its results."""
    start_deferred_checks(leader=index == 0)
