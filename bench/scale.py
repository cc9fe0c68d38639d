"""Start-up at scale: how soon `gw serve` answers on each real spec, and how much memory each worker holds,
beside Prism on the same spec.

For every spec in ../shared/corpus and GitHub's REST spec (api.github.com.json from the npm package
@octokit/openapi, about 13 MB and 1,000+ operations, installed once into bench/.cache/octokit), it starts
`gw serve SPEC` with 1 and with 2 workers, and `prism mock SPEC` (Prism installed with npm into
bench/.cache/prism, as bench/run.py does), one at a time, and reports:

- ready_s: from the process start until it answers: gw's /_gw/health with 200, then a real operation of the
  spec (its first GET without path parameters, else one with `1` for each) with anything but a 5xx; Prism,
  having no health path, the same operation;
- rss_mb_per_worker: the peak resident memory (VmHWM) of the process serving, the largest of the workers
  when there are several (a forked worker counts the pages it shares with its parent too); pss_mb: the
  whole process tree's proportional share of memory once ready, shared pages split between the processes
  sharing them (the honest total for N forked workers).

    python bench/scale.py                 # a table
    python bench/scale.py --json          # a JSON list of rows: spec, server, workers, ready_s, rss_mb_per_worker, ok, ...
    python bench/scale.py --only kubernetes --only github --no-prism

The box may be shared: every row says when it was measured and the load average then.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gw.contract.conformance.process import stop_process_group
from gw.core.port_check import free_port

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
CACHE = ROOT / "bench" / ".cache"
OCTOKIT = CACHE / "octokit"
GITHUB_SPEC = OCTOKIT / "node_modules" / "@octokit" / "openapi" / "generated" / "api.github.com.json"
SPEC_SUFFIXES = (".json", ".yaml", ".yml")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy

if __package__ in (None, ""):  # run as `python bench/scale.py`: the bench package importable for Prism's installer
    sys.path.insert(0, str(ROOT))


@dataclass
class Row:
    spec: str
    server: str
    workers: int
    ready_s: float | None
    rss_mb_per_worker: float | None
    ok: bool
    pss_mb: float | None = None
    cpu_s: float | None = None  # CPU seconds the process tree had used when ready: on a busy box, nearer the quiet-box ready_s
    size_mb: float = 0.0
    operations: int = 0
    probe: str = ""
    status: int | None = None
    problem: str = ""
    measured_at: str = ""
    load_avg: float = 0.0


# --- specs ------------------------------------------------------------------------------------------------


def github_spec() -> Path | None:
    """GitHub's published REST spec from npm (`npm install --prefix bench/.cache/octokit @octokit/openapi`), once."""
    if not GITHUB_SPEC.exists():
        print("installing @octokit/openapi into bench/.cache/octokit (npm, once)", file=sys.stderr, flush=True)
        OCTOKIT.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(OCTOKIT), "@octokit/openapi"],
                           capture_output=True, text=True, timeout=600)
    return GITHUB_SPEC if GITHUB_SPEC.exists() else None


def corpus_specs() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in SPEC_SUFFIXES) if CORPUS.is_dir() else []


