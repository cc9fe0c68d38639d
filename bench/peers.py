"""The servers bench/run.py measures: gw, its peers, and how each is installed, configured and stopped.

Peers are installed by the script, never by hand, so a fresh clone measures the same thing:
Prism and WireMock from npm into bench/.cache/ (WireMock's npm package ships the standalone
jar, run with `java`), nginx where the machine has it (Debian's nginx-light), and two small
scripts beside this file: the upstream the live hop calls and the bare Starlette + aiohttp hop.
Each peer serves the routes of gw's stub scenarios (see `wiremock_mappings`, `nginx_config`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.routes import SPEC, example_user, registered_user, request, schema
from gw.contract.conformance.process import stop_process_group
from gw.core.port_check import free_port

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CACHE = BENCH / ".cache"
PRISM_PACKAGE = "@stoplight/prism-cli@5"
WIREMOCK_PACKAGE = "wiremock@3"
# WireMock's documentation for load and performance tests (wiremock.org, standalone/java-jar and configuration):
# no request journal ("typically needed during load testing"), no request logging ("use this when performance
# testing as it will save memory and CPU"). Its Jetty thread and async-response options are documented for heavy
# loads and for stubs with delays; measured here with neither help (bench/README.md), they stay at their defaults.
WIREMOCK_FAST = ("--no-request-journal", "--disable-request-logging")
# Seconds of load before WireMock's first measurement: C2 needs it. Measured on this box (bench/README.md): CPU per
# request settles after 15 s of load per route (load average 18); 60 s, spread over its four routes, reaches it.
WIREMOCK_WARMUP = 60
# Prism's CLI: `--multiprocess` "forks the http server from the CLI for faster log processing"; its per-request
# info lines go too (warnings stay). Measured here: about a third of the CPU per request of the defaults.
PRISM_FAST = ("--multiprocess", "--verboseLevel", "warn")
# V8 optimises Prism's hot paths under load too: CPU per request settled after 9-12 s on one route here.
PRISM_WARMUP = 30


@dataclass
class Server:
    """A server process in its own process group, its stdout+stderr kept in a log file."""

    name: str
    cmd: list[str]
    port: int
    ready_path: str
    log: Path
    env: dict[str, str] | None = None
    warmup: int = 0  # unrecorded seconds of load across its routes once ready (a JIT's); 0: the run's --server-warmup
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class NotReady(Exception):
    """A server exited or did not answer in time; the message says which and holds its log's tail."""


def wait_ready(server: Server, timeout: float) -> str:
    """Poll until the server answers its ready path with a success: '' then, else why not. (Anything below 400: a
    404 is another server on that port, not this one ready.)"""
    assert server.proc is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = False
        with contextlib.suppress(OSError):
            answered = request("GET", server.base + server.ready_path, timeout=2).status < 400
        if server.proc.poll() is not None:  # asked after the answer: another server may hold the port
            return f"exited with code {server.proc.returncode}"
        if answered:
            return ""
        time.sleep(0.2)
    return f"was not ready after {timeout:.0f}s"


def stop(server: Server) -> None:
    """SIGTERM the whole process group (uvicorn workers, node and java children), SIGKILL if it lingers."""
    if server.proc is not None:
        stop_process_group(server.proc)


@contextlib.contextmanager
def running(server: Server, timeout: float = 90) -> Iterator[Server]:
    """Start the server, yield it once ready, always stop it; NotReady (with its log) if it never got ready."""
    with server.log.open("wb") as log:
        try:
            server.proc = subprocess.Popen(server.cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True,
                                           env={**os.environ, **(server.env or {})})
        except OSError as exc:
            raise NotReady(f"{server.name} could not be started: {exc}") from None
    try:
        why = wait_ready(server, timeout)
        if why:
            raise NotReady(f"{server.name} {why}; tail of {server.log}:\n{server.log_tail()}")
        yield server
    finally:
        stop(server)


# ---------------------------------------------------------------------------------------------
# Installing


class Missing(Exception):
    """A peer could not be installed or found; the message says what to do."""


