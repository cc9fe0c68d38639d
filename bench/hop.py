"""What gw's live hop costs beyond the platform's: gw in live mode against a bare Starlette + aiohttp hop.

Why this exists: `bench/run.py` measures the hop through wrk on a shared box, where the neighbours' load
moves every figure. This drives each hop in process with raw ASGI calls (as `bench/micro.py` does for stub
routes) against the same tiny aiohttp upstream, which runs in a process of its own so only the hop's work
is counted: CPU µs per request (this process's CPU time) and, with `--calls`, Python function calls per
request (load-proof). The variants are measured interleaved, each round in a fresh process.

    python bench/hop.py                           # CPU µs per request: gw (contract on / off) and the bare hop
    python bench/hop.py --calls                   # function calls per request per variant
    python bench/hop.py --instructions --requests 300 --repo /tmp/gw-base --repo .  # CPU instructions per request
    python bench/hop.py --profile gw              # cProfile of one variant, top functions
    python bench/hop.py --repo /tmp/gw-base --repo .  # two checkouts of gw, interleaved
    python bench/hop.py --wrk --duration 3        # real servers (uvicorn) under wrk: p50 at 1 connection, req/s at 32
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/hop.py`: make the bench package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.asgi_driver import AsgiDriver, load_checkout, rooted

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VARIANTS = ("gw", "gw-nocheck", "bare")
HEADERS = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"hop"), (b"accept", b"*/*")]

# The upstream: the spec's own example for /users/1 (valid against specs/users.yaml), as bench/run.py serves it.
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

# The bare hop: what Starlette and aiohttp cost with nothing of gw's (STACK-NOTES.md measured ~3,100 req/s).
BARE_APP = '''
import contextlib
import os

import aiohttp
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

UPSTREAM = os.environ["HOP_UPSTREAM"]
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
session = None


@contextlib.asynccontextmanager
async def lifespan(_app):
    global session
    session = aiohttp.ClientSession(auto_decompress=False)
    yield
    await session.close()


async def proxy(request):
    headers = [(k, v) for k, v in request.headers.items() if k not in HOP]
    async with session.request(request.method, UPSTREAM + request.url.path, headers=headers,
                               data=await request.body() or None, allow_redirects=False) as answer:
        body = await answer.read()
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP}
        return Response(body, answer.status, kept)


app = Starlette(routes=[Route("/{path:path}", proxy, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])],
                lifespan=lifespan)
'''




def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                answer.read()
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"error: {url} did not answer within {seconds:g}s")


class Spawned:
    """A server process in its own process group, stopped (the whole group) on exit."""

    def __init__(self, cmd: list[str], ready_url: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        self.ready_url = ready_url

    def __enter__(self) -> Spawned:
        try:
            wait_for(self.ready_url)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()

    def stop(self) -> None:
        from gw.contract.conformance.process import stop_process_group  # here: a child loads its checkout as `gw` first

        stop_process_group(self.process)


def upstream(folder: Path) -> tuple[Spawned, str]:
    app = folder / "upstream_app.py"
    app.write_text(UPSTREAM_APP, encoding="utf-8")
    from gw.core.port_check import free_port  # here, not at the top: a child loads its checkout as `gw` first

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return Spawned([sys.executable, str(app), str(port)], url + "/users/1"), url


# ---------------------------------------------------------------------------------------------
# The child: one variant, one process, raw ASGI calls


def gw_app(repo: Path, upstream_url: str, check: bool, reload: bool = True) -> Any:
    from gw.app import build_app

    if (repo / "gateway" / "settings").is_dir():
        from gw.settings.config import build_config
    else:  # a checkout from before gw.settings (frozen settings)
        from gw.config import build_config  # type: ignore[no-redef]  # move_modules: keep

    data = {"services": {"users": {"spec": str(repo / "specs" / "users.yaml"), "base_path": "/", "mode": "live",
                                   "upstream": [upstream_url]}},
            "contract": {"check": check}, "reload": reload}
    return build_app(rooted(build_config(data, "hop"), repo))


def bare_app(upstream_url: str) -> Any:
    namespace: dict[str, Any] = {}
    os.environ["HOP_UPSTREAM"] = upstream_url
    exec(compile(BARE_APP, "bare_hop", "exec"), namespace)
    return namespace["app"]


async def measure(variant: str, repo: Path, upstream_url: str, requests: int, warmup: int,
                  profile: Path | None, count_instructions: bool = False) -> dict[str, float]:
    # counting instructions, the reloader's once-a-second scan of stubs/ stays off: under valgrind a second is a
    # few requests, so its scans would be counted as the requests' work
    app = bare_app(upstream_url) if variant == "bare" else gw_app(repo, upstream_url, check=variant == "gw",
                                                                  reload=not count_instructions)
    driver = AsgiDriver(app)
    await driver.start()
    status, headers, body = await driver.request("GET", "/users/1", headers=HEADERS)
    if status != 200 or json.loads(body) != UPSTREAM_USER:
        raise SystemExit(f"error: {variant}: /users/1 answered {status}: {body[:200]!r}")
    if variant != "bare" and headers.get(b"x-gw-source") != b"live":
        raise SystemExit(f"error: {variant}: x-gw-source={headers.get(b'x-gw-source')!r}, expected live")
    if variant == "gw" and b"x-gw-contract" in headers:
        raise SystemExit(f"error: {variant}: the upstream's answer was judged a violation: {headers}")
    for _ in range(warmup):
        await driver.request("GET", "/users/1", headers=HEADERS)
    profiler = cProfile.Profile() if profile is not None else None
    if profiler is not None:
        profiler.enable()
    if count_instructions:
        instrument(True)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(requests):
        await driver.request("GET", "/users/1", headers=HEADERS)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if count_instructions:
        instrument(False)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    await driver.stop()
    return {"cpu_us": cpu / requests * 1e6, "wall_us": wall / requests * 1e6}


def child(args: argparse.Namespace) -> None:
    import logging

    logging.disable(logging.WARNING)
    repo = Path(args.repo[0]).resolve()
    if args.variant[0] != "bare":
        load_checkout(repo)
    profile = Path(args.profile_out) if args.profile_out else None
    print(json.dumps(asyncio.run(measure(args.variant[0], repo, args.upstream, args.requests, args.warmup, profile,
                                         args.instructions))))


def instrument(on: bool) -> None:
    """Switch valgrind's instrumentation of this process on or off: only the timed requests are counted."""
    subprocess.run(["callgrind_control", "--instr=" + ("on" if on else "off"), str(os.getpid())], check=True,
                   capture_output=True)


