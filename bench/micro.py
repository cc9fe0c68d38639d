"""In-process cost of one stub request, per route, for any checkout: before/after in one command.

Why this exists: `bench/run.py` measures req/s through uvicorn and wrk, which on a shared box moves
with the neighbours' load. This drives the assembled gateway (`gw.app.build_app` on the bundled
samples) with raw ASGI calls in one process, so what is left is gw's own work per request. Several
checkouts are measured interleaved (A B A B ...), each round in a fresh process, and the table shows
medians: on a loaded box compare the ratios, not the absolute figures.

    python bench/micro.py                                  # this checkout, 5 rounds
    python bench/micro.py --repo /tmp/gw-base --repo .     # base against this one, interleaved
    python bench/micro.py --profile generated              # cProfile of one route, top functions
    python bench/micro.py --calls --repo /tmp/gw-base --repo .   # function calls per request (load-proof)
    python bench/micro.py --client httpx                   # through httpx.ASGITransport instead

Each checkout runs with the current interpreter and `PYTHONPATH=<repo>`, from the repo's root (so a
tarball of an older commit works: `git archive 1e379dc | tar -x -C /tmp/gw-base`). The checkout's
`gateway/` folder is loaded as the package `gw` (what an install names it), for older checkouts too:
the `gw` installed in this venv is this checkout's, never the one measured.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/micro.py`: make the bench package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.asgi_driver import Answer, AsgiDriver, load_checkout, rooted

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
REGISTER_BODY = json.dumps({"username": "alice_1", "email": "alice@example.com", "password": "s3cretpass"}).encode()


@dataclass(frozen=True)
class Route:
    """One request repeated; `status` and `source` (x-gw-source) are what it must answer, or the run fails."""

    name: str
    spec: str
    method: str
    path: str
    query: str = ""
    body: bytes = b""
    status: int = 200
    source: str | None = None

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"micro"), (b"accept", b"*/*")]
        if self.body:
            headers += [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())]
        return headers


ROUTES = (
    Route("example", "users", "GET", "/users/1", source="example"),
    Route("generated", "users", "GET", "/users", "limit=5", source="generated"),
    Route("register", "users", "POST", "/register", body=REGISTER_BODY, status=201, source="example"),
    Route("not-found", "users", "GET", "/nowhere/at/all", status=404),
    Route("invalid", "users", "GET", "/users/abc", status=400),
    Route("query", "orders", "GET", "/orders",
          "page=2&per_page=10&status=paid&created_after=2024-01-01T00%3A00%3A00Z"),
)


# ---------------------------------------------------------------------------------------------
# The child: one checkout, one process


class Gateway(AsgiDriver):
    """The assembled gateway for one bundled spec, started through its lifespan like uvicorn does."""

    def __init__(self, repo: Path, spec: str) -> None:
        from gw.app import build_app

        if (repo / "gateway" / "settings").is_dir():
            from gw.settings.config import config_for_specs
        else:  # a checkout from before gw.settings (frozen settings)
            from gw.config import config_for_specs  # type: ignore[no-redef]  # move_modules: keep

        config = rooted(config_for_specs([repo / "specs" / f"{spec}.yaml"], env={}), repo)
        super().__init__(build_app(config))

    async def call(self, route: Route) -> Answer:
        return await self.request(route.method, route.path, route.query, route.headers, route.body)


class HttpxCaller:
    """The same requests through httpx.ASGITransport (what the issue's first figures used)."""

    def __init__(self, gateway: Gateway) -> None:
        import httpx

        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway.app), base_url="http://127.0.0.1:8000")

    async def call(self, route: Route) -> tuple[int, dict[bytes, bytes], bytes]:
        url = route.path + (f"?{route.query}" if route.query else "")
        headers = {"content-type": "application/json"} if route.body else {}
        response = await self.client.request(route.method, url, content=route.body or None, headers=headers)
        return response.status_code, {k.encode(): v.encode() for k, v in response.headers.items()}, response.content


def check(route: Route, answer: tuple[int, dict[bytes, bytes], bytes]) -> str | None:
    status, headers, body = answer
    source = headers.get(b"x-gw-source", b"").decode() or None
    if status != route.status:
        return f"{route.name}: {route.method} {route.path} answered {status}, expected {route.status}: {body[:200]!r}"
    if route.source is not None and source != route.source:
        return f"{route.name}: x-gw-source={source}, expected {route.source}"
    return None


