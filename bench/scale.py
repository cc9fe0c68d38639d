"""Scale: how fast `gw serve` starts on a very large spec, how much memory it takes, and
whether it answers. Run by hand: `python bench/scale.py [--copies 3]`.

The spec is Kubernetes' (from ../shared/corpus), with its paths repeated under `/copyN` prefixes
to pass 1,000 operations and 10 MB; the file is written to bench/.cache/.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from gw.port_check import free_port

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
CACHE = ROOT / "bench" / ".cache"


def big_spec(copies: int) -> Path:
    """Kubernetes' spec with every path repeated `copies` times under its own prefix."""
    source = json.loads((CORPUS / "kubernetes.io.json").read_text())
    paths = {}
    for n in range(copies):
        for path, item in source["paths"].items():
            copied = json.loads(json.dumps(item))
            for operation in copied.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    operation["operationId"] = f"{operation['operationId']}_{n}"
            paths[f"/copy{n}{path}"] = copied
    source["paths"] = paths
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / f"kubernetes-x{copies}.json"
    target.write_text(json.dumps(source))
    return target


def measure(spec: Path, probe: str) -> dict[str, object]:
    port = free_port()
    gw = Path(sys.executable).parent / "gw"
    started = time.perf_counter()
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (the server's whole life, closed with it)
    process = subprocess.Popen([str(gw), "serve", str(spec), "--port", str(port)], stdout=subprocess.DEVNULL,
                               stderr=log, text=True, start_new_session=True)
    try:
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise SystemExit(f"gw exited: {log.read()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_gw/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        ready = time.perf_counter() - started
        before = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=30) as response:
            status, size = response.status, len(response.read())
        first = time.perf_counter() - before
        rss = next(line.split()[1] for line in Path(f"/proc/{process.pid}/status").read_text().splitlines()
                   if line.startswith("VmHWM"))
        return {"ready_s": round(ready, 2), "first_answer_ms": round(first * 1000, 1), "status": status,
                "bytes": size, "peak_rss_mb": round(int(rss) / 1024, 1)}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=3)
    args = parser.parse_args()
    original = CORPUS / "kubernetes.io.json"
    big = big_spec(args.copies)
    operations = sum(1 for item in json.loads(big.read_text())["paths"].values() for m in item if m != "parameters")
    for label, spec, probe in (("kubernetes.io.json", original, "/api/v1/namespaces/default/pods"),
                               (f"{big.name} ({operations} operations)", big, "/copy2/api/v1/namespaces/default/pods")):
        size = spec.stat().st_size / 1e6
        result = measure(spec, probe)
        print(f"{label}: {size:.1f} MB, ready in {result['ready_s']} s, first answer {result['first_answer_ms']} ms "
              f"({result['status']}, {result['bytes']} bytes), peak RSS {result['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