# ---------------------------------------------------------------------------------------------
# The parent


def run_child(repo: Path, variant: str, upstream_url: str, args: argparse.Namespace, profile_out: str = "",
              prefix: tuple[str, ...] = ()) -> dict[str, float]:
    cmd = [*prefix, sys.executable, str(Path(__file__).resolve()), "--child", "--repo", str(repo), "--variant", variant,
           "--upstream", upstream_url, "--requests", str(args.requests), "--warmup", str(args.warmup)]
    if profile_out:
        cmd.append(f"--profile-out={profile_out}")
    if prefix:
        cmd.append("--instructions")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    env["PYTHONPATH"] = str(repo)
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: {repo} {variant}: the measuring process failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if collected:
        figures["instructions"] = int(collected.group(1)) / args.requests
    return figures


def columns(args: argparse.Namespace) -> list[tuple[str, Path, str]]:
    """(label, checkout, variant) for every measured column; the bare hop once."""
    repos = [Path(r).resolve() for r in (args.repo or [str(REPO)])]
    found: list[tuple[str, Path, str]] = []
    for variant in args.variant:
        for repo in ([repos[0]] if variant == "bare" else repos):
            name = variant if variant == "bare" or len(repos) == 1 else f"{variant}@{repo.name}"
            while any(name == taken for taken, _, _ in found):
                name += "'"
            found.append((name, repo, variant))
    return found


