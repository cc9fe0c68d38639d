"""`gw serve --workers N` loads the specs once and forks N workers sharing the port: a worker that dies is
replaced while the port keeps answering, and SIGTERM drains every worker's requests in flight."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx

from tests.conftest import SPECS, TEST_SPECS, GatewayProcess, eventually, refuses_connections
from tests.upstream import SLOW_MS, UpstreamServer, slow_requests


def workers_of(gateway: GatewayProcess) -> set[int]:
    """The pids of the gw process's children (its workers), from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == gateway.proc.pid:
            found.add(int(entry.name))
    return found


def log_entries(gateway: GatewayProcess) -> list[dict[str, object]]:
    entries = []
    for line in gateway.log().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def get_users(gateway: GatewayProcess, count: int) -> list[int]:
    """`count` requests, each on a new connection (so the kernel hands them to whichever worker accepts)."""
    return [httpx.get(f"{gateway.url}/users/1", timeout=10).status_code for _ in range(count)]


def test_workers_share_the_one_load_of_their_parent(gw_process) -> None:
    gateway = gw_process(str(SPECS / "users.yaml"), "--workers", "2", env={"GW_LOG_LEVEL": "debug"}).wait_ready(90)
    assert len(eventually(lambda: workers_of(gateway), lambda pids: len(pids) == 2, timeout=30)) == 2

    assert get_users(gateway, 6) == [200] * 6
    loads = [e for e in log_entries(gateway) if e.get("logger") == "gw.specs" and "users.yaml: loaded" in str(e.get("msg"))]
    assert len(loads) == 1, f"the spec was loaded {len(loads)} times for two workers"
    assert "operations in" in str(loads[0]["msg"])


SLOPPY = """openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /x:
    get:
      parameters:
        - {name: n, in: query, schema: {type: integer, default: heaps}}
      responses: {"200": {description: ok, content: {application/json: {example: {ok: true}}}}}
"""


def test_the_deep_check_runs_once_and_every_worker_reports_its_warning(gw_process, tmp_path: Path) -> None:
    spec = tmp_path / "sloppy.yaml"
    spec.write_text(SLOPPY)
    warning = f"{spec}: paths./x.get.parameters[0].schema.default: 'heaps' is not of type 'integer'"
    gateway = gw_process(str(spec), "--workers", "2", env={"XDG_CACHE_HOME": str(tmp_path / "cache")}).wait_ready(90)
    workers = eventually(lambda: workers_of(gateway), lambda pids: len(pids) == 2, timeout=30)

    def reports() -> dict[int, list[str]]:  # each worker's /_gw/health/detailed, by pid, until both have answered
        found: dict[int, list[str]] = {}
        for _ in range(20):
            report = httpx.get(f"{gateway.url}/_gw/health/detailed", timeout=10).json()
            found[report["pid"]] = report["services"]["sloppy"]["warnings"]
        return found

    seen = eventually(reports, lambda found: set(found) == workers and all(warning in w for w in found.values()),
                      timeout=30, step=0.2)
    assert all(w.count(warning) == 1 for w in seen.values())
    logged = [e for e in log_entries(gateway) if e.get("level") == "warning" and e.get("msg") == warning]
    assert len(logged) == 1, "the check ran, and was logged, once for both workers"


def test_a_killed_worker_is_replaced_and_the_port_keeps_answering(gw_process) -> None:
    gateway = gw_process(str(SPECS / "users.yaml"), "--workers", "2").wait_ready(90)
    first = eventually(lambda: workers_of(gateway), lambda pids: len(pids) == 2, timeout=30)
    victim = min(first)

    os.kill(victim, signal.SIGKILL)
    assert get_users(gateway, 10) == [200] * 10  # the other worker answers meanwhile

    replaced = eventually(lambda: workers_of(gateway), lambda pids: len(pids) == 2 and victim not in pids, timeout=30)
    assert replaced - first, "a new worker took the killed one's place"
    assert get_users(gateway, 10) == [200] * 10
    warned = [e for e in log_entries(gateway) if e.get("level") == "warning" and f"pid {victim}" in str(e.get("msg"))]
    assert warned and "SIGKILL" in str(warned[0]["msg"]) and "starting a new one" in str(warned[0]["msg"])


def test_sigterm_drains_the_requests_in_flight_in_every_worker(gw_process, upstream: UpstreamServer) -> None:
    gateway = gw_process(str(TEST_SPECS / "echo.yaml"), "--mode", "live", "--upstream", upstream.url,
                         "--workers", "2").wait_ready(90)
    eventually(lambda: workers_of(gateway), lambda pids: len(pids) == 2, timeout=30)
    threads, answers = slow_requests(gateway.url, 4)
    eventually(lambda: upstream.stats()["in_flight"], lambda n: n == 4)

    signalled = time.monotonic()
    gateway.proc.send_signal(signal.SIGTERM)  # the parent only: it passes the word on to every worker
    eventually(lambda: refuses_connections(gateway.port), timeout=5)
    for thread in threads:
        thread.join(15)

    assert [a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers] == [200] * 4
    assert gateway.proc.wait(10) == 0
    assert time.monotonic() - signalled < SLOW_MS / 1000 + 5
    assert "Traceback" not in gateway.log()


def test_sigint_stops_every_worker_cleanly(gw_process) -> None:
    gateway = gw_process(str(SPECS / "users.yaml"), "--workers", "2",
                         env={"GW_SERVER__DRAIN_TIMEOUT": "500ms"}).wait_ready(90)
    workers = eventually(lambda: workers_of(gateway), lambda pids: len(pids) == 2, timeout=30)

    os.killpg(gateway.proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
    assert gateway.proc.wait(15) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert "Traceback" not in gateway.log()


