"""`gw` starts in a fraction of a second: `--version`, `--help` and the admin-API clients import neither the
gateway (starlette, uvicorn) nor schemathesis, and `gw serve` loads neither schemathesis nor connexion and Flask
(gw routes and validates requests itself).

Measured by what is imported (`python -X importtime`, one line per module), not by the clock: a busy CI
machine makes any time bound flaky, while a module list is exact. The test suite runs `gw` in
subprocesses some hundred times; each one used to pay ~2.5 s of CPU importing all of the gateway.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from gw.contract.conformance.process import gw_command
from gw.core.port_check import free_port

HEAVY = ("connexion", "schemathesis", "uvicorn", "starlette", "hypothesis")


def imported(*args: str) -> set[str]:
    """Every module the installed `gw` command imports to run `args`, as `python -X importtime` lists them."""
    command = gw_command()
    if command[0] != sys.executable:  # the console script: run it with this Python and -X importtime
        command = [sys.executable, *command]
    result = subprocess.run([command[0], "-X", "importtime", *command[1:], *args], capture_output=True, text=True,
                            timeout=60)
    return {m.group(1).strip() for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", result.stderr, re.M)}


def top_level(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["mode", "--help"]], ids=["version", "help", "mode-help"])
def test_version_and_help_import_no_gateway_and_no_schemathesis(args: list[str]) -> None:
    modules = imported(*args)
    assert "gw.cli" in modules, "the importtime listing did not run gw"
    assert not top_level(modules) & set(HEAVY), f"gw {' '.join(args)} imported {sorted(top_level(modules) & set(HEAVY))}"


@pytest.mark.parametrize("command", [["mode"], ["journal"], ["chaos", "users"]], ids=["mode", "journal", "chaos"])
def test_the_admin_api_clients_import_no_gateway(command: list[str]) -> None:
    modules = imported(*command, "--url", f"http://127.0.0.1:{free_port()}")  # nobody there: the one-line refusal
    assert "gw.operator.admin.client" in modules
    assert not top_level(modules) & set(HEAVY), f"gw {command[0]} imported {sorted(top_level(modules) & set(HEAVY))}"


def test_serving_does_not_load_schemathesis() -> None:
    code = "import sys, gw.cli, gw.app, gw.server.runner; print(sorted({m.partition('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "'uvicorn'" in loaded and "'starlette'" in loaded  # the probe really imported what `gw serve` uses
    assert "'schemathesis'" not in loaded and "'hypothesis'" not in loaded
    assert "'connexion'" not in loaded and "'flask'" not in loaded and "'werkzeug'" not in loaded