def compare(args: argparse.Namespace, upstream_url: str) -> None:
    cols = columns(args)
    samples: dict[str, dict[str, list[float]]] = {name: {"cpu_us": [], "wall_us": []} for name, _, _ in cols}
    for round_no in range(args.rounds):
        order = cols if round_no % 2 == 0 else list(reversed(cols))
        for name, repo, variant in order:
            for key, value in run_child(repo, variant, upstream_url, args).items():
                samples[name][key].append(value)
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    if args.json:
        print(json.dumps(samples, indent=2))
        return
    bare = statistics.median(samples["bare"]["cpu_us"]) if "bare" in samples else None
    print(f"µs per live GET /users/1, median of {args.rounds} rounds x {args.requests} requests (raw ASGI calls)")
    print(f"{'variant':<22}{'CPU µs':>10}{'wall µs':>10}{'CPU / bare':>12}")
    for name, _, _ in cols:
        cpu, wall = (statistics.median(samples[name][k]) for k in ("cpu_us", "wall_us"))
        ratio = f"{cpu / bare:>12.2f}" if bare else ""
        print(f"{name:<22}{cpu:>10.1f}{wall:>10.1f}{ratio}")


def calls(args: argparse.Namespace, upstream_url: str) -> None:
    print(f"Python function calls per live request (cProfile, {args.requests} requests after {args.warmup} untimed)")
    for name, repo, variant in columns(args):
        out = Path(tempfile.gettempdir()) / f"hop-calls-{os.getpid()}-{variant}.prof"
        run_child(repo, variant, upstream_url, args, str(out))
        total = pstats.Stats(str(out)).total_calls / args.requests  # type: ignore[attr-defined]
        out.unlink()
        print(f"{name:<22}{total:>10.1f}")