async def measure(repo: Path, names: list[str], requests: int, warmup: int, client: str,
                  profile: Path | None, cpu: bool = True) -> dict[str, float]:
    """µs per request for each named route (CPU time of this process, or wall time); the first answer of
    each is checked."""
    gateways: dict[str, Gateway] = {}
    callers: dict[str, Any] = {}
    figures: dict[str, float] = {}
    for route in (r for r in ROUTES if r.name in names):
        if route.spec not in gateways:
            gateways[route.spec] = Gateway(repo, route.spec)
            await gateways[route.spec].start()
            callers[route.spec] = gateways[route.spec] if client == "raw" else HttpxCaller(gateways[route.spec])
        caller = callers[route.spec]
        problem = check(route, await caller.call(route))
        if problem:
            raise SystemExit(f"error: {repo}: {problem}")
        for _ in range(warmup):
            await caller.call(route)
        profiler = cProfile.Profile() if profile is not None else None
        if profiler is not None:
            profiler.enable()
        clock = time.process_time if cpu else time.perf_counter
        started = clock()
        for _ in range(requests):
            await caller.call(route)
        figures[route.name] = (clock() - started) / requests * 1e6
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
    for gateway in gateways.values():
        await gateway.stop()
    return figures


def child(args: argparse.Namespace) -> None:
    import logging

    logging.disable(logging.WARNING)  # a refusal per request would otherwise time the log handler
    repo = Path(args.repo[0]).resolve()
    load_checkout(repo)
    profile = Path(args.profile_out) if args.profile_out else None
    figures = asyncio.run(measure(repo, args.route, args.requests, args.warmup, args.client, profile, not args.wall))
    print(json.dumps(figures))


# ---------------------------------------------------------------------------------------------
# The parent: rounds over checkouts, medians


def run_child(repo: Path, routes: list[str], args: argparse.Namespace, profile_out: str = "") -> dict[str, float]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--repo", str(repo), "--requests", str(args.requests),
           "--warmup", str(args.warmup), "--client", args.client, *(["--wall"] if args.wall else []),
           *[f"--route={name}" for name in routes]]
    if profile_out:
        cmd.append(f"--profile-out={profile_out}")
    env = {**os.environ, "PYTHONPATH": str(repo)}
    env = {key: value for key, value in env.items() if not key.startswith("GW_")}
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: {repo}: the measuring process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def label(repo: Path, taken: list[str]) -> str:
    name = repo.name
    while name in taken:
        name += "'"
    return name


def compare(args: argparse.Namespace) -> None:
    repos = [Path(r).resolve() for r in (args.repo or [str(REPO)])]
    names = []
    for repo in repos:
        names.append(label(repo, names))
    samples: dict[str, dict[str, list[float]]] = {name: {route: [] for route in args.route} for name in names}
    for round_no in range(args.rounds):
        order = list(zip(repos, names, strict=True))
        if round_no % 2:
            order.reverse()  # neither checkout always runs first
        for repo, name in order:
            for route, figure in run_child(repo, args.route, args).items():
                samples[name][route].append(figure)
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    medians = {name: {route: statistics.median(values) for route, values in per.items()} for name, per in samples.items()}
    lows = {name: {route: min(values) for route, values in per.items()} for name, per in samples.items()}
    if args.json:
        print(json.dumps({"medians_us": medians, "minimums_us": lows, "samples_us": samples}, indent=2))
        return
    header = f"{'route':<12}" + "".join(f"{name + ' med (min)':>24}" for name in names)
    if len(names) > 1:
        header += "".join(f"{name + '/' + names[0]:>24}" for name in names[1:])
    clock = "wall-clock" if args.wall else "CPU"
    print(f"{clock} µs per request, median of {args.rounds} rounds x {args.requests} requests ({args.client} ASGI calls)")
    print(header)
    for route in args.route:
        line = f"{route:<12}" + "".join(f"{medians[name][route]:>15.1f} ({lows[name][route]:>6.1f})" for name in names)
        for name in names[1:]:
            line += f"{medians[name][route] / medians[names[0]][route]:>24.2f}"
        print(line)


