"""gw against its peers in one run: issue #15's targets first, then every figure behind them.

Why this exists: gw claims stubs well ahead of WireMock and Prism, a live hop that costs about
what the Python platform costs, and huge specs ready in seconds. Those claims are only worth
something measured on the machine at hand, in one run, with one load tool for every server, and
only if every server answered what it should while it was measured.

Run by hand, never in CI (figures depend on the box; ratios within one run are what count):

    python bench/run.py [--duration 10] [--rounds 5] [--connections 32] [--only stub|live|startup]

It installs its peers (Prism and WireMock from npm into bench/.cache/; nginx and wrk where the
machine has them), starts every server of a section at once, checks every route's status, media
type and body shape, warms each server up once, then measures in interleaved rounds: each round
loads every server and route in turn for a short while (`--duration` split over `--rounds`), the
order reversed every other round, so a neighbour's burst on a shared box hits both sides of a ratio
alike. Figures are the medians of the rounds (min-max shown), ratios are taken round by round, and
beside req/s each row reads the CPU time per request of the server's processes and of wrk (which
hardly moves with the neighbours' load). It runs `bench/scale.py --json` for the start-up rows,
prints the targets with PASS/FAIL and then the tables, and writes bench/results/<timestamp>.json.
Exit code 1 when any measurement is broken (a route answered wrongly in any round, wrk saw non-2xx
answers or socket errors, a server did not start or died), 3 when the run is sound but a target
was missed. See bench/README.md for what each row means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if __package__ in (None, ""):  # run as `python bench/run.py`: make the bench package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import peers
from bench.load import Measurement, Sample, Wrk
from bench.peers import Missing, NotReady, Server, running
from bench.routes import (
    EXAMPLE,
    LIVE,
    REGISTER_BODY,
    STUB_ROUTES,
    Route,
    check_route,
    refuses_invalid,
    validation_proxy_problem,
)
from bench.summary import markdown
from bench.targets import (
    BARE_HOP,
    DIRECT,
    NGINX_STATIC,
    Verdict,
    find,
    verdicts,
)

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
SCALE = BENCH / "scale.py"
SECTIONS = ("stub", "live", "startup")
# the start-up targets' specs: GitHub's 13 MB description and Kubernetes' (every corpus spec: `python bench/scale.py`)
STARTUP_SPECS = ("--only", "github", "--only", "kubernetes")
NOT_MEASURED_STARTUP = "start-up: not measured (bench/scale.py --json missing)"

# A JIT peer's extra warm-up (settle): seconds of load per route and pass, the most extra seconds, and "settled": a
# pass whose CPU per request is at least this share of the previous pass's (it fell by less than 10%).
SETTLE_PASS_S, SETTLE_MAX_S, SETTLED = 2, 60, 0.9

# Wide enough for the tables when piped to a file; a terminal keeps its own width.
console = Console(width=None if sys.stdout.isatty() else 180)


@dataclass
class Run:
    """Everything one invocation produced."""

    measurements: list[Measurement] = field(default_factory=list)
    startup: list[dict[str, Any]] | None = None
    startup_note: str = ""
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)  # the 1-minute load average after each round
    took: dict[str, int] = field(default_factory=dict)  # seconds per section
    settling: dict[str, list[float]] = field(default_factory=dict)  # a JIT peer's CPU µs/request, pass by pass

    def fail(self, message: str) -> None:
        self.failures.append(message)
        console.print(f"[bold red]FAIL {escape(message)}[/]", highlight=False)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            console.print(f"[bold yellow]warning: {escape(message)}[/]", highlight=False)


# ---------------------------------------------------------------------------------------------
# Measuring


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    console.print("[yellow]wrk not found: running `apt-get install -y wrk`[/]")
    if subprocess.run(["apt-get", "install", "-y", "wrk"]).returncode != 0:
        subprocess.run(["apt-get", "update"])
        subprocess.run(["apt-get", "install", "-y", "wrk"])
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("error: wrk is not installed and `apt-get install -y wrk` did not install it")
    return found


@dataclass
class Cell:
    """One server, route and concurrency, measured once per round; `group` is the process group whose CPU it costs."""

    server: Server
    route: Route
    connections: int
    group: int
    measurement: Measurement


@dataclass
class Plan:
    """A server to start for a section, the routes to load on it, and an optional probe it must pass first.

    `serves`, when given, is what is loaded (nginx's static answer lives in the proxy's process).
    """

    server: Server
    load: list[tuple[Route, int]]
    probe: Callable[[str], str] | None = None
    serves: Server | None = None


def prepare(run: Run, section: str, server: Server, group: int, load: list[tuple[Route, int]]) -> list[Cell]:
    """Check each route once (a wrong answer: that cell is never loaded) and whether the server refuses its invalid twin."""
    cells = []
    for route, connections in load:
        m = Measurement(section, route.scenario, server.name, connections, server.base + route.path)
        run.measurements.append(m)
        m.checked, problem = check_route(route, server.base)
        if problem:
            m.problem = f"route check: {problem}"
            run.fail(f"{server.name} {route.scenario}: {m.problem}; NOT measured")
            continue
        m.validates, warning = refuses_invalid(route, server.base)
        if warning:
            run.warn(f"{server.name} {route.scenario}: {warning}")
        cells.append(Cell(server, route, connections, group, m))
    return cells


def start_all(run: Run, stack: contextlib.ExitStack, wrk: Wrk, section: str, plans: list[Plan],
              post_script: Path) -> list[Cell]:
    """Start every server of a section (kept running until its rounds are done), probe, check and warm each up."""
    cells: list[Cell] = []
    for plan in plans:
        console.print(f"[cyan]{plan.server.name}:[/] {' '.join(plan.server.cmd)}", highlight=False)
        try:
            ready = stack.enter_context(running(plan.server))
        except NotReady as exc:
            run.fail(str(exc))
            continue
        assert ready.proc is not None
        if plan.probe and (problem := plan.probe(ready.base)):
            run.fail(f"{ready.name}: {problem}; NOT measured")
            continue
        served = replace(plan.serves, proc=ready.proc) if plan.serves else ready
        made = prepare(run, section, served, ready.proc.pid, plan.load)
        if made:
            warm_up(wrk, served, [cell.route for cell in made], post_script)
            if served.warmup:
                run.settling[served.name] = settle(wrk, served, ready.proc.pid, [cell.route for cell in made], post_script)
        cells += made
    return cells


def take(run: Run, wrk: Wrk, cell: Cell, round_no: int, post_script: Path) -> None:
    """One round on one cell: the route checked again, then `wrk.duration` s of load (half at 1 connection)."""
    m, route, server = cell.measurement, cell.route, cell.server
    assert server.proc is not None
    if server.proc.poll() is not None:
        sample = Sample(round_no, problem=f"the server exited with code {server.proc.returncode}:\n{server.log_tail()}")
    elif problem := check_route(route, server.base)[1]:
        sample = Sample(round_no, problem=f"route check: {problem}")
    else:
        seconds = max(1, wrk.duration // 2) if cell.connections == 1 else wrk.duration
        sample = wrk.sample(m.url, cell.connections, seconds, cell.group, round_no,
                            post_script if route.method == "POST" else None)
    m.add(sample)
    if sample.problem:
        run.fail(f"{server.name} {route.scenario} at {cell.connections} connections, round {round_no}: {sample.problem}; "
                 "its later rounds skipped")


def measure_rounds(run: Run, wrk: Wrk, section: str, cells: list[Cell], rounds: int, post_script: Path) -> None:
    """Every cell once per round, the order reversed every other round, so a neighbour's burst hits all alike."""
    for round_no in range(1, rounds + 1):
        for cell in cells if round_no % 2 else reversed(cells):
            if not cell.measurement.problem:
                take(run, wrk, cell, round_no, post_script)
        run.loads.append(round(os.getloadavg()[0], 2))
        console.print(f"  {section} round {round_no}/{rounds} done (load average {run.loads[-1]:.1f})", highlight=False)
    for cell in cells:  # and once after the last round: a server that went wrong under load is caught too
        if not cell.measurement.problem and (problem := check_route(cell.route, cell.server.base)[1]):
            cell.measurement.problem = f"route check after the last round: {problem}"
            run.fail(f"{cell.server.name} {cell.route.scenario} at {cell.connections} connections: "
                     f"{cell.measurement.problem}")