def instructions(args: argparse.Namespace, upstream_url: str) -> None:
    """CPU instructions per request (valgrind's callgrind, user space): as load-proof as call counts, and it
    weighs each call by its work (a Rust validation, a parse). Slow: a few minutes per variant for 300 requests."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("error: --instructions needs valgrind (callgrind) on the PATH")
    print(f"instructions per live request (callgrind, {args.requests} requests after {args.warmup} uncounted)")
    for name, repo, variant in columns(args):
        out = Path(tempfile.gettempdir()) / f"hop-callgrind-{os.getpid()}-{variant}.out"
        figures = run_child(repo, variant, upstream_url, args, prefix=(
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"))
        out.unlink(missing_ok=True)
        print(f"{name:<22}{figures['instructions'] / 1000:>10.1f} k")


def profile(args: argparse.Namespace, upstream_url: str) -> None:
    repo = Path(args.repo[0] if args.repo else REPO).resolve()
    out = Path(args.profile_out or f"/tmp/hop-{args.profile}.prof")
    run_child(repo, args.profile, upstream_url, args, str(out))
    stats = pstats.Stats(str(out), stream=(text := io.StringIO()))
    stats.strip_dirs()
    for order in ("tottime", "cumulative"):
        stats.sort_stats(order).print_stats(args.top)
    print(f"profile of {args.profile} ({args.requests} requests; divide call counts by it): {out}")
    print(text.getvalue())


# ---------------------------------------------------------------------------------------------
# Real servers under wrk


def wrk(url: str, connections: int, duration: int) -> tuple[float, float]:
    """(req/s, p50 ms) of one wrk run."""
    done = subprocess.run(["wrk", "--latency", "-t", "1" if connections == 1 else "2", "-c", str(connections),
                           "-d", f"{duration}s", url], capture_output=True, text=True, check=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"50%\s+([\d.]+)(us|ms|s)", done.stdout).groups()  # type: ignore[union-attr]
    return rps, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def real(args: argparse.Namespace, folder: Path, upstream_url: str) -> None:
    repo = Path(args.repo[0] if args.repo else REPO).resolve()
    bare_file = folder / "bare_hop.py"
    bare_file.write_text(BARE_APP, encoding="utf-8")
    servers: dict[str, tuple[list[str], dict[str, str]]] = {}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    for variant in args.variant:
        from gw.core.port_check import free_port  # here, not at the top: a child loads its checkout as `gw` first

        port = free_port()
        if variant == "bare":
            cmd = [sys.executable, "-m", "uvicorn", "--app-dir", str(folder), "bare_hop:app", "--port", str(port),
                   "--no-access-log", "--log-level", "warning"]
            env = {**base_env, "HOP_UPSTREAM": upstream_url}
        else:
            cmd = [str(Path(sys.executable).parent / "gw"), "serve", "specs/users.yaml", "--mode", "live", "--upstream",
                   upstream_url, "--port", str(port)]
            env = {**base_env, "GW_CONTRACT__CHECK": "true" if variant == "gw" else "false"}
        servers[variant] = (cmd, env, port)  # type: ignore[assignment]
    table: dict[str, dict[str, list[float]]] = {v: {"p50_1": [], "rps_32": []} for v in servers}
    direct = {"p50_1": [], "rps_32": []}
    for round_no in range(args.rounds):
        rps, _ = wrk(upstream_url + "/users/1", 32, args.duration)
        _, p50 = wrk(upstream_url + "/users/1", 1, args.duration)
        direct["p50_1"].append(p50)
        direct["rps_32"].append(rps)
        order = list(servers) if round_no % 2 == 0 else list(reversed(servers))
        for variant in order:
            cmd, env, port = servers[variant]  # type: ignore[misc]
            url = f"http://127.0.0.1:{port}/users/1"
            with Spawned(cmd, url, env=env, cwd=repo):
                wrk(url, 8, 1)  # warm-up
                rps, _ = wrk(url, 32, args.duration)
                _, p50 = wrk(url, 1, args.duration)
            table[variant]["p50_1"].append(p50)
            table[variant]["rps_32"].append(rps)
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    med = statistics.median
    d50, drps = med(direct["p50_1"]), med(direct["rps_32"])
    bare_rps = med(table["bare"]["rps_32"]) if "bare" in table else None
    print(f"wrk, {args.duration}s per run, median of {args.rounds} rounds; direct upstream p50 {d50:.3f} ms, {drps:,.0f} req/s")
    print(f"{'variant':<14}{'p50 1c ms':>12}{'added ms':>10}{'req/s 32c':>12}{'of bare':>9}")
    for variant, figures in table.items():
        p50, rps = med(figures["p50_1"]), med(figures["rps_32"])
        share = f"{rps / bare_rps:>9.0%}" if bare_rps else ""
        print(f"{variant:<14}{p50:>12.3f}{p50 - d50:>10.3f}{rps:>12,.0f}{share}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", action="append", help="a checkout of gw to measure (repeatable; default: this one)")
    parser.add_argument("--variant", action="append", choices=VARIANTS, help="only these hops (repeatable)")
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per variant (medians over them)")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per round")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests first")
    parser.add_argument("--calls", action="store_true", help="count function calls per request instead of timing")
    parser.add_argument("--instructions", action="store_true",
                        help="count CPU instructions per request under valgrind (use --requests 300)")
    parser.add_argument("--profile", choices=VARIANTS, help="cProfile one variant instead of comparing")
    parser.add_argument("--top", type=int, default=35, help="functions listed per profile ordering")
    parser.add_argument("--wrk", action="store_true", help="real servers under wrk instead of in-process calls")
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--json", action="store_true", help="every sample as JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.variant = args.variant or list(VARIANTS)
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="gw-hop-") as tmp:
        spawned, url = upstream(Path(tmp))
        with spawned:
            if args.wrk:
                real(args, Path(tmp), url)
            elif args.profile:
                profile(args, url)
            elif args.instructions:
                instructions(args, url)
            elif args.calls:
                calls(args, url)
            else:
                compare(args, url)


if __name__ == "__main__":
    main()