def npm_install(folder: Path, package: str, binary: Path) -> Path:
    """`npm install --prefix bench/.cache/<folder> <package>` once; later runs reuse it."""
    if binary.exists():
        return binary
    print(f"installing {package} into {folder.relative_to(REPO)} (npm, once)", flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        npm = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(folder), package],
                             capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Missing(f"npm install {package} failed: {exc}") from None
    if npm.returncode != 0 or not binary.exists():
        raise Missing(f"npm install {package} failed (exit {npm.returncode}): {(npm.stderr or npm.stdout)[-1500:]}")
    return binary


def prism_bin() -> Path:
    folder = CACHE / "prism"
    return npm_install(folder, PRISM_PACKAGE, folder / "node_modules" / ".bin" / "prism")


def wiremock_jar() -> Path:
    """The standalone jar the npm package `wiremock` ships (Maven Central is not needed)."""
    if shutil.which("java") is None:
        raise Missing("java is not installed (WireMock needs it): apt-get install -y default-jre-headless")
    folder = CACHE / "wiremock"
    npm_install(folder, WIREMOCK_PACKAGE, folder / "node_modules" / "wiremock" / "package.json")
    jars = sorted((folder / "node_modules" / "wiremock").rglob("wiremock-standalone-*.jar"))
    if not jars:
        raise Missing(f"the npm package {WIREMOCK_PACKAGE} in {folder} holds no wiremock-standalone jar")
    return jars[-1]


def nginx_bin() -> str | None:
    """nginx where the machine has it (Debian: nginx-light, /usr/sbin/nginx), else None."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def tool_version(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "?"


# ---------------------------------------------------------------------------------------------
# Servers


def gw_command(port: int, *extra: str) -> list[str]:
    """The installed `gw` script beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "gw"
    gw = str(beside) if beside.exists() else shutil.which("gw")
    if gw is None:
        raise Missing("`gw` is not installed: activate the venv (pip install -e .) first")
    return [gw, "serve", SPEC, "--port", str(port), *extra]


# gw's settings for what WIREMOCK_FAST turns off in WireMock: no request journal, no per-request log line, and no
# Prometheus counting (WireMock keeps none). The targets judge gw's defaults; this row shows the like-for-like figure.
GW_LEAN = {"GW_ADMIN__JOURNAL_SIZE": "0", "GW_LOG_LEVEL": "warning", "GW_METRICS": "false"}


def gw_stub(workers: int, logs: Path, lean: bool = False) -> Server:
    """gw serving the bundled stubs; `lean`: with GW_LEAN, as WireMock runs in this bench."""
    port = free_port()
    name = f"gw {workers}w" + (" lean" if lean else "")
    return Server(name, gw_command(port, "--workers", str(workers)), port, "/_gw/health",
                  logs / f"{name.replace(' ', '-')}.log", env=GW_LEAN if lean else None)


def gw_live(upstream: str, check: bool, logs: Path) -> Server:
    """gw in live mode, 1 worker; `check=False` turns the validation proxy off (GW_CONTRACT__CHECK=false)."""
    port = free_port()
    name = "gw live" if check else "gw live, no check"
    return Server(name, gw_command(port, "--mode", "live", "--upstream", upstream, "--workers", "1"), port,
                  "/_gw/health", logs / f"{name.replace(' ', '-').replace(',', '')}.log",
                  env={"GW_CONTRACT__CHECK": "true" if check else "false"})


def prism(binary: Path, logs: Path) -> Server:
    """Prism as its CLI offers it for speed: static examples (no --dynamic), no --errors, the HTTP server forked
    from the CLI (`--multiprocess`: "for faster log processing") and warnings only in its log."""
    port = free_port()
    return Server("prism", [str(binary), "mock", SPEC, "-p", str(port), "-h", "127.0.0.1", *PRISM_FAST], port,
                  "/users/1", logs / "prism.log", warmup=PRISM_WARMUP)


def upstream(logs: Path) -> Server:
    """The tiny aiohttp upstream of the live hop: GET /users/1 answers the spec's example user."""
    port = free_port()
    return Server("upstream direct", [sys.executable, str(BENCH / "upstream_app.py"), str(port)], port, "/users/1",
                  logs / "upstream.log")