def run_section(run: Run, wrk: Wrk, section: str, plans: list[Plan], rounds: int, post_script: Path,
                already: list[Cell] | None = None) -> None:
    """Start the section's servers once, keep them warm, measure them in interleaved rounds, stop them all."""
    with contextlib.ExitStack() as stack:
        cells = [*(already or []), *start_all(run, stack, wrk, section, plans, post_script)]
        measure_rounds(run, wrk, section, by_route(cells), rounds, post_script)


def by_route(cells: list[Cell]) -> list[Cell]:
    """Round order: route by route, concurrency by concurrency, so the servers a ratio compares are loaded back to back."""
    keys = list(dict.fromkeys((cell.route.scenario, cell.connections) for cell in cells))
    return sorted(cells, key=lambda cell: keys.index((cell.route.scenario, cell.connections)))


def warm_up(wrk: Wrk, server: Server, routes: list[Route], post_script: Path) -> None:
    """Unrecorded load once the server is ready: its own warm-up (a JIT's) spread over every route it serves,
    else the run's --server-warmup on the first route."""
    distinct = list({route.scenario: route for route in routes}.values())
    if server.warmup:
        each = max(1, round(server.warmup / len(distinct)))
        plan = [(route, each) for route in distinct]
    else:
        plan = [(distinct[0], wrk.server_warmup)]
    for route, seconds in plan:
        wrk.warm(server.base + route.path, seconds, post_script if route.method == "POST" else None)


