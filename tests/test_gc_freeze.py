"""A served gateway moves what it loaded at start-up out of the garbage collector's walks (p99 latency)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from gw.app import build_app
from gw.server.runner import _served
from tests.conftest import ROOT, gateway_config


async def _start_and_stop(app: Any) -> list[str]:
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return next(messages)

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])
        if message["type"] == "lifespan.startup.complete":
            sent.append(f"frozen={gc.get_freeze_count()}")

    await app({"type": "lifespan"}, receive, send)
    return sent


def test_a_served_app_freezes_its_start_up_objects_and_a_test_app_does_not() -> None:
    config = gateway_config({"users": {"spec": str(ROOT / "specs" / "users.yaml")}}, reload=False)
    try:
        gc.unfreeze()
        plain = asyncio.run(_start_and_stop(build_app(config)))
        served = asyncio.run(_start_and_stop(_served(build_app(config))))
    finally:
        gc.unfreeze()  # leave the test process as it was
    assert plain[:2] == ["lifespan.startup.complete", "frozen=0"]
    assert served[0] == "lifespan.startup.complete"
    assert int(served[1].split("=")[1]) > 10_000  # the specs, validators and routes
