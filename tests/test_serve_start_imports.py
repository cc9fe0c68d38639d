"""`gw serve` starts on what serving needs: modules only some features use are imported on first use, and the
garbage collector does not walk the imports and the load (they all live as long as the process).

Pinned by what the real serve path imports (a subprocess runs `gw serve SPEC` up to the point uvicorn would
start and lists `sys.modules`), not by the clock: a module list is exact on a busy CI machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# what a gateway with no JWT auth never uses: PyJWT and cryptography (~60 ms of every start); with no upstream to
# reach, the HTTP client aiohttp (~250 ms: it builds TLS contexts as it loads); with no spec by URL, httpx (~50 ms);
# until a page of the dashboard is asked for, jinja2 (~40 ms); until a schema's pattern judges a value, regex (~15 ms)
DEFERRED = ("jwt", "cryptography", "aiohttp", "httpx", "jinja2", "regex")

PROBE = """
import gc, json, sys, threading
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
    for thread in threading.enumerate():  # a background check finishes (and is cached) as it would while serving
        if thread.name.startswith("check "):
            thread.join(60)
    raise Started
uvicorn.run = run
try:
    gw.cli.app(["serve", *sys.argv[1:], "--quiet", "--port", "1"], standalone_mode=False)
except Started:
    pass
"""


def serve_start(*args: str, env: dict[str, str] | None = None) -> dict:
    """What `gw serve ARGS` had imported and collected when it would have started uvicorn."""
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env={**os.environ, **(env or {})})
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


def test_a_live_service_reaches_its_upstream_without_aiohttp() -> None:
    """Forwarded requests (and health checks) go over gw's own HTTP client: a live service that passes no WebSockets
    and a spec without callbacks never import aiohttp (~250 ms of every start before)."""
    live = serve_start(str(ROOT / "specs" / "users.yaml"), "--mode", "live", "--upstream", "http://127.0.0.1:9")
    assert live["app"]
    loaded = {"aiohttp", "httpx", "jinja2"} & set(live["modules"])
    assert not loaded, sorted(loaded)


@pytest.mark.parametrize("service", [
    {"spec": str(ROOT / "tests" / "specs" / "echo.yaml"), "mode": "live", "upstream": "http://127.0.0.1:9",
     "websockets": ["/events"]},  # WebSocket pass-through: aiohttp is its client
    {"spec": str(ROOT / "specs" / "orders.yaml")},  # a spec documenting callbacks: aiohttp sends them
])
def test_a_gateway_that_can_use_aiohttp_loads_it_before_serving(service: dict, tmp_path: Path) -> None:
    """In the process that forks the workers: no WebSocket, callback (or forked worker) pays for importing it."""
    config = tmp_path / "gateway.yaml"
    config.write_text(json.dumps({"services": {"one": service}}), encoding="utf-8")
    assert "aiohttp" in serve_start(str(config))["modules"]


# the spec checker and the rules' validators: openapi-spec-validator, jsonschema, openapi-schema-validator and what they
# bring (requests, pydantic-settings, jsonschema-path): ~0.2 s of every start before
# (pydantic-settings is not one: gw's own settings are read with it, gw.settings)
CHECKERS = ("openapi_spec_validator", "jsonschema", "openapi_schema_validator", "requests", "jsonschema_path")


def test_a_start_on_specs_checked_before_imports_no_spec_checker(tmp_path: Path) -> None:
    """The structure check's findings (and the deep check's warnings) are kept by content: the next start on the
    same document takes them from the cache, and request validators are built without jsonschema (the rules
    import it when they first judge a value)."""
    cache = {"XDG_CACHE_HOME": str(tmp_path)}
    first = serve_start(str(ROOT / "specs" / "users.yaml"), env=cache)
    again = serve_start(str(ROOT / "specs" / "users.yaml"), env=cache)
    assert "openapi_spec_validator" in first["modules"]  # nothing cached yet: the document was checked
    assert not set(CHECKERS) & set(again["modules"]), sorted(set(CHECKERS) & set(again["modules"]))
    assert list((tmp_path / "gw" / "checks").glob("*.structure-*.json"))