def settle(wrk: Wrk, server: Server, group: int, routes: list[Route], post_script: Path) -> list[float]:
    """A JIT's warm-up past its fixed seconds until it is done: short loads over every route while the server's CPU
    per request still falls (by more than SETTLED) from one pass to the next, at most SETTLE_MAX_S more.

    Why: a fixed warm-up is a fixed number of requests only on a quiet box. On a loaded one WireMock's CPU per request
    was still falling 4x across the measured rounds after its 45 s (1,049 then 540, 535, 233, 258 µs), so its median
    round understated it. Returns each pass's CPU µs per request, summed over the routes (the first is the baseline).
    """
    passes: list[float] = []
    distinct = list({route.scenario: route for route in routes}.values())
    while len(passes) * len(distinct) * SETTLE_PASS_S < SETTLE_MAX_S:
        samples = [wrk.sample(server.base + route.path, wrk.connections, SETTLE_PASS_S, group, 0,
                              post_script if route.method == "POST" else None) for route in distinct]
        passes.append(round(sum(sample.server_cpu_us or 0.0 for sample in samples), 1))
        if len(passes) > 1 and passes[-1] >= passes[-2] * SETTLED:
            break
    console.print(f"  {server.name}: CPU µs per request over its routes, pass by pass: "
                  f"{', '.join(f'{cost:,.0f}' for cost in passes)}", highlight=False)
    return passes


def plain(route: Route) -> Route:
    """The route for a server that is not gw and does not validate by design: no x-gw-source, no invalid twin."""
    return replace(route, source=None, invalid=None)


def stub_plans(run: Run, logs: Path, upstream_url: str, connections: int) -> list[Plan]:
    """gw at 2 and 1 workers, WireMock, Prism, gw at 2 workers as lean as WireMock runs (every stub route), and nginx's
    static answer (GET only)."""
    every = [(route, connections) for route in STUB_ROUTES]
    peer_routes = [(replace(route, source=None), connections) for route in STUB_ROUTES]
    plans = [Plan(peers.gw_stub(2, logs), every)]
    for name, build in (("WireMock", lambda: peers.wiremock(peers.wiremock_jar(), logs)),
                        ("Prism", lambda: peers.prism(peers.prism_bin(), logs))):
        try:
            plans.append(Plan(build(), peer_routes))
        except Missing as exc:
            run.fail(f"{name}: {exc}; its rows NOT measured")
    plans.append(Plan(peers.gw_stub(1, logs), every))
    plans.append(Plan(peers.gw_stub(2, logs, lean=True), every))
    nginx = peers.nginx_bin()
    if nginx is None:
        run.warn("nginx is not installed (apt-get install nginx-light): its rows are skipped")
        return plans
    proxy, static_port = peers.nginx(nginx, upstream_url, logs)
    static = Server(NGINX_STATIC, proxy.cmd, static_port, "/users/1", proxy.log)
    return [*plans, Plan(proxy, [(plain(EXAMPLE), connections)], serves=static)]


