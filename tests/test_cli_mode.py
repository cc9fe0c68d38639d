"""`gw mode` and `gw journal` as real processes against a real `gw serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import SPECS, GatewayProcess, free_port, gw_command, run_gw

CONFIG = f"""\
# our team's gateway: keep this comment
services:
  users:
    spec: {SPECS / "users.yaml"}   # the directory
    mode: stub                     # switch with gw mode
    upstream:
      - http://127.0.0.1:9001
  orders:
    spec: {SPECS / "orders.yaml"}
    mode: stub
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "gateway.yaml").write_text(CONFIG)
    return tmp_path


@pytest.fixture
def served(gw_process: Callable[..., GatewayProcess], project: Path) -> GatewayProcess:
    return gw_process(cwd=project).wait_ready()


def test_mode_without_arguments_prints_every_service_and_its_mode(served: GatewayProcess, project: Path) -> None:
    result = run_gw("mode", "--url", served.url, cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["service", "operation", "mode", "path"]
    assert ["users", "*", "stub", "/users"] in [line.split() for line in lines]
    assert ["orders", "*", "stub", "/orders"] in [line.split() for line in lines]


def test_mode_switches_the_running_gateway(served: GatewayProcess, project: Path) -> None:
    switched = run_gw("mode", "users", "live", "--url", served.url, cwd=project)
    one_operation = run_gw("mode", "orders", "fallback", "--operation", "listOrders", "--url", served.url, cwd=project)
    assert switched.returncode == 0, switched.stderr
    assert switched.stdout.strip() == "users: live"
    assert one_operation.returncode == 0, one_operation.stderr
    services = {s["name"]: s for s in httpx.get(f"{served.url}/_gw/api/services").json()["services"]}
    assert services["users"]["mode"] == "live"
    assert next(op for op in services["orders"]["operations"] if op["key"] == "listOrders")["mode"] == "fallback"
    assert (project / "gateway.yaml").read_text() == CONFIG  # without --save the file is untouched
    listed = run_gw("mode", "orders", "--url", served.url, cwd=project)
    assert ["orders", "listOrders", "fallback", "GET", "/orders/orders"] in [line.split() for line in listed.stdout.splitlines()]


def test_mode_save_writes_gateway_yaml_keeping_comments_and_order(served: GatewayProcess, project: Path) -> None:
    result = run_gw("mode", "users", "fallback", "--save", cwd=project, env={"GW_URL": served.url})
    assert result.returncode == 0, result.stderr
    assert "saved in gateway.yaml" in result.stdout
    text = (project / "gateway.yaml").read_text()
    assert "# our team's gateway: keep this comment" in text
    assert "mode: fallback                 # switch with gw mode" in text
    assert "# the directory" in text
    assert text.index("users:") < text.index("orders:")
    assert text.replace("mode: fallback                 #", "mode: stub                     #", 1) == CONFIG


def test_mode_errors_are_one_line_and_exit_2(served: GatewayProcess, project: Path) -> None:
    unreachable = run_gw("mode", "--url", f"http://127.0.0.1:{free_port()}", cwd=project)
    bad_mode = run_gw("mode", "users", "turbo", "--url", served.url, cwd=project)
    no_service = run_gw("mode", "nope", "live", "--url", served.url, cwd=project)
    for result, says in ((unreachable, "no gateway answers at"), (bad_mode, "mode must be one of"),
                         (no_service, "no service 'nope'")):
        assert result.returncode == 2
        assert says in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_mode_against_a_gateway_that_refuses_says_so(gw_process: Callable[..., GatewayProcess], tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text(CONFIG + "admin:\n  allow_from: [10.9.9.0/24]\n")
    served = gw_process(cwd=tmp_path).wait_ready()
    result = run_gw("mode", "--url", served.url, cwd=tmp_path)
    assert result.returncode == 2
    assert "refused" in result.stderr and "admin.allow_from" in result.stderr


def test_journal_prints_recent_exchanges(served: GatewayProcess, project: Path) -> None:
    httpx.get(f"{served.url}/users/users/1")
    httpx.get(f"{served.url}/users/users/abc")
    result = run_gw("journal", "--url", served.url, cwd=project)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["time", "method", "path", "status", "source", "ms", "stub"]
    assert rows[1][1:5] == ["GET", "/users/users/1", "200", "example"]
    assert rows[2][1:4] == ["GET", "/users/users/abc", "400"]


def test_journal_follow_prints_new_exchanges_until_interrupted(served: GatewayProcess, project: Path) -> None:
    httpx.get(f"{served.url}/users/users/1")  # printed in the table the follower starts with: then it has its cursor
    process = subprocess.Popen([*gw_command(), "journal", "--follow", "--url", served.url], cwd=project,
                               env={**os.environ, "COLUMNS": "200"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        _read_line_with(process, "/users/users/1", timeout=30)  # it has read the journal once and is polling
        httpx.get(f"{served.url}/orders/orders", headers={"X-Request-ID": "followed"})
        line = _read_line_with(process, "/orders/orders", timeout=10)
        assert "GET" in line and "200" in line
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(10)
    assert process.returncode == 0
    assert "Traceback" not in process.stderr.read()


def _read_line_with(process: subprocess.Popen, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if text in line:
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"`gw journal --follow` never printed {text}")


def test_the_commands_find_the_gateway_through_gateway_yaml(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "gateway.yaml").write_text(CONFIG + f"port: {port}\n")
    # gw_process passes a --port of its own; this gateway must listen where gateway.yaml says
    process = subprocess.Popen([*gw_command(), "serve"], cwd=tmp_path, env={**os.environ, "GW_LOG_FORMAT": "json"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}")
        result = run_gw("mode", "users", "live", cwd=tmp_path, env={"GW_URL": ""})
        assert result.returncode == 0, result.stderr
        assert httpx.get(f"http://127.0.0.1:{port}/_gw/api/services/users").json()["mode"] == "live"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def _wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_gw/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("gw serve did not become healthy")

