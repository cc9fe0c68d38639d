"""A newcomer's first hour with the real `gw` CLI: a taken port, --version, defaults in --help, `gw mode` with the
operation forms it prints, a proxied mode refused without an upstream, counts that agree, a missing spec named by key."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gw import __version__
from gw.core.wording import counted
from tests.conftest import SPECS, GatewayProcess, free_port, run_cli, run_gw

CONFIG = f"""\
services:
  users:
    spec: {SPECS / "users.yaml"}
    upstream: http://127.0.0.1:9001
  orders:
    spec: {SPECS / "orders.yaml"}
"""


@pytest.fixture
def listener() -> Iterator[int]:
    """A real listening socket of this process on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "gateway.yaml").write_text(CONFIG)
    return tmp_path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One real `gw serve` for the `gw mode` tests; each test switches services or operations of its own."""
    folder = tmp_path_factory.mktemp("served")
    (folder / "gateway.yaml").write_text(CONFIG)
    process = GatewayProcess([], cwd=folder)
    try:
        yield process.wait_ready()
    finally:
        process.stop()


def one_line_error(result: object) -> str:
    stderr = result.stderr.strip()  # type: ignore[attr-defined]
    assert len(stderr.splitlines()) == 1, stderr
    assert "Traceback" not in stderr
    return stderr


# ---- a port already in use ------------------------------------------------------------------------------


def test_serve_on_a_taken_port_says_who_holds_it_in_one_line_and_exits_2(listener: int) -> None:
    result = run_gw("serve", str(SPECS / "users.yaml"), "--port", str(listener))

    me = Path("/proc/self/comm").read_text().strip() if Path("/proc/self/comm").exists() else None
    assert result.returncode == 2
    line = one_line_error(result)
    assert line.startswith(f"error: port {listener} is in use")
    assert line.endswith("; pick another with --port")
    if me:  # Linux: the holder is found through /proc
        assert f"(by pid {os.getpid()}, " in line
    assert "gw on http" not in result.stdout + result.stderr  # no banner before the refusal
    assert "Errno" not in result.stderr


def test_serve_on_a_port_from_gateway_yaml_that_is_taken_is_refused_too(listener: int, project: Path) -> None:
    (project / "gateway.yaml").write_text(CONFIG + f"port: {listener}\n")

    result = run_gw("serve", cwd=project)

    assert result.returncode == 2
    assert one_line_error(result).startswith(f"error: port {listener} is in use")


def test_record_on_a_taken_port_is_refused_before_recording(listener: int, project: Path) -> None:
    result = run_gw("record", "users", "--port", str(listener), cwd=project)

    assert result.returncode == 2
    assert one_line_error(result).startswith(f"error: port {listener} is in use")
    assert "recording users" not in result.stderr


# ---- --version and --help -----------------------------------------------------------------------------


def test_version_prints_the_installed_version() -> None:
    result = run_gw("--version")

    assert result.returncode == 0
    assert result.stdout == f"gw {__version__}\n"


def test_serve_help_shows_the_defaults_of_host_port_and_mode() -> None:
    result = run_gw("serve", "--help", env={"COLUMNS": "300"})

    assert result.returncode == 0
    text = re.sub(r"\s+", " ", result.stdout)
    assert "Address to listen on (default 127.0.0.1, or gateway.yaml's host)" in text
    assert "Port to listen on (default 8000, or gateway.yaml's port)" in text
    assert "(default stub, or each service's mode in gateway.yaml)" in text


# ---- gw mode ------------------------------------------------------------------------------------------


def mode_of(served: GatewayProcess, service: str, key: str | None = None) -> str:
    entry = httpx.get(f"{served.url}/_gw/api/services/{service}").json()
    if key is None:
        return entry["mode"]
    return next(op["mode"] for op in entry["operations"] if op["key"] == key)


def test_mode_takes_an_operation_as_method_and_path_as_it_prints_them(served: GatewayProcess, project: Path) -> None:
    """`gw mode orders` prints `GET /orders/orders` in its path column (test_cli_mode pins that); the spec's own
    path works too, and the method in any case."""
    served_form = run_gw("mode", "orders", "fallback", "-o", "GET /orders/orders", "--url", served.url, cwd=project)
    spec_form = run_gw("mode", "orders", "fallback", "-o", "get /orders/{order_id}", "--url", served.url, cwd=project)

    assert served_form.returncode == 0, served_form.stderr
    assert served_form.stdout.strip() == "orders listOrders: fallback"
    assert mode_of(served, "orders", "listOrders") == "fallback"
    assert spec_form.returncode == 0, spec_form.stderr
    assert mode_of(served, "orders", "getOrder") == "fallback"


def test_mode_with_an_unknown_operation_lists_the_forms_without_url_encoding(served: GatewayProcess,
                                                                            project: Path) -> None:
    result = run_gw("mode", "orders", "stub", "-o", "GET /books", "--url", served.url, cwd=project)

    assert result.returncode == 2
    line = one_line_error(result)
    assert "service orders has no operation 'GET /books'" in line
    assert "listOrders" in line and "METHOD /path" in line
    assert "%2F" not in line and "URL-encode" not in line


def test_a_proxied_mode_is_refused_for_a_service_without_an_upstream(served: GatewayProcess, project: Path) -> None:
    service = run_gw("mode", "orders", "live", "--url", served.url, cwd=project)
    per_operation = run_gw("mode", "orders", "spy", "-o", "deleteOrder", "--url", served.url, cwd=project)
    with_upstream = run_gw("mode", "users", "live", "--url", served.url, cwd=project)

    assert service.returncode == 2
    assert one_line_error(service) == (
        "error: service orders has no upstream, so live mode would answer every request 502; set "
        "services.orders.upstream in gateway.yaml (or serve with --upstream URL) first")
    assert per_operation.returncode == 2
    assert "so spy mode would answer every request 502" in one_line_error(per_operation)
    assert mode_of(served, "orders") == "stub" and mode_of(served, "orders", "deleteOrder") == "stub"
    assert with_upstream.returncode == 0, with_upstream.stderr
    assert mode_of(served, "users") == "live"


def test_mode_and_journal_follow_port_like_serve(served: GatewayProcess, project: Path) -> None:
    port = served.url.rsplit(":", 1)[1]
    env = {"GW_URL": "http://127.0.0.1:9"}  # an explicit --port outranks GW_URL, as a flag outranks the environment

    switched = run_gw("mode", "users", "fallback", "--port", port, cwd=project, env=env)
    journal = run_gw("journal", "-p", port, cwd=project, env=env)

    assert switched.returncode == 0, switched.stderr
    assert mode_of(served, "users") == "fallback"
    assert journal.returncode == 0, journal.stderr


# ---- counts and config keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(("number", "expected"), [(0, "0 problems"), (1, "1 problem"), (2, "2 problems")])
def test_counted_agrees_with_its_noun(number: int, expected: str) -> None:
    assert counted(number, "problem") == expected
    assert counted(1, "entry", "entries") == "1 entry" and counted(3, "entry", "entries") == "3 entries"


def test_stubs_verify_says_1_problem_and_lint_1_operation(tmp_path: Path) -> None:
    spec = tmp_path / "ping.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: Ping, version: '1'}\npaths:\n  /ping:\n    get:\n"
                    "      operationId: ping\n      responses:\n        '200':\n          description: pong\n"
                    "          content:\n            application/json:\n              schema: {type: integer}\n")
    (tmp_path / "gateway.yaml").write_text(f"services:\n  ping:\n    spec: {spec}\n")
    (tmp_path / "stubs" / "ping").mkdir(parents=True)
    (tmp_path / "stubs" / "ping" / "bad.yaml").write_text(
        "request: {method: GET, path: /ping}\nresponse:\n  status: 200\n  headers: {Content-Type: application/json}\n"
        "  body: not a number\n")

    verified = run_cli("stubs", "verify", cwd=tmp_path)
    linted = run_cli("lint", cwd=tmp_path)

    assert verified.returncode == 1
    assert verified.stdout.strip() == "checked 1 stub: 1 problem"
    assert f"ok ping: {spec} (1 operation)" in linted.stdout


def test_a_missing_spec_in_gateway_yaml_is_named_by_its_key_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text("services:\n  books:\n    spec: specs/books.yaml\n")

    served = run_gw("serve", "--port", str(free_port()), cwd=tmp_path)
    linted = run_cli("lint", cwd=tmp_path)

    expected = "error: gateway.yaml: services.books.spec: specs/books.yaml: no such file"
    assert served.returncode == 1 and one_line_error(served) == expected
    assert linted.returncode == 1 and one_line_error(linted) == expected
