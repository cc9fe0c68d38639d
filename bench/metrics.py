"""What Prometheus metrics cost a request, in microseconds, measured in process (no network, no server).

Why this exists: the metrics step runs on every request, so its cost must stay small next to the
rest of the pipeline. The same stub GET (GET /users/users/1 of specs/users.yaml, the spec's example,
with a near miss noted) is driven straight through the ASGI app, with `metrics: true` and with
`metrics: false` (which leaves the step out), in alternating rounds; the medians are compared.

    python bench/metrics.py [--requests 20000] [--rounds 5] [--multiprocess]

`--multiprocess` runs the same measurement in a child process whose PROMETHEUS_MULTIPROC_DIR is set
(as `gw serve --workers N` does), where every increment is written to a memory-mapped file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCOPE: dict[str, Any] = {"type": "http", "method": "GET", "path": "/users/users/1", "raw_path": b"/users/users/1",
                         "query_string": b"", "headers": [(b"host", b"bench"), (b"accept", b"application/json")],
                         "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "scheme": "http",
                         "http_version": "1.1", "root_path": ""}


def build(metrics: bool) -> Any:
    sys.path.insert(0, str(REPO))
    from gw.app import build_app
    from gw.settings.config import build_config

    config = build_config({"services": {"users": {"spec": "specs/users.yaml", "base_path": "/users"}},
                           "metrics": metrics, "reload": False, "log_level": "warning"}, "bench", root=REPO)
    return build_app(config)


async def per_request_us(app: Any, requests: int) -> float:
    """Mean microseconds for one request through the whole app."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict[str, Any]) -> None:
        return None

    for _ in range(500):  # warm the answer caches and the label children
        await app(dict(SCOPE), receive, send)
    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(SCOPE), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


def observe_us(app: Any, requests: int) -> float:
    """Mean microseconds of the metrics step's own work for one such exchange: the figure the noise hides."""
    from gw.core.exchange import Exchange

    operation = app.services["users"].operations["getUser"]
    exchange = Exchange(dict(SCOPE), None, service=app.services["users"], operation=operation, mode="stub",
                        source="example", notes={"near_misses": ["getUser-42: path differs"]})
    observe = app.metrics.observe
    for _ in range(1000):
        observe(exchange, 200)
    started = time.perf_counter()
    for _ in range(requests):
        observe(exchange, 200)
    return (time.perf_counter() - started) / requests * 1e6


def measure(requests: int, rounds: int) -> dict[str, float]:
    apps = {"with metrics": build(True), "without metrics": build(False)}
    runs: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():  # alternate, so a noisy second hits both alike
            runs[name].append(asyncio.run(per_request_us(app, requests)))
    medians = {name: statistics.median(values) for name, values in runs.items()}
    medians["observe"] = statistics.median(observe_us(apps["with metrics"], requests * 5) for _ in range(rounds))
    return medians


def report(label: str, medians: dict[str, float]) -> None:
    on, off = medians["with metrics"], medians["without metrics"]
    print(f"{label}: {on:.1f} µs/request with metrics, {off:.1f} µs without: metrics cost {on - off:.1f} µs "
          f"({(on - off) / off * 100:.1f}%); the metrics step's own work: {medians['observe']:.2f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--multiprocess", action="store_true", help="also measure prometheus_client's multiprocess mode")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    report("multiprocess mode" if args.child else "one process", measure(args.requests, args.rounds))
    if args.multiprocess and not args.child:
        with tempfile.TemporaryDirectory(prefix="gw-metrics-bench-") as folder:
            subprocess.run([sys.executable, __file__, "--child", "--requests", str(args.requests), "--rounds",
                            str(args.rounds)], env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": folder}, check=True)


if __name__ == "__main__":
    main()