def live_plans(run: Run, logs: Path, upstream_url: str, both: list[int]) -> list[Plan]:
    """gw with the validation proxy on, the bare hop, gw with it off, nginx: each at 32 and at 1 connection."""
    direct = [(plain(LIVE), c) for c in both]
    plans = [Plan(peers.gw_live(upstream_url, True, logs), [(LIVE, c) for c in both],
                  probe=partial(validation_proxy_problem, expect_on=True)),
             Plan(peers.bare_hop(upstream_url, logs), direct),
             Plan(peers.gw_live(upstream_url, False, logs), [(LIVE, c) for c in both],
                  probe=partial(validation_proxy_problem, expect_on=False))]
    if nginx := peers.nginx_bin():
        plans.append(Plan(peers.nginx(nginx, upstream_url, logs)[0], direct))
    else:
        run.warn("nginx is not installed (apt-get install nginx-light): its rows are skipped")
    return plans


def run_stub(run: Run, wrk: Wrk, logs: Path, post_script: Path, upstream_url: str, rounds: int) -> None:
    run_section(run, wrk, "stub", stub_plans(run, logs, upstream_url, wrk.connections), rounds, post_script)


def run_live(run: Run, wrk: Wrk, logs: Path, post_script: Path, upstream: Server, rounds: int) -> None:
    """The hop at 32 and at 1 connection: the upstream direct (already running), the hops beside it."""
    both = sorted({wrk.connections, 1}, reverse=True)
    assert upstream.proc is not None
    direct = prepare(run, "live", upstream, upstream.proc.pid, [(plain(LIVE), c) for c in both])
    if direct:
        warm_up(wrk, upstream, [LIVE], post_script)
    run_section(run, wrk, "live", live_plans(run, logs, upstream.base, both), rounds, post_script, already=direct)


def run_startup(run: Run, timeout: float, script: Path = SCALE) -> None:
    """`bench/scale.py --json` (owned by the start-up work): its rows, or why there are none."""
    command = [sys.executable, str(script), "--json", *STARTUP_SPECS, "--timeout", str(round(timeout / 4))]
    console.print(f"[cyan]start-up:[/] {' '.join(command)}", highlight=False)
    done = run_bounded(command, timeout)
    if done is None:
        run.fail(f"start-up: bench/scale.py --json took over {timeout:.0f}s (interrupted); NOT measured")
        return
    if done.returncode == 2 and "--json" in done.stderr and "unrecognized" in done.stderr:
        run.startup_note = NOT_MEASURED_STARTUP
        console.print(f"[yellow]{NOT_MEASURED_STARTUP}[/]")
        return
    rows = startup_rows(done.stdout)
    if done.returncode != 0 or rows is None:
        run.fail(f"start-up: bench/scale.py --json exit {done.returncode}: {(done.stderr or done.stdout).strip()[-600:]}")
        return
    run.startup = rows
    for row in rows:
        if row.get("ok"):
            continue
        what = f"{row.get('server')} on {row.get('spec')} x{row.get('workers')} did not start or answer"
        if row.get("server") == "gw":
            run.fail(f"start-up: {what}")
        else:  # a peer that cannot serve a spec is a finding about the peer, not a broken run
            console.print(f"[yellow]start-up: {what} within {round(timeout / 4)} s[/]", highlight=False)


