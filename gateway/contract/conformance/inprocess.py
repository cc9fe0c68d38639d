"""The gateway served by uvicorn in a background thread on a free loopback port.

`gw contract --target stub|live` tests a real HTTP gateway without asking the user to start one,
and the test suite uses the same class: real HTTP, started in well under a second.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from ...app import GatewayApp, LoadResult, build_app
from ...core.port_check import free_port
from ...server.runner import uvicorn_options
from ...settings.config import GatewayConfig


class InProcessGateway:
    """Build the gateway for `config` and serve it on 127.0.0.1:<free port> while the `with` block runs.

    `log_level` is uvicorn's own; "error" keeps its per-request warnings (a fuzzer's malformed
    requests are refused with "Invalid HTTP request received") out of a contract run's output.
    """

    def __init__(self, config: GatewayConfig, loaded: LoadResult | None = None, log_level: str | None = None,
                 start_timeout: float = 10) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app: GatewayApp = build_app(config, loaded=loaded)
        config = config.model_copy(update={"host": "127.0.0.1", "port": self.port})  # where uvicorn listens
        options = uvicorn_options(config)
        if log_level:
            options["log_level"] = log_level
        self.server = uvicorn.Server(uvicorn.Config(self.app, **options))
        self.thread = threading.Thread(target=self.server.run, name=f"gw-{self.port}", daemon=True)
        self.start_timeout = start_timeout

    def __enter__(self) -> InProcessGateway:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("gateway did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