def bare_hop(upstream_url: str, logs: Path) -> Server:
    """The baseline hop: Starlette + aiohttp ClientSession on uvicorn, 1 worker, nothing else."""
    port = free_port()
    return Server("bare starlette+aiohttp hop", [sys.executable, str(BENCH / "bare_hop.py"), str(port), upstream_url],
                  port, "/users/1", logs / "bare-hop.log")


def list_body(size: int = 1, limit: int = 5) -> dict[str, Any]:
    """A UserPage for the peers' `GET /users?limit=5`: as big as gw's generated page (one user, ~200 bytes)."""
    users = [{**example_user(), "id": n + 1, "username": f"user_{n + 1}"} for n in range(size)]
    return {"items": users, "total": size, "limit": limit, "offset": 0}


def wiremock_mappings() -> list[dict[str, Any]]:
    """Stub mappings equivalent to gw's stub scenarios on specs/users.yaml.

    They match as narrowly as the spec does, so WireMock refuses the same invalid twins gw and
    Prism refuse: a numeric user id, a numeric `limit`, and a register body that matches the
    spec's RegisterRequest JSON Schema (anything else gets WireMock's 404).
    """
    json_headers = {"Content-Type": "application/json"}
    register_schema = {k: v for k, v in schema("RegisterRequest").items() if k != "description"}
    return [
        {"request": {"method": "GET", "urlPathPattern": "/users/[0-9]+"},
         "response": {"status": 200, "headers": json_headers, "jsonBody": example_user()}},
        {"request": {"method": "GET", "urlPath": "/users", "queryParameters": {"limit": {"matches": "[0-9]+"}}},
         "response": {"status": 200, "headers": json_headers, "jsonBody": list_body()}},
        {"request": {"method": "POST", "urlPath": "/register",
                     "headers": {"Content-Type": {"contains": "application/json"}},
                     "bodyPatterns": [{"matchesJsonSchema": json.dumps(register_schema), "schemaVersion": "V202012"}]},
         "response": {"status": 201, "headers": {**json_headers, "Location": "/users/3"}, "jsonBody": registered_user()}},
    ]


def wiremock(jar: Path, logs: Path) -> Server:
    root = logs / "wiremock"
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "__files").mkdir(exist_ok=True)
    (root / "mappings" / "users.json").write_text(json.dumps({"mappings": wiremock_mappings()}, indent=1),
                                                  encoding="utf-8")
    port = free_port()
    cmd = ["java", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1", "--root-dir", str(root),
           "--disable-banner", *WIREMOCK_FAST]
    return Server("wiremock", cmd, port, "/__admin/mappings", logs / "wiremock.log", warmup=WIREMOCK_WARMUP)


def nginx_config(folder: Path, proxy_port: int, static_port: int, upstream_url: str) -> str:
    """One worker, no root needed: a proxy to the upstream and a static answer of the example user."""
    body = json.dumps(example_user()).replace("\\", "\\\\").replace("'", "\\'")
    temp = "\n".join(f"  {kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
{temp}
  upstream bench_upstream {{ server {upstream_url.removeprefix("http://")}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{proxy_port};
    location / {{ proxy_pass http://bench_upstream; proxy_http_version 1.1; proxy_set_header Connection ""; }}
    location = /_ready {{ return 204; }}
  }}
  server {{
    listen 127.0.0.1:{static_port};
    location = /users/1 {{ default_type application/json; return 200 '{body}'; }}
  }}
}}
"""


def nginx(binary: str, upstream_url: str, logs: Path) -> tuple[Server, int]:
    """nginx serving both rows from one process: (the server, ready on its proxy port; the static port)."""
    folder = logs / "nginx"
    folder.mkdir(exist_ok=True)
    proxy_port, static_port = free_port(), free_port()
    (folder / "nginx.conf").write_text(nginx_config(folder, proxy_port, static_port, upstream_url), encoding="utf-8")
    cmd = [binary, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log")]
    return Server("nginx proxy", cmd, proxy_port, "/_ready", logs / "nginx.log"), static_port

