"""What the chaos step costs a request when no chaos is in use: one app, one process, stub GET /users/1
through the whole pipeline with and without the step, alternated, best CPU time per request of each.

Run by hand: `python bench/chaos_overhead.py [--rounds 20] [--requests 1000]`. CPU time (not wall time) and
alternation keep a busy machine's noise from landing on one side only; compare the two figures, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from gw.app import GatewayApp, build_app
from gw.core.pipeline import Pipeline
from gw.settings.config import config_for_specs

SCOPE = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
         "path": "/users/1", "raw_path": b"/users/1", "query_string": b"", "root_path": "",
         "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*"), (b"user-agent", b"wrk")],
         "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}


def without_chaos(app: GatewayApp) -> Pipeline:
    """The same pipeline minus the chaos step."""
    return Pipeline([s for s in app.pipeline.steps if s is not app.chaos], app.pipeline.terminal)


async def per_request(app: GatewayApp, pipeline: Pipeline, requests: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"status {message['status']}")

    app.pipeline = pipeline
    started = time.process_time()
    for _ in range(requests):
        await app(dict(SCOPE), receive, send)
    return (time.process_time() - started) / requests * 1e6


async def main(rounds: int, requests: int) -> None:
    app = build_app(config_for_specs(["specs/users.yaml"]))
    pipelines = {"with the chaos step": app.pipeline, "without": without_chaos(app)}
    best = dict.fromkeys(pipelines, float("inf"))
    for _ in range(rounds):
        for name, pipeline in pipelines.items():
            best[name] = min(best[name], await per_request(app, pipeline, requests))
    for name, micros in best.items():
        print(f"{name:>20}: {micros:.1f} µs CPU per request")
    print(f"{'difference':>20}: {(best['with the chaos step'] / best['without'] - 1) * 100:+.1f} %")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1000)
    options = parser.parse_args()
    asyncio.run(main(options.rounds, options.requests))
