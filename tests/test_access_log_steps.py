"""The access log writes the lines of one event-loop step in one write when the step ends, byte for byte the
lines it would write one by one; outside a loop a line is written at once; queued lines are written on the way
out. A real `gw serve` under load, stopped with SIGTERM, has written a whole line for every request it answered,
in the order each client's requests were answered."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gw.core import logs
from gw.core.logs import AccessLogWriter, flush_access_log
from tests.conftest import SPECS, GatewayProcess

NOW = 1_764_000_000.123  # one instant for every line: the same head
LINES = [{"request_id": f"r{n}", "method": "GET", "path": f"/users/{n}", "status": 200, "duration_ms": 0.5,
          "client": "127.0.0.1", "service": "users", "operation": "getUser", "mode": "stub", "source": "example"}
         for n in range(3)]


class Recorded:
    """A stream that keeps each write apart."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        return None


@pytest.mark.parametrize("json_lines", [True, False], ids=["json", "text"])
def test_the_lines_of_one_loop_step_leave_in_one_write_the_same_bytes_as_one_by_one(json_lines: bool) -> None:
    one_by_one = Recorded()
    outside = AccessLogWriter(one_by_one, json_lines)
    for fields in LINES:
        outside.write(fields, NOW)
    assert len(one_by_one.writes) == 3  # no loop: each line at once

    stepped = Recorded()
    inside = AccessLogWriter(stepped, json_lines)

    async def serve() -> None:
        for fields in LINES:  # three requests ending in one step
            inside.write(fields, NOW)
        assert stepped.writes == []  # nothing yet: the step is not over
        await asyncio.sleep(0)
        assert len(stepped.writes) == 1  # the step ended: one write
        inside.write(LINES[0], NOW)  # a line of a later step: a write of its own
        await asyncio.sleep(0)

    asyncio.run(serve())
    assert len(stepped.writes) == 2
    assert stepped.writes[0] == "".join(one_by_one.writes)  # byte for byte, in order
    assert stepped.writes[1] == one_by_one.writes[0]
    if json_lines:
        assert [json.loads(line)["request_id"] for line in stepped.writes[0].splitlines()] == ["r0", "r1", "r2"]


def test_lines_queued_when_the_loop_ends_are_written_on_the_way_out(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Recorded()
    writer = AccessLogWriter(stream)
    monkeypatch.setattr(logs, "_access", writer)
    loop = asyncio.new_event_loop()
    loop.call_soon(writer.write, LINES[0], NOW)  # in the loop's last step: its flush is for a step that never comes
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.close()
    assert stream.writes == []
    flush_access_log()  # what the app's shutdown, a worker's exit and atexit call
    assert len(stream.writes) == 1 and '"request_id":"r0"' in stream.writes[0]
    writer.write(LINES[1], NOW)  # and a later line, outside a loop, is written at once
    assert len(stream.writes) == 2


def load(url: str, clients: int, stop: threading.Event) -> tuple[list[list[str]], list[threading.Thread]]:
    """`clients` threads each sending GETs one after another until told to stop or refused; each one's answered
    request ids, in the order answered."""
    answered: list[list[str]] = [[] for _ in range(clients)]

    def client(ids: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            n = 0
            while not stop.is_set():
                try:
                    answer = http.get(f"/users/{n % 50 + 1}")
                except httpx.HTTPError:
                    return  # the gateway stopped taking requests
                if "x-request-id" in answer.headers:  # gw's answer (not the server's own refusal while it stops)
                    ids.append(answer.headers["x-request-id"])
                n += 1

    threads = [threading.Thread(target=client, args=(ids,), daemon=True) for ids in answered]
    for thread in threads:
        thread.start()
    return answered, threads


def wait_for(done: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.02)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_gateway_stopped_under_load_has_written_a_whole_line_for_every_answer_in_order(workers: int) -> None:
    gateway = GatewayProcess([str(SPECS / "users.yaml"), "--workers", str(workers)])
    stop = threading.Event()
    try:
        gateway.wait_ready()
        answered, threads = load(gateway.url, 8, stop)
        wait_for(lambda: sum(map(len, answered)) >= 400)  # busy: several requests end in each loop step
        os.kill(gateway.proc.pid, signal.SIGTERM)  # as a supervisor or a container runtime stops it
        assert gateway.proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn ends by the signal it drained on
    finally:
        stop.set()
        gateway.stop()
    for thread in threads:
        thread.join(10)
    text = gateway.log()
    assert text.endswith("\n")
    entries: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines()]  # every line whole
    logged = [e["request_id"] for e in entries if e.get("logger") == "gw.access" and e.get("path", "").startswith("/users/")]
    place = {request_id: n for n, request_id in enumerate(logged)}
    for ids in answered:
        assert all(request_id in place for request_id in ids)  # none lost
        assert [place[request_id] for request_id in ids] == sorted(place[request_id] for request_id in ids)  # in order
    assert len(logged) >= sum(map(len, answered)) >= 400