def calls(args: argparse.Namespace) -> None:
    """Python function calls per request, per route and checkout: cProfile's count does not move with the
    box's load, so it shows work added or removed where timings drown in noise."""
    repos = [Path(r).resolve() for r in (args.repo or [str(REPO)])]
    names: list[str] = []
    for repo in repos:
        names.append(label(repo, names))
    counts: dict[str, dict[str, float]] = {}
    for repo, name in zip(repos, names, strict=True):
        counts[name] = {}
        for route in args.route:
            out = Path(f"/tmp/micro-calls-{os.getpid()}-{route}.prof")
            run_child(repo, [route], args, str(out))
            stats = pstats.Stats(str(out))
            counts[name][route] = stats.total_calls / args.requests  # type: ignore[attr-defined]
            out.unlink()
    if args.json:
        print(json.dumps({"calls_per_request": counts}, indent=2))
        return
    print(f"Python function calls per request (cProfile, {args.requests} requests after {args.warmup} untimed)")
    print(f"{'route':<12}" + "".join(f"{name:>16}" for name in names))
    for route in args.route:
        print(f"{route:<12}" + "".join(f"{counts[name][route]:>16.1f}" for name in names))


def profile(args: argparse.Namespace) -> None:
    """cProfile of one route per checkout; with two checkouts, the functions whose own time moved most."""
    repos = [Path(r).resolve() for r in (args.repo or [str(REPO)])]
    outs = []
    for index, repo in enumerate(repos):
        out = Path(args.profile_out or f"/tmp/micro-{repo.name}-{args.profile}.prof")
        out = out.with_suffix(f".{index}.prof") if len(repos) > 1 else out
        run_child(repo, [args.profile], args, str(out))
        outs.append(out)
    if len(repos) == 1:
        stats = pstats.Stats(str(outs[0]), stream=(text := io.StringIO()))
        stats.strip_dirs()
        for order in ("tottime", "cumulative"):
            stats.sort_stats(order).print_stats(args.top)
        print(f"profile of {args.profile} on {repos[0]} ({args.requests} requests; divide call counts by it): {outs[0]}")
        print(text.getvalue())
        return
    before, after = (per_function(out, args.requests) for out in outs[:2])
    print(f"{args.profile}: {repos[0]} -> {repos[1]}, per request (µs under cProfile; calls)")
    print(f"{'own µs':>8} {'->':>8} {'cum µs':>8} {'->':>8} {'calls':>6} {'->':>6}  function")
    keys = sorted(set(before) | set(after), key=lambda k: -abs(after.get(k, ZERO)[0] - before.get(k, ZERO)[0]))
    for key in keys[:args.top]:
        b, a = before.get(key, ZERO), after.get(key, ZERO)
        print(f"{b[0]:>8.1f} {a[0]:>8.1f} {b[1]:>8.1f} {a[1]:>8.1f} {b[2]:>6.1f} {a[2]:>6.1f}  {key}")


ZERO = (0.0, 0.0, 0.0)


def per_function(path: Path, requests: int) -> dict[str, tuple[float, float, float]]:
    """module:function -> (own µs, cumulative µs, calls), per request."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    table: dict[str, tuple[float, float, float]] = {}
    for (filename, _line, function), (_primitive, calls, own, cumulative, _callers) in stats.items():
        key = f"{'/'.join(Path(filename).parts[-2:])}:{function}"
        old = table.get(key, ZERO)
        table[key] = (old[0] + own * 1e6 / requests, max(old[1], cumulative * 1e6 / requests), old[2] + calls / requests)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", action="append", help="a checkout to measure (repeatable; default: this one)")
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per checkout (medians over them)")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per route per round")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests per route first")
    parser.add_argument("--route", action="append", choices=[r.name for r in ROUTES], help="only these routes (repeatable)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw", help="raw ASGI calls, or httpx.ASGITransport")
    parser.add_argument("--profile", choices=[r.name for r in ROUTES], help="cProfile one route instead of comparing")
    parser.add_argument("--calls", action="store_true", help="count function calls per request instead of timing")
    parser.add_argument("--top", type=int, default=30, help="functions listed per profile ordering")
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of the process's CPU time "
                        "(CPU time is the default: on a shared box it leaves out the time spent waiting for a core)")
    parser.add_argument("--json", action="store_true", help="medians and every sample as JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.route = args.route or [r.name for r in ROUTES]
    if args.child:
        child(args)
    elif args.profile:
        profile(args)
    elif args.calls:
        calls(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