def run_bounded(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str] | None:
    """Run `cmd`; past `timeout`, SIGINT it (so its `finally` stops the servers it started), SIGKILL if it lingers."""
    with subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            return None
        except KeyboardInterrupt:  # our own Ctrl-C or SIGTERM: scale.py stops its servers too
            proc.send_signal(signal.SIGINT)
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def startup_rows(stdout: str) -> list[dict[str, Any]] | None:
    """The JSON list of rows scale.py prints (the whole output, else its last line that is one); None if none."""
    for text in (stdout, *reversed(stdout.strip().splitlines())):
        try:
            rows = json.loads(text)
        except ValueError:
            continue
        if isinstance(rows, list) and all(isinstance(row, dict) for row in rows):
            return rows
    return None


# ---------------------------------------------------------------------------------------------
# Report


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def rps_range(m: Measurement) -> str:
    spread = m.spread("rps")
    return f"{spread[0]:,.0f}-{spread[1]:,.0f}" if spread else ""


def rounds_of(ms: list[Measurement]) -> int:
    return max((len(m.rounds) for m in ms), default=0)


def print_verdicts(found: list[Verdict], rounds: int) -> None:
    how = f"median of {rounds} interleaved rounds, min-max beside it" if rounds > 1 else "within this run"
    table = Table(title=f"issue #15 targets (ratios {how})", title_justify="left")
    for column in ("target", "measured", "verdict"):
        table.add_column(column)
    colour = {"PASS": "green", "FAIL": "bold red", "NOT MEASURED": "yellow"}
    for v in found:
        table.add_row(v.target, escape(v.measured), f"[{colour[v.label]}]{v.label}[/]")
    console.print(table)


def note(m: Measurement) -> str:
    if not m.ok:
        return f"[bold red]{escape(m.problem)}[/]"
    return "[bold yellow]NOT VALIDATING[/]" if m.validates is False else ""


def print_stub(ms: list[Measurement]) -> None:
    rows = [m for m in ms if m.section == "stub"]
    if not rows:
        return
    table = Table(title=f"stubs (specs/users.yaml, {rows[0].connections} connections; medians of {rounds_of(rows)} rounds; "
                        "CPU µs per request: the server's processes, wrk)", title_justify="left")
    figures = ("req/s", "min-max", "p50 ms", "p99 ms", "server µs/req", "wrk µs/req")
    for column in ("scenario", "server", *figures, "checked"):
        table.add_column(column, justify="right" if column in figures else "left", no_wrap=True)
    table.add_column("note", overflow="fold")
    order = [route.scenario for route in STUB_ROUTES]
    for m in sorted(rows, key=lambda m: order.index(m.scenario)):
        table.add_row(m.scenario, m.server, fmt(m.rps, 0), rps_range(m), fmt(m.p50_ms), fmt(m.p99_ms),
                      fmt(m.server_cpu_us, 0), fmt(m.wrk_cpu_us, 0), escape(m.checked), note(m),
                      style=None if m.ok else "red")
    console.print(table)


def print_live(ms: list[Measurement], connections: int) -> None:
    servers = list(dict.fromkeys(m.server for m in ms if m.section == "live"))
    if not servers:
        return
    direct_one, bare = find(ms, DIRECT, "live", 1), find(ms, BARE_HOP, "live", connections)
    live = [m for m in ms if m.section == "live"]
    table = Table(title=f"live hop: GET /users/1 (1 worker each; medians of {rounds_of(live)} rounds)", title_justify="left")
    for column in ("server", "p50 ms @1", "added ms @1", f"req/s @{connections}", "min-max", "of bare hop",
                   f"p50 ms @{connections}", f"p99 ms @{connections}", f"server µs/req @{connections}", "note"):
        table.add_column(column, justify="left" if column in ("server", "note") else "right")
    for server in servers:
        one, many = find(ms, server, "live", 1), find(ms, server, "live", connections)
        added = one.p50_ms - direct_one.p50_ms if one and direct_one and one.p50_ms is not None \
            and direct_one.p50_ms is not None and server != DIRECT else None
        share = f"{many.rps / bare.rps:.0%}" if many and bare and many.rps and bare.rps and server != DIRECT else ""
        broken = [m for m in live if m.server == server and not m.ok]
        table.add_row(server, fmt(one and one.p50_ms), "" if added is None else f"{added:+.2f}",
                      fmt(many and many.rps, 0), rps_range(many) if many else "", share, fmt(many and many.p50_ms),
                      fmt(many and many.p99_ms), fmt(many and many.server_cpu_us, 0),
                      note(broken[0]) if broken else "")
    console.print(table)


