"""The `gw` command as a user types it: real processes, real ports, readable one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, SPECS, GatewayProcess, free_port, gw_command, run_cli, run_gw
from tests.upstream import UpstreamServer


def copy_samples(tmp_path: Path) -> Path:
    shutil.copytree(SPECS, tmp_path / "specs")
    shutil.copy(ROOT / "gateway.yaml", tmp_path / "gateway.yaml")
    return tmp_path


def test_help_carries_examples() -> None:
    for args in (["--help"], ["serve", "--help"], ["routes", "--help"], ["lint", "--help"]):
        result = run_gw(*args) if args == ["--help"] else run_cli(*args)  # the console script once, then in process
        assert result.returncode == 0
        assert "Example" in result.stdout


def test_serve_with_no_argument_reads_gateway_yaml_and_answers_every_sample_route(gw_process) -> None:
    gateway: GatewayProcess = gw_process().wait_ready()
    routes = json.loads(run_gw("routes", "--json").stdout)
    assert len(routes) == 15
    # /users/me declares bearer security: with no auth.jwt, any bearer token is enough (presence, like Prism)
    with httpx.Client(base_url=gateway.url, timeout=10, headers={"Authorization": "Bearer day-one"}) as client:
        for route in routes:
            if route["method"] != "GET":
                continue
            path = route["path"].replace("{user_id}", "1").replace("{camera_id}", "cam-001").replace(
                "{order_id}", "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d")
            params = {"store_id": "store-001"} if "alerts" in path else None
            response = client.get(path, params=params)
            assert response.status_code == 200, (path, response.text)
    log = gateway.stop()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "gw.access"]
    assert access and all(line["request_id"] and "status" in line and "duration_ms" in line for line in access)


def test_serve_a_bare_spec_at_root_like_prism_mock(gw_process) -> None:
    gateway = gw_process(str(SPECS / "users.yaml")).wait_ready()
    response = httpx.get(f"{gateway.url}/users/1", timeout=5)
    assert response.status_code == 200
    assert response.json()["id"] == 1


def test_serve_live_mode_with_upstream_flag(gw_process, upstream: UpstreamServer) -> None:
    gateway = gw_process(str(ROOT / "tests" / "specs" / "echo.yaml"), "--mode", "live", "--upstream", upstream.url,
                         "--timeout", "2").wait_ready()
    response = httpx.get(f"{gateway.url}/items/3?q=x", timeout=5)
    assert response.json()["path"] == "/items/3"
    assert response.headers["x-gw-source"] == "live"


def test_serve_with_two_workers(gw_process) -> None:
    gateway = gw_process("--workers", "2").wait_ready(timeout=60)
    statuses = {httpx.get(f"{gateway.url}/users/users/1", timeout=5).status_code for _ in range(20)}
    assert statuses == {200}


def test_routes_table_lists_service_method_path_operation_mode_auth_and_limit() -> None:
    result = run_cli("routes", env={"COLUMNS": "200"})
    assert result.returncode == 0
    line = next(line for line in result.stdout.splitlines() if "getUser" in line)
    assert line.split() == ["users", "GET", "/users/users/{user_id}", "getUser", "stub", "public", "-"]
    assert "GET /me" in result.stdout


def test_lint_passes_on_samples_and_fails_with_place_on_a_broken_spec(tmp_path: Path) -> None:
    assert run_cli("lint").returncode == 0
    copy_samples(tmp_path)
    text = (tmp_path / "specs" / "users.yaml").read_text().replace("openapi: 3.0.3", "openapi: 3.0.3\nbogus_root: 1", 1)
    (tmp_path / "specs" / "users.yaml").write_text(text)
    result = run_cli("lint", cwd=tmp_path)
    assert result.returncode == 1
    assert "specs/users.yaml" in result.stderr and "bogus_root" in result.stderr
    assert "ok orders" in result.stdout


def test_stubs_list_and_show(tmp_path: Path) -> None:
    copy_samples(tmp_path)
    stub = tmp_path / "stubs" / "users" / "getUser-alice.yaml"
    stub.parent.mkdir(parents=True)
    stub.write_text("request: {method: GET, path: /users/1}\nresponse: {status: 200, body: {id: 1}}\n"
                    "meta: {operation: getUser}\n")
    listed = json.loads(run_cli("stubs", "list", "--json", cwd=tmp_path).stdout)
    assert [(row["id"], row["method"], row["path"], row["status"]) for row in listed] == [
        ("users/getUser-alice", "GET", "/users/1", 200)]
    shown = run_cli("stubs", "show", "users/getUser-alice", cwd=tmp_path)
    assert "path: /users/1" in shown.stdout
    missing = run_cli("stubs", "show", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip() == "error: no stub 'nope'; see `gw stubs list`"
    (tmp_path / "stubs" / "users" / "broken.yaml").write_text("request: {method: GET}\nresponse: {status: 7}\n")
    broken = run_cli("stubs", "list", cwd=tmp_path)
    assert broken.returncode == 1
    assert "broken.yaml: response.status: expected an HTTP status code, got 7" in broken.stderr


def test_gw_record_shows_each_capture_and_a_summary(tmp_path: Path, upstream: UpstreamServer) -> None:
    shutil.copy(ROOT / "tests" / "specs" / "echo.yaml", tmp_path / "echo.yaml")
    (tmp_path / "gateway.yaml").write_text("services:\n  echo: {spec: echo.yaml, retries: 0}\n")
    port = free_port()
    process = subprocess.Popen([*gw_command(), "record", "echo", "--upstream", upstream.url, "--port", str(port)],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "COLUMNS": "200"})
    try:
        deadline = time.monotonic() + 60  # a bounded wait: it ends when the gateway answers
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_gw/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/echo/items/3", timeout=5).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/echo/flaky/x?fail=1", timeout=5).status_code == 503
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "+ echo/getItem-" in stderr and "GET /echo/items/3 -> 200" in stderr
    assert "breaks the contract" in stderr
    assert "recorded 2 exchanges: 2 new stubs, 0 updated, 0 unchanged" in stderr
    assert "status 503 is not declared" in stderr
    assert len(list((tmp_path / "stubs" / "echo").glob("*.yaml"))) == 2


def test_stubs_prune_removes_stubs_of_operations_gone_from_the_spec(tmp_path: Path) -> None:
    copy_samples(tmp_path)
    folder = tmp_path / "stubs" / "users"
    folder.mkdir(parents=True)
    (folder / "getUser-1.yaml").write_text("request: {method: GET, path: /users/1}\nresponse: {status: 200}\n"
                                           "meta: {operation: getUser}\n")
    (folder / "deleteUser-1.yaml").write_text("request: {method: DELETE, path: /users/1}\nresponse: {status: 204}\n"
                                              "meta: {operation: deleteUser}\n")
    (folder / "deleteUser-1.body").write_bytes(b"x")
    dry = run_cli("stubs", "prune", "--dry-run", cwd=tmp_path, env={"COLUMNS": "200"})
    assert "would remove users/deleteUser-1" in dry.stdout
    assert (folder / "deleteUser-1.yaml").exists()
    run_cli("stubs", "prune", cwd=tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["getUser-1.yaml"]
    assert "nothing to prune" in run_cli("stubs", "prune", cwd=tmp_path).stdout


def test_stubs_verify_names_each_stub_that_breaks_the_spec(tmp_path: Path) -> None:
    copy_samples(tmp_path)
    shutil.copytree(ROOT / "stubs", tmp_path / "stubs")
    assert run_cli("stubs", "verify", cwd=tmp_path).returncode == 0
    folder = tmp_path / "stubs" / "users"
    (folder / "getUser-broken.yaml").write_text(
        "request: {method: GET, path: /users/7}\n"
        "response: {status: 200, headers: {Content-Type: application/json}, body: {id: seven, username: x}}\n"
        "meta: {operation: getUser}\n")
    (folder / "getUser-teapot.yaml").write_text(
        "request: {method: GET, path: /users/8}\nresponse: {status: 418}\nmeta: {operation: getUser}\n")
    (folder / "gone.yaml").write_text("request: {method: DELETE, path: /users/1}\nresponse: {status: 204}\n")
    result = run_cli("stubs", "verify", "users", cwd=tmp_path, env={"COLUMNS": "300"})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert any(line.endswith("getUser-broken.yaml: getUser: body/id: 'seven' is not of type 'integer'") for line in lines)
    assert any("getUser-teapot.yaml: getUser: status 418 is not declared" in line for line in lines)
    assert any("gone.yaml: DELETE: no operation DELETE /users/1 in users.yaml" in line for line in lines)
