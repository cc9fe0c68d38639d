"""Benchmark gw's stub server against Prism, and measure the cost of gw's live proxy hop.

Why this exists: gw is meant to be a drop-in for `prism mock` that is at least as fast, and its
live mode must add under 2 ms at p50 over calling the upstream directly. Both claims are only
worth something if measured, on the machine at hand, with the same load tool for every server.

Run by hand, never in CI (figures depend on the box; compare ratios, not absolute numbers):

    python bench/run.py [--duration 10] [--connections 32] [--only stub|live|prism]

It installs what it needs (`wrk` with apt-get, Prism with npm into bench/.cache/prism), starts
one server at a time in its own process group, checks every route answers 2xx before loading
it, drives it with `wrk --latency`, prints a table and writes bench/results/latest.json.
See bench/README.md for what each scenario means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gw.port_check import free_port

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SPEC = "specs/users.yaml"
PRISM_DIR = BENCH / ".cache" / "prism"
PRISM_BIN = PRISM_DIR / "node_modules" / ".bin" / "prism"
RESULTS = BENCH / "results" / "latest.json"
GROUPS = ("stub", "prism", "live")
HOP_TARGET_MS = 2.0

REGISTER_BODY = {"username": "alice_1", "email": "alice@example.com", "password": "s3cretpass"}
INVALID_REGISTER_BODY = {"username": "A"}  # bad pattern, missing email and password
# The upstream's fixed answer: the spec's own example, so it is valid in every validation mode.
UPSTREAM_USER = {"id": 1, "username": "alice", "email": "alice@example.com", "full_name": "Alice Liddell",
                 "role": "admin", "active": True, "created_at": "2023-11-14T08:30:00Z",
                 "updated_at": "2024-03-01T12:00:00Z"}
UPSTREAM_APP = f'''
import sys
from aiohttp import web

BODY = {json.dumps(UPSTREAM_USER).encode()!r}

async def user(request):
    return web.Response(body=BODY, content_type="application/json")

app = web.Application()
app.router.add_get("/users/1", user)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
'''
POST_LUA = f"""wrk.method = "POST"
wrk.body = '{json.dumps(REGISTER_BODY)}'
wrk.headers["Content-Type"] = "application/json"
"""

# Wide enough for the table when piped to a file; a terminal keeps its own width.
console = Console(width=None if sys.stdout.isatty() else 150)
SCENARIO_ORDER = ("example", "generated", "register", "live")


# ---------------------------------------------------------------------------------------------
# What is measured


@dataclass(frozen=True)
class Route:
    """One request shape wrk repeats; `source` is the x-gw-source gw must answer with.

    `invalid` is a request to the same operation that the spec forbids (for POST: the same path
    with an invalid body). A server that answers it 2xx is not validating requests, so its
    figures leave out the cost of validation, which Prism pays: the table says so.
    """

    scenario: str
    method: str
    path: str
    source: str | None = None
    invalid: str | None = None

    def body(self, valid: bool = True) -> bytes | None:
        if self.method != "POST":
            return None
        return json.dumps(REGISTER_BODY if valid else INVALID_REGISTER_BODY).encode()


EXAMPLE = Route("example", "GET", "/users/1", "example", invalid="/users/abc")
GENERATED = Route("generated", "GET", "/users?limit=5", "generated", invalid="/users?limit=abc")
REGISTER = Route("register", "POST", "/register", "example", invalid="/register")
LIVE = Route("live", "GET", "/users/1", "live", invalid="/users/abc")
DIRECT = Route("live", "GET", "/users/1")


@dataclass
class Result:
    """One wrk run (or the reason it was not run)."""

    group: str
    scenario: str
    server: str
    connections: int
    threads: int
    duration_s: int
    url: str
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    requests: int | None = None
    non_2xx: int = 0
    socket_errors: int = 0
    preflight: str = ""
    validates: bool | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem and self.non_2xx == 0 and self.rps is not None


@dataclass
class Server:
    """A server process in its own process group, its stderr+stdout kept in a temp log."""

    name: str
    cmd: list[str]
    port: int
    ready_path: str
    log: Path
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


@dataclass
class Run:
    """Everything one invocation produced."""

    results: list[Result] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failures.append(message)
        console.print(f"[bold red]!! {escape(message)}[/]", highlight=False)

    def warn(self, message: str) -> None:
        if message in self.warnings:
            return
        self.warnings.append(message)
        console.print(f"[bold yellow]!! {escape(message)}[/]", highlight=False)


# ---------------------------------------------------------------------------------------------
# Tools


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    console.print("[yellow]wrk not found: running `apt-get install -y wrk`[/]")
    if subprocess.run(["apt-get", "install", "-y", "wrk"]).returncode != 0:
        console.print("[yellow]apt-get install failed; running `apt-get update` and trying once more[/]")
        subprocess.run(["apt-get", "update"])
        subprocess.run(["apt-get", "install", "-y", "wrk"])
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("error: wrk is not installed and `apt-get install -y wrk` did not install it")
    return found


def ensure_prism(run: Run) -> Path | None:
    """Install Prism into bench/.cache/prism once; on failure report npm's output and go on without."""
    if PRISM_BIN.exists():
        return PRISM_BIN
    console.print(f"[yellow]Prism not in {PRISM_DIR.relative_to(REPO)}: running "
                  "`npm install --prefix bench/.cache/prism @stoplight/prism-cli`[/]")
    PRISM_DIR.mkdir(parents=True, exist_ok=True)
    npm = subprocess.run(["npm", "install", "--prefix", str(PRISM_DIR), "@stoplight/prism-cli"],
                         capture_output=True, text=True)
    if npm.returncode != 0 or not PRISM_BIN.exists():
        run.fail(f"npm install of Prism failed (exit {npm.returncode}); Prism scenarios skipped")
        console.print(npm.stdout[-3000:], npm.stderr[-3000:], markup=False, highlight=False)
        return None
    return PRISM_BIN


