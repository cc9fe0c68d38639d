"""CLI output without a terminal (CI logs, `> file`, `| grep`): lines are whole, never wrapped at 80 columns;
`COLUMNS` and `NO_COLOR` are honoured. The real `gw` with its stdout on a pipe."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, SPECS, gw_command
from tests.contract_helpers import BROKEN_STUB  # the same hand-broken getUser stub

COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-9](;[0-9]+)*m|\x1b\[[0-9;]*38;")  # a foreground colour


def piped(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    """`gw ARGS > pipe` as CI runs it: no terminal, and no COLUMNS or colour settings unless given."""
    clean = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TERM")}
    return subprocess.run([*gw_command(), *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True,
                          timeout=300)


def test_routes_to_a_pipe_print_one_whole_line_per_route() -> None:
    result = piped("routes")
    as_json = piped("routes", "--json")

    assert result.returncode == 0, result.stderr
    routes = json.loads(as_json.stdout)
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + len(routes)  # a header, then one line per route: nothing wrapped
    assert lines[0].split() == ["service", "method", "path", "operation", "mode", "auth", "rate_limit"]
    for line, route in zip(lines[1:], routes, strict=True):
        cells = [route[column] for column in ("service", "method", "path", "operation", "mode", "auth", "rate_limit")]
        assert re.fullmatch(r"\s+".join(re.escape(cell) for cell in cells), line.strip()), line
    assert max(len(line) for line in lines) > 80  # the rows really are wider than a default terminal
    assert "\x1b[" not in result.stdout  # a pipe gets no escape codes


def test_columns_is_honoured_when_set() -> None:
    result = piped("routes", COLUMNS="60")

    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 60


def test_no_color_is_honoured_even_where_colour_is_forced() -> None:
    forced = piped("lint", str(SPECS / "users.yaml"), FORCE_COLOR="1")
    plain = piped("lint", str(SPECS / "users.yaml"), FORCE_COLOR="1", NO_COLOR="1")

    assert COLOUR.search(forced.stdout), forced.stdout  # the green "ok"
    assert not COLOUR.search(plain.stdout), plain.stdout
    assert "ok users" in plain.stdout


@pytest.fixture
def broken_stub(tmp_path: Path) -> Path:
    """The samples, copied, with users' stub file edited so its body breaks the User schema."""
    shutil.copy(ROOT / "gateway.yaml", tmp_path)
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    shutil.copytree(ROOT / "stubs", tmp_path / "stubs")
    (tmp_path / "stubs" / "users" / "getUser-42.yaml").write_text(BROKEN_STUB)
    return tmp_path


def test_contract_log_keeps_its_header_check_names_and_seed_line_whole(broken_stub: Path) -> None:
    result = piped("contract", "users", "--target", "stub", "--phases", "examples", "--max-examples", "3", "--seed", "7",
                   cwd=broken_stub)

    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "gw contract --target stub"
    assert lines[1].split() == ["service", "path", "operations", "cases", "refused", "errors", "failures", "(operations",
                                "per", "check)"]
    assert re.fullmatch(r" users +/users +5 +\d+ +0 +0 +response_schema_conformance 1", lines[2]), lines[2]
    failures = [line for line in lines if line.startswith("✗ users · getUser")]
    assert failures and all(re.fullmatch(r"✗ users · getUser \(GET /users/\{user_id\}\) · response_schema_conformance"
                                         r"( +\d+ cases)?", line) for line in failures), failures
    assert any(re.fullmatch(r"  curl -X GET http://127\.0\.0\.1:8000/users/users/\d+", line) for line in lines)
    assert re.fullmatch(r"contract broken: \d+ failures?, \d+ errors? in \d+ cases?, seed 7 \(same run: --seed 7\), "
                        r"[\d.]+ s", lines[-1]), lines[-1]
