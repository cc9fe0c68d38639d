"""The README's performance tables, in the README's own format, from one bench/run.py results file.

Why this exists: the README shows one run's figures; copying them by hand from the console tables
invites slips (a p50 where a p99 belongs, figures from two runs). bench/run.py writes this beside
its JSON (bench/results/<timestamp>.md and latest.md); run it on any results file to get them again:

    python bench/summary.py [bench/results/latest.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/summary.py`: make the bench package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.targets import BARE_HOP, DIRECT, GW_1W, GW_2W, GW_2W_LEAN, GW_LIVE, GW_LIVE_NO_CHECK, NGINX_PROXY, PRISM, WIREMOCK

STUB_ROWS = (("example", "spec example, `GET /users/1`"), ("stub", "stub file, `GET /users/42`"),
             ("generated", "generated, `GET /users?limit=5`"),
             ("register", "`POST /register`, body validated"))
STUB_SERVERS = ((GW_1W, "gw, 1 worker"), (GW_2W, "gw, 2 workers"), (GW_2W_LEAN, "gw, 2 workers, lean"), (WIREMOCK, "WireMock"),
                (PRISM, "Prism"))
LIVE_ROWS = ((NGINX_PROXY, "nginx proxy"), (BARE_HOP, "bare Starlette + aiohttp hop"),
             (GW_LIVE, "gw live, every answer checked against the spec"), (GW_LIVE_NO_CHECK, "gw live, validation proxy off"))
SPEC_NAMES = {"api.github.com": "GitHub's REST spec", "kubernetes": "Kubernetes"}
Row = dict[str, Any]


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def good(measurements: list[Row], server: str, scenario: str, connections: int) -> Row | None:
    return next((m for m in measurements if (m["server"], m["scenario"], m["connections"]) == (server, scenario, connections)
                 and m.get("ok")), None)


def number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def how_measured(meta: Row) -> str:
    rounds, each = meta.get("rounds", 1), meta.get("round_s", meta.get("duration_s"))
    before, after = ((meta.get(key) or [None])[0] for key in ("loadavg_before", "loadavg_after"))
    load = f"; load average {before:.1f} before, {after:.1f} after" if before is not None and after is not None else ""
    return (f"One run, {meta.get('when', '?')}, commit {meta.get('commit') or '?'}, `--duration {meta.get('duration_s')}`: "
            f"medians of {rounds} interleaved rounds of {each} s per server and route, wrk with "
            f"{meta.get('connections')} connections on the same {meta.get('cpus')} cores{load}.")


def targets_table(targets: list[Row]) -> str:
    return table(["target (issue #15)", "measured (median of the rounds; min-max)", "verdict"],
                 [[t["target"], t["measured"], t["verdict"]] for t in targets])


def stub_tables(ms: list[Row], connections: int) -> list[str]:
    def cell(server: str, scenario: str, figures: str) -> str:
        m = good(ms, server, scenario, connections)
        if m is None:
            return "-"
        if figures == "cpu":
            return f"{number(m.get('server_cpu_us'))} ({number(m.get('wrk_cpu_us'))})"
        return f"{number(m['rps'])} ({number(m.get('p99_ms'), 1)})"

    heads = [label for _, label in STUB_SERVERS]
    return [table(["stub answers, req/s (p99 ms)", *heads],
                  [[label, *(cell(server, scenario, "rps") for server, _ in STUB_SERVERS)] for scenario, label in STUB_ROWS]),
            table(["CPU µs per stub answer, server (wrk)", *heads],
                  [[label, *(cell(server, scenario, "cpu") for server, _ in STUB_SERVERS)] for scenario, label in STUB_ROWS])]


def live_table(ms: list[Row], connections: int) -> str:
    direct = good(ms, DIRECT, "live", 1)
    rows = []
    for server, label in LIVE_ROWS:
        one, many = good(ms, server, "live", 1), good(ms, server, "live", connections)
        if one is None and many is None:
            continue
        added = f"{one['p50_ms'] - direct['p50_ms']:+.2f} ms" if one and direct else "-"
        rows.append([label, added, number(many and many["rps"]), number(many and many.get("server_cpu_us"))])
    return table(["live hop, `GET /users/1` (1 worker)", "added p50 at 1 connection", f"req/s at {connections} connections",
                  "CPU µs per request (the hop's)"], rows)


def spec_label(rows: list[Row]) -> str:
    row = rows[0]
    name = str(row["spec"]).rsplit("/", 1)[-1].removesuffix(".json").removesuffix(".yaml")
    title = next((label for prefix, label in SPEC_NAMES.items() if name.startswith(prefix)), name)
    facts = [f"{row['size_mb']:.0f} MB" if isinstance(row.get("size_mb"), int | float) and row["size_mb"] >= 10 else "",
             f"{row['operations']:,} operations" if row.get("operations") else ""]
    facts = [fact for fact in facts if fact]
    return f"{title} ({', '.join(facts)})" if facts else title


def startup_table(startup: list[Row]) -> str:
    def ready(rows: list[Row], server: str, workers: int) -> Row | None:
        return next((r for r in rows if r.get("server") == server and r.get("workers") == workers), None)

    def seconds(row: Row | None) -> str:
        if row is None:
            return "-"
        return f"{row['ready_s']:.1f} s" if row.get("ok") and row.get("ready_s") is not None else "did not start"

    lines = []
    for spec in dict.fromkeys(r["spec"] for r in startup):
        rows = [r for r in startup if r["spec"] == spec]
        gw, prism = ready(rows, "gw", 1), ready(rows, "prism", 1)
        rss = f"{number(gw and gw.get('rss_mb_per_worker'))} / {number(prism and prism.get('rss_mb_per_worker'))} MB"
        lines.append([spec_label(rows), seconds(gw), seconds(ready(rows, "gw", 2)), seconds(prism), rss])
    return table(["ready to answer (bench/scale.py)", "gw, 1 worker", "gw, 2 workers", "Prism",
                  "RSS per worker, gw / Prism"], lines)


def markdown(results: Row) -> str:
    """The README's performance section's tables (and the targets), for one results file."""
    meta, ms = results.get("meta", {}), results.get("measurements", [])
    connections = meta.get("connections", 32)
    parts = [how_measured(meta), targets_table(results.get("targets", []))]
    if any(m["section"] == "stub" for m in ms):
        parts += stub_tables(ms, connections)
    if any(m["section"] == "live" for m in ms):
        parts.append(live_table(ms, connections))
    if results.get("startup"):
        parts.append(startup_table(results["startup"]))
    return "\n\n".join(parts) + "\n"


def main(argv: list[str]) -> None:
    path = Path(argv[0]) if argv else Path(__file__).resolve().parent / "results" / "latest.json"
    print(markdown(json.loads(path.read_text(encoding="utf-8"))), end="")


if __name__ == "__main__":
    main(sys.argv[1:])
