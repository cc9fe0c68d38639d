"""`gw serve` starts on what serving needs: modules only some features use are imported on first use, and the
garbage collector does not walk the imports and the load (they all live as long as the process).

Pinned by what the real serve path imports (a subprocess runs `gw serve SPEC` up to the point uvicorn would
start and lists `sys.modules`), not by the clock: a module list is exact on a busy CI machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# what a gateway with no JWT auth never uses: PyJWT and cryptography (~60 ms of every start)
DEFERRED = ("jwt", "cryptography")

PROBE = """
import gc, json, sys
import uvicorn
import gw.cli  # what the `gw` command imports before any command runs
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and "gw.app" in sys.modules  # the gateway's imports began
                    and collections.append(info["generation"]))
class Started(Exception):
    pass
def run(app, **options):
    print(json.dumps({"modules": sorted({m.partition(".")[0] for m in sys.modules}), "collections": collections,
                      "app": type(app).__name__}))
    raise Started
uvicorn.run = run
try:
    gw.cli.app(["serve", *sys.argv[1:], "--quiet", "--port", "1"], standalone_mode=False)
except Started:
    pass
"""


def serve_start(*args: str) -> dict:
    """What `gw serve ARGS` had imported and collected when it would have started uvicorn."""
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def users_start() -> dict:
    return serve_start(str(ROOT / "specs" / "users.yaml"))


def test_serve_builds_the_gateway_without_the_modules_only_some_features_use(users_start: dict) -> None:
    assert users_start["app"]  # the probe really built what `gw serve` serves
    assert "uvicorn" in users_start["modules"] and "starlette" in users_start["modules"]
    # gw routes and validates requests itself: importing connexion (Flask, werkzeug...) cost every start ~0.45 s
    assert not {"connexion", "flask", "werkzeug"} & set(users_start["modules"])
    assert not set(DEFERRED) & set(users_start["modules"]), sorted(set(DEFERRED) & set(users_start["modules"]))
    assert "schemathesis" not in users_start["modules"] and "hypothesis" not in users_start["modules"]


def test_serve_collects_no_garbage_while_it_imports_and_loads(users_start: dict) -> None:
    """From the first import of the gateway (after the command line is read) to serving, everything imported
    and loaded lives as long as the process: each collection there walked all of it again (~250 collections
    over ~1,300 modules). The one collection is serving's own, before it freezes the load (test_gc_freeze.py)."""
    assert users_start["collections"] == [2], f"{len(users_start['collections'])} collections before serving"