def read_spec(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def probe_and_count(document: dict[str, Any]) -> tuple[str, int]:
    """A real operation to ask for (its first GET without path parameters, else one with `1` for each; gw and
    Prism both serve a spec alone at `/`), and how many operations the spec has."""
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    paths = document.get("paths") or {}
    count = sum(1 for item in paths.values() if isinstance(item, dict) for m in item if m in methods)
    gets = [p for p, item in paths.items() if isinstance(item, dict) and "get" in item]
    chosen = next((p for p in gets if "{" not in p), None) or (gets[0] if gets else "/")
    return re.sub(r"\{[^}]+\}", "1", chosen), count


# --- processes ----------------------------------------------------------------------------------------------




def status_of(url: str, timeout: float = 2) -> int | None:
    try:
        with _DIRECT.open(url, timeout=timeout) as answer:
            answer.read()
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def tree(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def proc_kb(pid: int, file: str, field: str) -> int:
    with contextlib.suppress(OSError, StopIteration, ValueError):
        line = next(x for x in Path(f"/proc/{pid}/{file}").read_text().splitlines() if x.startswith(field + ":"))
        return int(line.split()[1])
    return 0


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds used so far by `root` and the processes below it (those reaped included)."""
    ticks = 0
    for pid in tree(root):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return round(ticks / os.sysconf("SC_CLK_TCK"), 2)


def memory(root: int, workers: int) -> tuple[float, float]:
    """(peak RSS of the serving process, the largest worker's when forked; the tree's PSS now), in MB."""
    pids = tree(root)
    serving = pids[1:] if workers > 1 and len(pids) > 1 else pids
    peak = max((proc_kb(pid, "status", "VmHWM") for pid in serving), default=0)
    pss = sum(proc_kb(pid, "smaps_rollup", "Pss") for pid in pids)
    return round(peak / 1024, 1), round(pss / 1024, 1)


def measure(name: str, cmd: list[str], port: int, probe: str, workers: int, health: bool, timeout: float) -> Row:
    row = Row(spec="", server=name, workers=workers, ready_s=None, rss_mb_per_worker=None, ok=False, probe=probe,
              measured_at=datetime.now(UTC).isoformat(timespec="seconds"), load_avg=round(os.getloadavg()[0], 2))
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, cwd=ROOT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and process.poll() is None:
                if (not health or status_of(base + "/_gw/health") == 200) and (status := status_of(base + probe, 30)):
                    row.ready_s, row.status = round(time.perf_counter() - started, 2), status
                    row.cpu_s = cpu_seconds(process.pid)
                    break
                time.sleep(0.05)
            if row.ready_s is None:
                log.seek(0)
                tail = log.read().decode(errors="replace").strip().splitlines()[-3:]
                why = f"exited {process.returncode}" if process.poll() is not None else f"not ready in {timeout:.0f} s"
                row.problem = f"{why}: {' | '.join(tail)}"[:400]
                return row
            if workers > 1:  # every worker up, not only the first to answer
                with contextlib.suppress(TimeoutError):
                    _wait(lambda: len(tree(process.pid)) > workers, deadline)
            row.rss_mb_per_worker, row.pss_mb = memory(process.pid, workers)
            row.ok = row.status is not None and row.status < 500
            if not row.ok:
                row.problem = f"{probe} answered {row.status}"
            return row
        finally:
            stop_process_group(process, grace=15)


def _wait(done: Any, deadline: float) -> None:
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.05)


def gw_command(spec: Path, port: int, workers: int) -> list[str]:
    gw = Path(sys.executable).parent / "gw"
    return [str(gw), "serve", str(spec), "--port", str(port), "--workers", str(workers), "--quiet"]


def prism_binary() -> Path | None:
    """Prism, installed with bench/run.py's installer (into bench/.cache/prism)."""
    try:
        from bench.peers import Missing, prism_bin
    except ImportError:
        from bench.run import Run, ensure_prism

        return ensure_prism(Run())
    try:
        return prism_bin()
    except Missing as exc:
        print(f"Prism not measured: {exc}", file=sys.stderr)
        return None


# --- the run ---------------------------------------------------------------------------------------------------


def rows_for(spec: Path, workers: list[int], prism: Path | None, timeout: float) -> list[Row]:
    try:
        probe, operations = probe_and_count(read_spec(spec))
    except (OSError, ValueError, AttributeError) as exc:
        return [Row(spec.name, "gw", 1, None, None, False, problem=f"unreadable: {exc}")]
    if not operations:  # webhooks only: nothing to serve, for gw (it says so) as for Prism
        print(f"  {spec.name}: no operations to serve; not measured", file=sys.stderr, flush=True)
        return []
    runs = [("gw", gw_command(spec, port, n), port, n, True) for n in workers for port in [free_port()]]
    if prism is not None:
        port = free_port()
        runs.append(("prism", [str(prism), "mock", str(spec), "-p", str(port), "-h", "127.0.0.1"], port, 1, False))
    rows = []
    for name, cmd, port, n, health in runs:
        row = measure(name, cmd, port, probe, n, health, timeout)
        row.spec, row.size_mb, row.operations = spec.name, round(spec.stat().st_size / 1e6, 1), operations
        print(f"  {row.server} x{row.workers} {row.spec}: ready {row.ready_s} s, {row.rss_mb_per_worker} MB"
              f"{'' if row.ok else '  NOT OK ' + row.problem}", file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def print_table(rows: list[Row]) -> None:
    header = (f"{'spec':34} {'MB':>5} {'ops':>5} {'server':6} {'w':>2} {'ready s':>8} {'CPU s':>6} {'RSS MB/w':>9} "
              f"{'PSS MB':>7}  ok")
    print(header)
    print("-" * len(header))
    for r in rows:
        ready = "-" if r.ready_s is None else f"{r.ready_s:.2f}"
        rss = "-" if r.rss_mb_per_worker is None else f"{r.rss_mb_per_worker:.0f}"
        pss = "-" if r.pss_mb is None else f"{r.pss_mb:.0f}"
        cpu = "-" if r.cpu_s is None else f"{r.cpu_s:.2f}"
        print(f"{r.spec[:34]:34} {r.size_mb:5.1f} {r.operations:5} {r.server:6} {r.workers:2} {ready:>8} {cpu:>6} {rss:>9} "
              f"{pss:>7}  {'yes' if r.ok else 'NO: ' + r.problem}")
    if rows:
        print(f"measured {rows[0].measured_at} .. {rows[-1].measured_at}, load average {min(r.load_avg for r in rows)}"
              f"-{max(r.load_avg for r in rows)} (2 cores: figures above ~1 are shared with other work)")


def compile_gw() -> None:
    """gw's modules compiled to bytecode once, as `pip install` leaves an installed package: an editable install
    under PYTHONDONTWRITEBYTECODE (as in CI and these benches) otherwise compiles all ~170 of them at every start
    (~0.5 s of each start measured, and not what a user's `gw serve` pays)."""
    found = importlib.util.find_spec("gw")
    if found is not None and found.submodule_search_locations:
        for folder in found.submodule_search_locations:
            compileall.compile_dir(folder, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print a JSON list of rows on stdout (progress on stderr)")
    parser.add_argument("--only", action="append", default=[], help="specs whose file name contains this (repeatable)")
    parser.add_argument("--workers", default="1,2", help="gw worker counts to start, comma separated (default 1,2)")
    parser.add_argument("--no-prism", action="store_true", help="leave Prism out")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a server may take to be ready (default 120)")
    args = parser.parse_args(argv)
    specs = corpus_specs()
    github = github_spec()
    if github is not None:
        specs.append(github)
    else:
        print("GitHub's spec not measured: `npm install @octokit/openapi` failed", file=sys.stderr)
    if args.only:
        specs = [s for s in specs if any(word.lower() in s.name.lower() for word in args.only)]
    prism = None if args.no_prism else prism_binary()
    workers = [int(n) for n in args.workers.split(",") if n.strip()]
    compile_gw()
    rows = [row for spec in specs for row in rows_for(spec, workers, prism, args.timeout)]
    if args.json:
        print(json.dumps([asdict(row) for row in rows]))
    else:
        print_table(rows)
    return 0 if rows and all(row.ok for row in rows if row.server == "gw") else 1


if __name__ == "__main__":
    sys.exit(main())