def print_startup(run: Run) -> None:
    if run.startup_note:
        console.print(run.startup_note)
    if not run.startup:
        return
    table = Table(title="start-up (bench/scale.py --json)", title_justify="left")
    for column in ("spec", "server", "workers", "ready s", "RSS MB/worker", "ok"):
        table.add_column(column)
    for row in run.startup:
        table.add_row(escape(str(row.get("spec"))), escape(str(row.get("server"))), str(row.get("workers")),
                      fmt(row.get("ready_s")), fmt(row.get("rss_mb_per_worker"), 0),
                      "yes" if row.get("ok") else "[bold red]NO[/]")
    console.print(table)


def load_line(run: Run, loads: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    during = f", after each round {min(run.loads):.1f}-{max(run.loads):.1f}" if run.loads else ""
    return (f"load average (1 min) {loads[0][0]:.1f} before, {loads[1][0]:.1f} after{during}, "
            f"on {os.cpu_count()} cores")


def report(run: Run, found: list[Verdict], connections: int,
           loads: tuple[tuple[float, ...], tuple[float, ...]]) -> None:
    console.rule("gw benchmark")
    print_verdicts(found, rounds_of(run.measurements))
    console.print(load_line(run, loads), highlight=False)
    print_stub(run.measurements)
    print_live(run.measurements, connections)
    print_startup(run)
    for message in run.warnings:
        console.print(f"[bold yellow]warning: {escape(message)}[/]", highlight=False)
    for message in run.failures:
        console.print(f"[bold red]FAIL {escape(message)}[/]", highlight=False)


def write_json(run: Run, found: list[Verdict], meta: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {
        "meta": meta,
        "targets": [{**asdict(v), "verdict": v.label} for v in found],
        "measurements": [{**asdict(m), "ok": m.ok} for m in run.measurements],
        "startup": run.startup,
        "startup_note": run.startup_note,
        "warnings": run.warnings,
        "failures": run.failures,
    }
    path = RESULTS / f"{meta['when'].replace(':', '').replace('+0000', 'Z')}.json"
    text, tables = json.dumps(data, indent=2) + "\n", markdown(data)
    for target in (path, RESULTS / "latest.json"):
        target.write_text(text, encoding="utf-8")
        target.with_suffix(".md").write_text(tables, encoding="utf-8")
    return path


def metadata_for(args: argparse.Namespace, wrk: Wrk, loads: tuple[tuple[float, ...], tuple[float, ...]],
                 run: Run) -> dict[str, Any]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    prism = peers.CACHE / "prism" / "node_modules" / ".bin" / "prism"
    jars = sorted((peers.CACHE / "wiremock").rglob("wiremock-standalone-*.jar"))
    nginx = peers.nginx_bin()
    return {
        "when": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "duration_s": args.duration, "rounds": args.rounds, "round_s": wrk.duration,
        "server_warmup_s": args.server_warmup, "connections": args.connections,
        "sections": sorted(args.only), "cpus": os.cpu_count(), "machine": platform.platform(),
        "loadavg_before": loads[0], "loadavg_after": loads[1], "loadavg_rounds": run.loads,
        "took_s_by_section": run.took, "settling_cpu_us": run.settling,
        "python": platform.python_version(), "gw": metadata.version("gw"), "commit": commit.stdout.strip() or None,
        "wrk": peers.tool_version([wrk.path, "-v"]),
        "prism": peers.tool_version([str(prism), "--version"]) if prism.exists() else None,
        "wiremock": jars[-1].name if jars else None,
        "nginx": peers.tool_version([nginx, "-v"]) if nginx else None,
    }


# ---------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10,
                        help="seconds of load per measurement in all, split over the rounds (default 10; each round "
                             "at least 1 s, 1-connection rows half of it)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds over every server of a section; figures are their medians (default 5)")
    parser.add_argument("--server-warmup", type=int, default=3,
                        help="unrecorded seconds of load once each server is ready (default 3; WireMock and Prism "
                             "get their own JIT warm-up, bench/peers.py)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="run only this section (repeatable): stub, live, startup")
    parser.add_argument("--startup-timeout", type=float, default=240,
                        help="seconds bench/scale.py --json may take (default 240; a server a quarter of it)")
    args = parser.parse_args(argv)
    args.only = set(args.only or SECTIONS)
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    return args


def round_seconds(duration: int, rounds: int) -> int:
    """Seconds of load per cell and round: --duration spread over the rounds, at least 1 (wrk counts whole seconds)."""
    return max(1, round(duration / rounds))


def on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def exit_code(run: Run, found: list[Verdict]) -> int:
    """1: a measurement is broken (figures not to be trusted); 3: sound, but a target was missed; 0: all met."""
    if run.failures:
        return 1
    return 3 if any(v.passed is False for v in found) else 0


def measure_all(args: argparse.Namespace, run: Run, wrk: Wrk, logs: Path) -> None:
    post_script = logs / "post.lua"
    post_script.write_text(f"wrk.method = \"POST\"\nwrk.body = '{json.dumps(REGISTER_BODY)}'\n"
                           'wrk.headers["Content-Type"] = "application/json"\n', encoding="utf-8")
    upstream = peers.upstream(logs)
    if args.only & {"stub", "live"}:
        console.print(f"[cyan]{upstream.name}:[/] {' '.join(upstream.cmd)}", highlight=False)
        try:
            with running(upstream) as up:
                if "stub" in args.only:
                    with timed(run, "stub"):
                        run_stub(run, wrk, logs, post_script, up.base, args.rounds)
                if "live" in args.only:
                    with timed(run, "live"):
                        run_live(run, wrk, logs, post_script, up, args.rounds)
        except NotReady as exc:
            run.fail(str(exc))
    if "startup" in args.only:
        with timed(run, "startup"):
            run_startup(run, args.startup_timeout)


@contextlib.contextmanager
def timed(run: Run, section: str) -> Iterator[None]:
    """Seconds each section took (installs, start-ups and warm-ups included): where a run's length goes."""
    started = time.monotonic()
    try:
        yield
    finally:
        run.took[section] = round(time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    run, load_before, started = Run(), os.getloadavg(), time.monotonic()
    cores = os.cpu_count() or 1
    if load_before[0] > cores / 2:
        run.warn(f"the box is not quiet (load average {load_before[0]:.1f} on {cores} cores before the run): "
                 "figures are noisy, even the ratios")
    wrk = Wrk(ensure_wrk(), round_seconds(args.duration, args.rounds), 0, args.server_warmup, args.connections)
    logs = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    try:
        measure_all(args, run, wrk, logs)
    except KeyboardInterrupt:
        run.fail("interrupted: servers stopped, partial results only")
    except Missing as exc:
        run.fail(str(exc))
    loads = (load_before, os.getloadavg())
    found = verdicts(run.measurements, run.startup, args.connections)
    meta = {**metadata_for(args, wrk, loads, run), "took_s": round(time.monotonic() - started)}
    path = write_json(run, found, meta)  # first: the figures are kept even if printing them fails
    report(run, found, args.connections, loads)
    console.print(f"results: {path.relative_to(REPO)}, the README's tables in {path.with_suffix('.md').relative_to(REPO)} "
                  f"(the run took {meta['took_s'] // 60} min {meta['took_s'] % 60} s: "
                  f"{', '.join(f'{name} {seconds} s' for name, seconds in run.took.items())})")
    if run.failures:
        console.print(f"server logs kept in {logs}")
    else:
        shutil.rmtree(logs, ignore_errors=True)
    code = exit_code(run, found)
    if code:
        console.print(f"[bold red]exit {code}: "
                      f"{'broken measurements (see FAIL lines)' if code == 1 else 'a target was missed'}[/]")
    return code


if __name__ == "__main__":
    sys.exit(main())
