"""What the gateway's policies cost on the hot path, measured against the same gateway without them.

Why this exists: auth, rate limits and the validation proxy run on every request, and the promise
is that they stay cheap (a stub GET with auth + rate limit within 25% of one without). Every
figure here is a ratio against a run of the same build, same box, same load, same minute:

    python bench/policies.py [--duration 8] [--connections 32]

Stub scenarios (GET /users/1 of specs/users.yaml, one worker):
  bare                   metrics off, request journal off: the pipeline with nothing to observe it
  plain                  no auth, no rate limit (metrics and journal on: the defaults)
  auth                   auth.require: always, an HS256 bearer token verified on every request
  rate-limit             a limit so high it never refuses, but counted (memory GCRA) on every request
  auth+rate-limit        both (the issue's target: >= 0.80x plain)
The `plain` row against `bare` is what metrics and the journal cost.
Live scenarios (GET /users/1 through `--mode live`, one worker, upstreams are small aiohttp apps):
  direct                 the upstream itself, no gateway
  1 instance             the gateway in front of one upstream (validation proxy on: the default)
  2 instances            round robin over two upstream processes
  2 instances, no check  the same with `contract: {check: false}`: the validation proxy's cost

Prints a table and writes bench/results/policies.json. Uses run.py's wrk and process helpers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jwt
import yaml
from rich.table import Table
from run import (
    REPO,
    UPSTREAM_APP,
    Load,
    Result,
    Run,
    Server,
    console,
    ensure_wrk,
    free_port,
    parse_wrk,
    running,
)

RESULTS = REPO / "bench" / "results" / "policies.json"
SECRET = "bench-secret-that-is-long-enough-for-hs256"
PATH = "/users/1"
OPEN_LIMIT = {"limit": 1_000_000_000, "window": 60, "key": "ip"}


def token() -> str:
    now = int(time.time())
    return jwt.encode({"sub": "bench", "roles": ["user"], "iat": now, "exp": now + 3600}, SECRET, algorithm="HS256")


def gw_server(name: str, config: dict, logs: Path) -> Server:
    path = logs / f"{name.replace(' ', '-').replace('+', '-')}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    gw = str(Path(sys.executable).parent / "gw")
    return Server(f"gw {name}", [gw, "serve", str(path), "--port", str(port)], port, "/_gw/health",
                  logs / f"{path.stem}.log")


def users(mode: str = "stub", upstream: list[str] | None = None, **service: object) -> dict:
    entry: dict[str, object] = {"spec": str(REPO / "specs" / "users.yaml"), "base_path": "/", "mode": mode, **service}
    if upstream:
        entry["upstream"] = upstream
    return {"users": entry}


def measure(load: Load, run: Run, server: Server, scenario: str, headers: dict[str, str]) -> Result:
    url = server.base + PATH
    result = Result("policies", scenario, server.name, load.connections, 2, load.duration, url)
    flags = [part for name, value in headers.items() for part in ("-H", f"{name}: {value}")]
    base = [load.wrk, "-t2", f"-c{load.connections}", "--latency", *flags]
    subprocess.run([*base, f"-d{load.warmup}s", url], capture_output=True)
    console.print(f"  wrk -c{load.connections} GET {url} ({scenario}) ...", highlight=False)
    done = subprocess.run([*base, f"-d{load.duration}s", url], capture_output=True, text=True)
    for key, value in parse_wrk(done.stdout).items():
        setattr(result, key, value)
    if result.rps is None or result.non_2xx:
        result.problem = f"{result.non_2xx} non-2xx answers" if result.rps else done.stderr.strip()[-200:]
        run.fail(f"{server.name}: {result.problem}")
    return result


def stub_scenarios(load: Load, run: Run, logs: Path) -> None:
    bearer = {"Authorization": f"Bearer {token()}"}
    auth = {"require": "always", "jwt": {"secret": SECRET}}
    variants = [
        ("bare", {"services": users(), "metrics": False, "admin": {"journal_size": 0}}, {}),
        ("plain", {"services": users()}, {}),
        ("auth", {"services": users(), "auth": auth}, bearer),
        ("rate-limit", {"services": users(), "rate_limit": OPEN_LIMIT}, {}),
        ("auth+rate-limit", {"services": users(), "auth": auth, "rate_limit": OPEN_LIMIT}, bearer),
    ]
    for name, config, headers in variants:
        with running(gw_server(name, config, logs), run) as server:
            if server is not None:
                run.results.append(measure(load, run, server, f"stub {name}", headers))


def live_scenarios(load: Load, run: Run, logs: Path) -> None:
    app = logs / "upstream_app.py"
    app.write_text(UPSTREAM_APP, encoding="utf-8")
    ports = [free_port(), free_port()]
    ups = [Server(f"upstream {i + 1}", [sys.executable, str(app), str(p)], p, PATH, logs / f"up{i}.log")
           for i, p in enumerate(ports)]
    urls = [u.base for u in ups]
    with running(ups[0], run) as first, running(ups[1], run) as second:
        if first is None or second is None:
            return
        run.results.append(measure(load, run, first, "live direct", {}))
        variants = [
            ("live 1 instance", {"services": users("live", urls[:1])}),
            ("live 2 instances", {"services": users("live", urls)}),
            ("live 2 instances, no check", {"services": users("live", urls), "contract": {"check": False}}),
        ]
        for name, config in variants:
            with running(gw_server(name, config, logs), run) as server:
                if server is not None:
                    run.results.append(measure(load, run, server, name, {}))


def ratio(run: Run, scenario: str, reference: str) -> str:
    found = {r.scenario: r for r in run.results if r.ok}
    mine, ref = found.get(scenario), found.get(reference)
    if mine is None or ref is None or not ref.rps or not mine.rps or mine is ref:
        return ""
    return f"{mine.rps / ref.rps:.2f}x {reference}"


REFERENCE = {"stub plain": "stub bare",
             "stub auth": "stub plain", "stub rate-limit": "stub plain", "stub auth+rate-limit": "stub plain",
             "live 1 instance": "live direct", "live 2 instances": "live direct",
             "live 2 instances, no check": "live direct"}


def report(run: Run) -> None:
    table = Table(title="gw policies benchmark (wrk --latency, 1 worker)", title_justify="left")
    for column in ("scenario", "req/s", "p50 ms", "p99 ms", "compare"):
        table.add_column(column, justify="left" if column in ("scenario", "compare") else "right")
    for r in run.results:
        extra = ratio(run, r.scenario, REFERENCE.get(r.scenario, ""))
        if r.scenario == "live 2 instances":
            extra += f"; {ratio(run, r.scenario, 'live 2 instances, no check')}"
        table.add_row(r.scenario, f"{r.rps or 0:,.0f}", f"{r.p50_ms or 0:.2f}", f"{r.p99_ms or 0:.2f}",
                      r.problem or extra)
    console.print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([r.__dict__ for r in run.results], indent=2) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--only", choices=("stub", "live"))
    args = parser.parse_args()
    run = Run()
    load = Load(ensure_wrk(), args.duration, args.connections, args.warmup, Path("/dev/null"))
    logs = Path(tempfile.mkdtemp(prefix="gw-bench-policies-"))
    if args.only in (None, "stub"):
        stub_scenarios(load, run, logs)
    if args.only in (None, "live"):
        live_scenarios(load, run, logs)
    report(run)
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