def tool_version(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "?"


# ---------------------------------------------------------------------------------------------
# Server processes


def http(method: str, url: str, body: bytes | None = None, timeout: float = 5) -> tuple[int, dict[str, str]]:
    """One request; returns (status, lower-cased headers). HTTP errors are answers, not exceptions."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}


def start(server: Server, env: dict[str, str] | None = None) -> None:
    with server.log.open("wb") as log:
        server.proc = subprocess.Popen(server.cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True,
                                       env={**os.environ, **(env or {})})


def wait_ready(server: Server, timeout: float) -> bool:
    """Poll until the server answers anything on its ready path (or exits, or time runs out)."""
    assert server.proc is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            return False
        with contextlib.suppress(OSError):
            status, _ = http("GET", server.base + server.ready_path, timeout=2)
            if status < 500:
                return True
        time.sleep(0.25)
    return False


def stop(server: Server) -> None:
    """SIGTERM the whole process group (uvicorn workers, node children), SIGKILL if it lingers."""
    proc = server.proc
    if proc is None or proc.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
            return


@contextlib.contextmanager
def running(server: Server, run: Run, timeout: float = 60) -> Iterator[Server | None]:
    """Start the server, yield it once ready (None if it never got ready), always stop it."""
    console.print(f"[cyan]starting {server.name}:[/] {' '.join(server.cmd)}", highlight=False)
    start(server)
    try:
        if wait_ready(server, timeout):
            yield server
        else:
            code = server.proc.poll() if server.proc else None
            why = f"exited with code {code}" if code is not None else f"was not ready after {timeout:.0f}s"
            run.fail(f"{server.name} {why}; tail of its log:")
            console.print(server.log_tail(), markup=False, highlight=False)
            yield None
    finally:
        stop(server)


# ---------------------------------------------------------------------------------------------
# Load


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(text: str) -> dict[str, float | int | None]:
    def number(pattern: str) -> str | None:
        match = re.search(pattern, text, re.MULTILINE)
        return match.group(1) if match else None

    def percentile(pct: str) -> float | None:
        match = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.MULTILINE)
        return round(float(match.group(1)) * UNITS_MS[match.group(2)], 3) if match else None

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    rps = number(r"^Requests/sec:\s+([\d.]+)")
    requests = number(r"^\s*(\d+) requests in")
    non_2xx = number(r"Non-2xx or 3xx responses:\s+(\d+)")
    return {
        "rps": float(rps) if rps else None,
        "requests": int(requests) if requests else None,
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
        "non_2xx": int(non_2xx or 0),
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def wrk_cmd(wrk: str, url: str, connections: int, duration: int, lua: Path | None) -> list[str]:
    threads = min(2, connections)
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    return [*cmd, "-s", str(lua), url] if lua else [*cmd, url]


def preflight(route: Route, url: str) -> tuple[bool, str]:
    """One request first: a benchmark of error responses (or of the wrong code path) is worthless."""
    try:
        status, headers = http(route.method, url, route.body())
    except OSError as exc:
        return False, f"request failed: {exc}"
    source = headers.get("x-gw-source")
    summary = f"{status}" + (f" x-gw-source={source}" if source else "")
    if not 200 <= status < 300:
        return False, summary
    if route.source and source != route.source:
        return False, f"{summary} (expected x-gw-source={route.source})"
    return True, summary


def validates(route: Route, base: str) -> tuple[bool | None, str]:
    """Does the server itself refuse the route's invalid twin with a 4xx? (None: nothing to check.)

    A 4xx carrying x-gw-source came from the mocker or the upstream (which 404s /users/abc),
    not from gw's validator, so it does not count.
    """
    if route.invalid is None:
        return None, ""
    try:
        status, headers = http(route.method, base + route.invalid, route.body(valid=False))
    except OSError as exc:
        return None, f"invalid-request check failed: {exc}"
    if 400 <= status < 500 and "x-gw-source" not in headers:
        return True, ""
    what = "an invalid body" if route.method == "POST" else f"GET {route.invalid}"
    return False, f"answered {what} with {status}: requests are NOT validated, figures skip validation"


@dataclass(frozen=True)
class Load:
    """How hard to push, and with what."""

    wrk: str
    duration: int
    connections: int
    warmup: int
    lua: Path


def measure(load: Load, run: Run, group: str, server: Server, route: Route, connections: int) -> Result:
    url = server.base + route.path
    lua = load.lua if route.method == "POST" else None
    result = Result(group, route.scenario, server.name, connections, min(2, connections), load.duration, url)
    ok, result.preflight = preflight(route, url)
    if not ok:
        result.problem = f"preflight {route.method} {route.path}: {result.preflight}"
        run.fail(f"{server.name} {route.scenario}: {result.problem}; NOT benchmarked")
        return result
    result.validates, warning = validates(route, server.base)
    if warning:
        run.warn(f"{server.name} {route.scenario}: {warning}")
    if load.warmup:
        subprocess.run(wrk_cmd(load.wrk, url, connections, load.warmup, lua), capture_output=True)
    console.print(f"  wrk -c{connections} {route.method} {url} ...", highlight=False)
    done = subprocess.run(wrk_cmd(load.wrk, url, connections, load.duration, lua), capture_output=True, text=True)
    for key, value in parse_wrk(done.stdout).items():
        setattr(result, key, value)
    if done.returncode != 0 or result.rps is None:
        result.problem = f"wrk exit {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}"
        run.fail(f"{server.name} {route.scenario}: {result.problem}")
    elif result.non_2xx:
        run.fail(f"{server.name} {route.scenario}: {result.non_2xx} of {result.requests} responses were "
                 "NOT 2xx/3xx; these figures measure error responses")
    return result


# ---------------------------------------------------------------------------------------------
# Scenarios


def gw_cmd(port: int, *extra: str) -> list[str]:
    """The installed `gw` script beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "gw"
    gw = str(beside) if beside.exists() else shutil.which("gw")
    if gw is None:
        raise SystemExit("error: `gw` is not installed; activate the venv (pip install -e .) first")
    return [gw, "serve", SPEC, "--port", str(port), *extra]


def stub_servers(logs: Path, prism: Path | None, groups: set[str]) -> list[tuple[str, Server, list[Route]]]:
    stub_routes = [EXAMPLE, GENERATED, REGISTER]
    servers: list[tuple[str, Server, list[Route]]] = []
    if "stub" in groups:
        for workers in (1, 2):
            port = free_port()
            servers.append(("stub", Server(f"gw {workers}w", gw_cmd(port, "--workers", str(workers)), port,
                                           "/_gw/health", logs / f"gw-{workers}w.log"), stub_routes))
    if "prism" in groups and prism is not None:
        plain = [replace(r, source=None) for r in stub_routes]
        for name, flags, routes in (("prism static", [], plain), ("prism dynamic", ["-d"], plain[1:2])):
            port = free_port()
            cmd = [str(prism), "mock", SPEC, "-p", str(port), "-h", "127.0.0.1", *flags]
            servers.append(("prism", Server(name, cmd, port, "/users/1", logs / f"{name.replace(' ', '-')}.log"),
                            routes))
    return servers


def run_stub(load: Load, run: Run, logs: Path, prism: Path | None, groups: set[str]) -> None:
    for group, server, routes in stub_servers(logs, prism, groups):
        with running(server, run) as ready:
            if ready is None:
                continue
            for route in routes:
                run.results.append(measure(load, run, group, ready, route, load.connections))


def run_live(load: Load, run: Run, logs: Path) -> None:
    app = logs / "upstream_app.py"
    app.write_text(UPSTREAM_APP, encoding="utf-8")
    up_port, gw_port = free_port(), free_port()
    upstream = Server("upstream direct", [sys.executable, str(app), str(up_port)], up_port, "/users/1",
                      logs / "upstream.log")
    gateway = Server("gw live 1w", gw_cmd(gw_port, "--mode", "live", "--upstream", f"http://127.0.0.1:{up_port}"),
                     gw_port, "/_gw/health", logs / "gw-live.log")
    concurrency = sorted({load.connections, 1}, reverse=True)
    with running(upstream, run) as up:
        if up is None:
            return
        for connections in concurrency:
            run.results.append(measure(load, run, "live", up, DIRECT, connections))
        with running(gateway, run) as gw:
            if gw is None:
                return
            for connections in concurrency:
                run.results.append(measure(load, run, "live", gw, LIVE, connections))


# ---------------------------------------------------------------------------------------------
# Report


def find(results: list[Result], server: str, scenario: str, connections: int) -> Result | None:
    for result in results:
        if (result.server, result.scenario, result.connections) == (server, scenario, connections) and result.ok:
            return result
    return None


def comparisons(results: list[Result]) -> dict[tuple[str, str, int], dict[str, object]]:
    """gw vs Prism per stub scenario; gw live vs direct upstream per concurrency."""
    out: dict[tuple[str, str, int], dict[str, object]] = {}
    for r in results:
        if not r.ok:
            continue
        if r.group == "stub":
            refs = ["prism dynamic", "prism static"] if r.scenario == "generated" else ["prism static"]
            ref = next((x for x in (find(results, s, r.scenario, r.connections) for s in refs) if x), None)
            if ref and ref.rps:
                out[(r.server, r.scenario, r.connections)] = {
                    "vs": ref.server, "rps_ratio": round(r.rps / ref.rps, 2) if r.rps else None}
        elif r.group == "live" and r.server.startswith("gw"):
            ref = find(results, "upstream direct", "live", r.connections)
            if ref and ref.p50_ms is not None and r.p50_ms is not None:
                added = round(r.p50_ms - ref.p50_ms, 3)
                out[(r.server, r.scenario, r.connections)] = {
                    "vs": ref.server, "added_p50_ms": added,
                    "added_p99_ms": round(r.p99_ms - ref.p99_ms, 3) if r.p99_ms and ref.p99_ms else None,
                    "rps_ratio": round(r.rps / ref.rps, 2) if r.rps and ref.rps else None,
                    "target_met": added < HOP_TARGET_MS}
    return out


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def compare_text(comp: dict[str, object] | None) -> str:
    if not comp:
        return ""
    if "added_p50_ms" in comp:
        verdict = "[green]ok[/]" if comp["target_met"] else "[red]over[/]"
        return (f"hop +{comp['added_p50_ms']:.2f} ms p50 ({verdict}, target <{HOP_TARGET_MS:g}), "
                f"{comp['rps_ratio']}x direct req/s")
    return f"{comp['rps_ratio']:.2f}x {comp['vs']} req/s"


def row_order(r: Result) -> tuple[int, int, int]:
    """Stub rows grouped by scenario (gw next to Prism), then the live hop by concurrency."""
    return (r.group == "live", SCENARIO_ORDER.index(r.scenario), -r.connections)


def print_table(run: Run, comps: dict[tuple[str, str, int], dict[str, object]]) -> None:
    table = Table(title="gw benchmark (wrk --latency)", title_justify="left")
    for column in ("scenario", "server", "conns", "req/s", "p50 ms", "p99 ms", "non-2xx", "sock err", "compare"):
        table.add_column(column, justify="right" if column not in ("scenario", "server", "compare") else "left")
    for r in sorted(run.results, key=row_order):
        bad = not r.ok
        non_2xx = f"[bold red]{r.non_2xx}[/]" if r.non_2xx else "0"
        compare = f"[bold red]{escape(r.problem or 'NON-2xx')}[/]" if bad else compare_text(
            comps.get((r.server, r.scenario, r.connections)))
        if r.validates is False:
            compare = f"{compare} [bold yellow]NOT VALIDATING[/]".strip()
        label = f"{'live' if r.group == 'live' else 'stub'}/{r.scenario}"
        table.add_row(label, r.server, str(r.connections), fmt(r.rps, 0), fmt(r.p50_ms),
                      fmt(r.p99_ms), non_2xx, str(r.socket_errors), compare, style="red" if bad else None)
    console.print(table)
    for message in run.warnings:
        console.print(f"[bold yellow]!! {escape(message)}[/]", highlight=False)
    for message in run.failures:
        console.print(f"[bold red]!! {escape(message)}[/]", highlight=False)


def write_json(run: Run, comps: dict[tuple[str, str, int], dict[str, object]], meta: dict[str, object]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "meta": meta,
        "results": [{**asdict(r), "ok": r.ok} for r in run.results],
        "comparisons": [{"server": k[0], "scenario": k[1], "connections": k[2], **v} for k, v in comps.items()],
        "warnings": run.warnings,
        "failures": run.failures,
    }
    RESULTS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    console.print(f"raw results: {RESULTS.relative_to(REPO)}")


def metadata_for(args: argparse.Namespace, wrk: str, prism: Path | None) -> dict[str, object]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": args.duration, "connections": args.connections, "warmup_s": args.warmup,
        "groups": sorted(args.only), "cpus": os.cpu_count(), "machine": platform.platform(),
        "python": platform.python_version(), "gw": metadata.version("gw"), "commit": commit.stdout.strip() or None,
        "wrk": tool_version([wrk, "-v"]), "prism": tool_version([str(prism), "--version"]) if prism else None,
    }


# ---------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per measurement (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded wrk seconds before each run (default 1)")
    parser.add_argument("--only", action="append", choices=GROUPS,
                        help="run only this group (repeatable): stub = gw stubs, prism, live = proxy hop")
    args = parser.parse_args(argv)
    args.only = set(args.only or GROUPS)
    return args


def on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    run = Run()
    wrk = ensure_wrk()
    prism = ensure_prism(run) if "prism" in args.only else None
    logs = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    lua = logs / "post.lua"
    lua.write_text(POST_LUA, encoding="utf-8")
    load = Load(wrk, args.duration, args.connections, args.warmup, lua)
    try:
        if args.only & {"stub", "prism"}:
            run_stub(load, run, logs, prism, args.only)
        if "live" in args.only:
            run_live(load, run, logs)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: servers stopped; partial results below[/]")
        run.failures.append("interrupted")
    comps = comparisons(run.results)
    print_table(run, comps)
    write_json(run, comps, metadata_for(args, wrk, prism))
    if run.failures:
        console.print(f"server logs kept in {logs}")
    else:
        shutil.rmtree(logs, ignore_errors=True)
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
