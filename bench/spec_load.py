"""In-process cost of loading one spec at start-up, for any checkouts, interleaved: before/after in one command.

Why this exists: `bench/scale.py` times a whole `gw serve` until it answers, which moves with the box's load
and includes the interpreter's start and imports. This times `gw.spec.load.load_spec` alone (what each start
does per service), each round in a fresh process per checkout (A B B A ...), and reports the minimum and the
median per spec, in CPU seconds of the loading process (the load is one thread: on a shared box CPU time moves
far less than wall-clock time; `--wall` for the latter): compare minimums.

    python bench/spec_load.py --repo /work/main --repo .                 # GitHub's and Kubernetes' specs
    python bench/spec_load.py --repo . --spec ../shared/corpus/openai.com.json --rounds 3
    python bench/spec_load.py --repo . --cold                            # an empty check cache each round

By default the check caches are warm (a first load in each process fills them, untimed), as on every start
after the first; `--cold` gives each round a fresh cache folder (the structure check then runs: seconds).
Each checkout runs with the current interpreter, its `gateway/` folder loaded as `gw` (bench/asgi_driver.load_checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/spec_load.py`: make the bench package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPECS = [ROOT / "bench" / ".cache" / "octokit" / "node_modules" / "@octokit" / "openapi" / "generated"
                 / "api.github.com.json", ROOT.parent / "shared" / "corpus" / "kubernetes.io.json"]


def child(repo: Path, spec: Path, cold: bool) -> None:
    """One timed load of `spec` in this process (after an untimed one that fills the caches, unless cold)."""
    import gc
    import logging

    from bench.asgi_driver import load_checkout

    load_checkout(repo)
    from gw.settings.config import config_for_specs
    from gw.spec.load import load_spec

    logging.disable(logging.WARNING)
    config = config_for_specs([spec], env={})
    settings = next(iter(config.services.values()))
    if not cold:
        load_spec(config, settings, "later")
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    service = load_spec(config, settings, "later")
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"wall": wall, "cpu": cpu, "operations": len(service.operations)}))


def run_child(repo: Path, spec: Path, cold: bool, cache: str) -> dict[str, float]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GW_")}
    env.update(PYTHONPATH=str(ROOT), XDG_CACHE_HOME=cache)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(spec), "--repo", str(repo)]
    cmd += ["--cold"] if cold else []
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: {repo}: the measuring process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", action="append", help="a checkout to measure (repeat to compare; default: this one)")
    parser.add_argument("--spec", action="append", type=Path, help="a spec file (repeat; default: GitHub's and Kubernetes')")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="an empty check cache each round")
    parser.add_argument("--wall", action="store_true", help="wall-clock seconds (default: the process's CPU seconds)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.repo[0]).resolve(), args.child, args.cold)
        return
    repos = [Path(r).resolve() for r in (args.repo or [str(ROOT)])]
    specs = [s.resolve() for s in (args.spec or DEFAULT_SPECS) if s.exists()]
    samples: dict[tuple[int, Path], list[float]] = {(i, spec): [] for i in range(len(repos)) for spec in specs}
    with tempfile.TemporaryDirectory(prefix="gw-spec-load-") as shared:
        for round_no in range(args.rounds):
            order = list(enumerate(repos))
            for index, repo in order if round_no % 2 == 0 else reversed(order):
                for spec in specs:
                    cache = tempfile.mkdtemp(dir=shared) if args.cold else f"{shared}/{index}"
                    samples[(index, spec)].append(run_child(repo, spec, args.cold, cache)["wall" if args.wall else "cpu"])
            print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    clock = "wall-clock" if args.wall else "CPU"
    print(f"load_spec {clock} seconds, {'cold' if args.cold else 'warm'} caches, min (median) of {args.rounds} rounds")
    print(f"{'spec':<28}" + "".join(f"{str(repo)[-24:]:>28}" for repo in repos))
    for spec in specs:
        cells = [samples[(i, spec)] for i in range(len(repos))]
        line = f"{spec.name[:28]:<28}" + "".join(f"{min(c):>18.3f} ({statistics.median(c):.3f})" for c in cells)
        if len(repos) > 1:
            line += "".join(f"  x{min(c) / min(cells[0]):.2f}" for c in cells[1:])
        print(line)


if __name__ == "__main__":
    main()
