"""Run the gateway on uvicorn, in this process or as `workers` processes sharing the port."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import uvicorn

from .app import GatewayApp, build_app
from .config import GatewayConfig, apply_overrides, config_for_specs, load_config
from .connections import make_room_for_connections, uvicorn_limits
from .logs import setup_logging
from .metrics import multiprocess_dir

SERVE_ARGS = "GW_SERVE_ARGS"


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
    """What `gw serve` was given, so each worker process can build the same gateway."""

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
        apply_overrides(config, self.mode, self.upstream or None, self.timeout, self.retries)
        if self.host:
            config.host = self.host
        if self.port:
            config.port = self.port
        if self.workers:
            config.workers = self.workers
        if self.keep_going:
            config.keep_going = True
        for service in config.services.values():
            service.dynamic = service.dynamic or self.dynamic
        return config


def worker_app() -> GatewayApp:
    """uvicorn's factory in each worker process: rebuilds the gateway from GW_SERVE_ARGS."""
    args = ServeArgs(**json.loads(os.environ[SERVE_ARGS]))
    config = args.config_obj()
    setup_logging(config.log_format, config.log_level)
    return _served(build_app(config))


def _served(app: GatewayApp) -> GatewayApp:
    """An app this process serves until it ends: what it loaded at start-up can leave the GC's sight."""
    app.freeze_objects = True
    return app


def uvicorn_options(config: GatewayConfig) -> dict:
    """How uvicorn runs the gateway; tests use the same. Our own access log replaces uvicorn's, and
    X-Forwarded-* from clients is not trusted (the forwarder appends the peer it really saw). uvicorn's
    loggers write through gw's handler (`setup_logging`), not a logging config of uvicorn's own. Connections
    are bounded by `server:` (gateway/connections.py), whose protocol is uvicorn's httptools one; the event
    loop is uvloop's (`event_loop`)."""
    return dict(host=config.host, port=config.port, log_level="warning", access_log=False, log_config=None,
                server_header=False, proxy_headers=False, lifespan="on", loop=event_loop(),
                **uvicorn_limits(config.server))


def event_loop() -> str:
    """uvloop, named rather than left to uvicorn's "auto" (which quietly falls back): every request's I/O runs
    on the loop, and uvloop's is the faster one. uvicorn[standard] installs it wherever it builds; where it
    does not (Windows), asyncio's."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


WORKER_START_GRACE = 120  # seconds a worker may take to load its specs before uvicorn deems it hung


def serve(args: ServeArgs, config: GatewayConfig, app: GatewayApp | None = None) -> None:
    """Block serving until interrupted. With one worker the already built `app` is served."""
    options = uvicorn_options(config)
    make_room_for_connections(config.server.max_connections)
    if config.workers > 1:
        os.environ[SERVE_ARGS] = json.dumps(asdict(args))
        # Workers count into files in a fresh folder that every scrape adds up (gateway/metrics.py).
        with multiprocess_dir() if config.metrics else contextlib.nullcontext():
            # uvicorn restarts a worker that has not answered its supervisor within `timeout_worker_healthcheck`
            # (5 s by default); a worker loading large specs on a busy box takes longer, and was killed and
            # restarted over and over: `--workers 2` then took 12-25 s, or never started. Loading is not hanging.
            uvicorn.run(f"{__package__}.server:worker_app", factory=True, workers=config.workers,
                        timeout_worker_healthcheck=WORKER_START_GRACE, **options)
    else:
        uvicorn.run(_served(app or build_app(config)), **options)
