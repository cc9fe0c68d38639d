"""The ceiling under gw's stub throughput: what uvicorn itself serves on this box, with nothing of gw's.

Why this exists: issue #15 asks for stub GETs at 1.5x WireMock's req/s. Before shaving gw's per-request
work, know what the server underneath allows: a bare ASGI app answering a fixed 200 JSON body (the
example user gw's stub answers) on uvicorn with httptools and uvloop, 1 and 2 workers, under the same
wrk load as bench/run.py (-c32). Also measured: the same bare app on gw's own protocol
(gateway/server/connections.py: head/body deadlines, size caps, a connection cap, whole writes), so its share
shows, the bare app on granian where it is importable (not a dependency of gw: `pip install --target DIR granian`
and PYTHONPATH=DIR), and gw's stub answer itself (`gw serve specs/users.yaml --workers N`). Servers are measured
interleaved, round after round, and the table shows the median of the rounds.

req/s move with the neighbours' load; CPU time per request hardly does. So each measurement also reads the
CPU seconds the server's processes (all its workers) and wrk spent, per request served, and projects the
req/s a quiet box would give: N workers on C cores shared with wrk reach at most
min(N / server CPU per request, C / (server + wrk CPU per request)).

    python bench/ceiling.py                     # 3 rounds x 5 s per server, 1 and 2 workers
    python bench/ceiling.py --duration 2 --rounds 1 --workers 2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/ceiling.py`: make the bench package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import Measurement, Wrk, children_cpu, group_cpu
from bench.peers import Server, gw_stub, running
from bench.routes import example_user
from bench.run import ensure_wrk
from gw.core.port_check import free_port

# The bare app: a fixed answer, nothing read, nothing logged. `GW_CEILING_PROTOCOL=gw` runs it on gw's protocol.
BARE_APP = '''
import functools
import json
import os
import sys

import uvicorn

BODY = json.dumps({body}).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200, "headers": HEADERS}})
    await send({{"type": "http.response.body", "body": BODY}})


if __name__ == "__main__":
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    options = dict(host="127.0.0.1", port=port, workers=workers, loop="uvloop", http="httptools", access_log=False,
                   server_header=False, log_level="warning", lifespan="off")
    if os.environ.get("GW_CEILING_PROTOCOL") == "gw":
        from gw.settings.policy_settings import ServerSettings
        from gw.server.connections import uvicorn_limits

        options.update(uvicorn_limits(ServerSettings()))
    uvicorn.run("ceiling_app:app" if workers > 1 else app, **options)
'''


def bare(folder: Path, workers: int, protocol: str) -> Server:
    app = folder / "ceiling_app.py"
    app.write_text(BARE_APP.format(body=repr(example_user())), encoding="utf-8")
    port = free_port()
    name = f"bare ASGI, {'gw protocol' if protocol == 'gw' else 'uvicorn httptools'}, {workers}w"
    env = {"GW_CEILING_PROTOCOL": protocol, "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}
    return Server(name, [sys.executable, str(app), str(port), str(workers)], port, "/users/1",
                  folder / f"{name.replace(' ', '-').replace(',', '')}.log", env=env)


def granian(folder: Path, workers: int) -> Server:
    """The same bare app on granian (Rust: hyper and tokio), where it is importable: what another server would lift."""
    bare(folder, workers, "uvicorn")  # writes the app
    port = free_port()
    name = f"bare ASGI, granian, {workers}w"
    cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--loop", "uvloop", "--no-access-log", "--log-level", "warning", "ceiling_app:app"]
    env = {"PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}
    return Server(name, cmd, port, "/users/1", folder / f"granian-{workers}w.log", env=env)


def servers(folder: Path, workers: list[int], with_gw: bool) -> list[Server]:
    made = []
    for count in workers:
        made += [bare(folder, count, "uvicorn"), bare(folder, count, "gw")]
        if importlib.util.find_spec("granian") is not None:
            made.append(granian(folder, count))
        if with_gw:
            made.append(gw_stub(count, folder))
    return made


@dataclass
class Figures:
    rps: float
    server_us: float  # CPU per request, all the server's processes
    wrk_us: float  # CPU per request of the load generator


def measure(server: Server, wrk: Wrk) -> Figures:
    with running(server) as up:
        assert up.proc is not None
        url = up.base + "/users/1"
        wrk.warm(url, wrk.warmup)
        measurement = Measurement("stub", "GET /users/1", up.name, wrk.connections, url=url)
        server_cpu, wrk_cpu = group_cpu(up.proc.pid), children_cpu()
        replace(wrk, warmup=0).run(measurement)
        server_cpu, wrk_cpu = group_cpu(up.proc.pid) - server_cpu, children_cpu() - wrk_cpu
    if not measurement.ok or not measurement.requests:
        raise SystemExit(f"error: {server.name}: {measurement.problem}")
    assert measurement.rps is not None
    return Figures(measurement.rps, server_cpu / measurement.requests * 1e6, wrk_cpu / measurement.requests * 1e6)


def quiet_ceiling(figures: Figures, workers: int, cores: int) -> float:
    """req/s on a quiet box with `cores` shared by the server's workers and wrk, from CPU per request."""
    return min(workers / figures.server_us, cores / (figures.server_us + figures.wrk_us)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="unrecorded seconds of load first")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every server (medians)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, action="append", help="worker counts (repeatable; default 1 and 2)")
    parser.add_argument("--no-gw", action="store_true", help="leave out gw's own stub answer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    wrk = Wrk(ensure_wrk(), args.duration, args.warmup, 0, args.connections)
    with tempfile.TemporaryDirectory(prefix="gw-ceiling-") as tmp:
        folder = Path(tmp)
        order = servers(folder, args.workers or [1, 2], not args.no_gw)
        samples: dict[str, list[Figures]] = {server.name: [] for server in order}
        workers = {server.name: int(server.name.rsplit(" ", 1)[1].rstrip("w")) for server in order}
        load = [os.getloadavg()[0]]
        for round_no in range(args.rounds):
            for server in order if round_no % 2 == 0 else reversed(order):
                samples[server.name].append(measure(server, wrk))
            load.append(os.getloadavg()[0])
            print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    cores = os.cpu_count() or 1
    table = {name: {"rps": statistics.median(f.rps for f in got), "server_cpu_us": statistics.median(f.server_us for f in got),
                    "wrk_cpu_us": statistics.median(f.wrk_us for f in got)} for name, got in samples.items()}
    for name, row in table.items():
        row["quiet_rps"] = quiet_ceiling(Figures(row["rps"], row["server_cpu_us"], row["wrk_cpu_us"]), workers[name], cores)
    if args.json:
        print(json.dumps({"servers": table, "load_average": load, "cores": cores}, indent=2))
        return
    print(f"GET /users/1 at {args.connections} connections (wrk, median of {args.rounds} rounds x {args.duration} s); "
          f"load average {min(load):.1f}-{max(load):.1f} on {cores} cores")
    print(f"{'server':<40}{'req/s':>9}{'server CPU µs/req':>19}{'wrk CPU µs/req':>16}{'quiet req/s':>13}")
    for name, row in table.items():
        print(f"{name:<40}{row['rps']:>9,.0f}{row['server_cpu_us']:>19.1f}{row['wrk_cpu_us']:>16.1f}{row['quiet_rps']:>13,.0f}")


if __name__ == "__main__":
    main()
