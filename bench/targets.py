"""Issue #15's targets, judged from one run's measurements: the summary bench/run.py prints first.

Pure: measurements and start-up rows in, verdicts out. Only ratios within one run are judged
(absolute figures move with the box); a target whose figures are missing is NOT MEASURED, never
a pass. When both sides were measured in the same interleaved rounds, the ratio is taken round by
round (a neighbour's burst hits both sides of a round alike) and the median of the rounds is judged,
its spread (min-max) shown beside it.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from bench.load import Measurement
from bench.routes import STUB_ROUTES

GW_1W, GW_2W, GW_2W_LEAN = "gw 1w", "gw 2w", "gw 2w lean"  # lean: journal, access log, metrics off
WIREMOCK, PRISM, NGINX_STATIC = "wiremock", "prism", "nginx static"
DIRECT, BARE_HOP, NGINX_PROXY = "upstream direct", "bare starlette+aiohttp hop", "nginx proxy"
GW_LIVE, GW_LIVE_NO_CHECK = "gw live", "gw live, no check"
STUB_SCENARIOS = tuple(route.scenario for route in STUB_ROUTES)  # the p99 target covers every stub route
BIG_SPEC_MB = 10.0  # the "13 MB spec" row: Kubernetes' paths repeated past 1,000 operations


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    passed: bool | None  # None: not measured
    value: float | None = None  # the figure judged (a ratio, or ms): the median of the rounds
    spread: tuple[float, float] | None = None  # its min and max over the rounds

    @property
    def label(self) -> str:
        return {True: "PASS", False: "FAIL", None: "NOT MEASURED"}[self.passed]


def find(measurements: Iterable[Measurement], server: str, scenario: str, connections: int) -> Measurement | None:
    """The good measurement of `server` on `scenario` at `connections`, if there is one."""
    return next((m for m in measurements if (m.server, m.scenario, m.connections) == (server, scenario, connections)
                 and m.ok), None)


def paired(ours: Measurement, theirs: Measurement, name: str) -> list[tuple[float, float]]:
    """A figure of both sides, round by round, for the rounds both measured well."""
    by_round = {s.round: v for s in theirs.rounds if s.ok and (v := getattr(s, name)) is not None}
    return [(v, by_round[s.round]) for s in ours.rounds
            if s.ok and s.round in by_round and (v := getattr(s, name)) is not None]


def per_round(ours: Measurement, theirs: Measurement, name: str, combine: Callable[[float, float], float],
              whole: float) -> tuple[float, tuple[float, float] | None, str]:
    """(the median over paired rounds, its (min, max), how to say the spread); `whole` with fewer than two rounds."""
    values = []
    for a, b in paired(ours, theirs, name):
        try:
            values.append(combine(a, b))
        except ZeroDivisionError:  # a ratio over a round whose other side read 0 (a difference takes every round)
            continue
    if len(values) < 2:
        return whole, None, ""
    return statistics.median(values), (min(values), max(values)), f"{len(values)} rounds"


def cpu_note(ours: Measurement, theirs: Measurement) -> str:
    if ours.server_cpu_us is None or theirs.server_cpu_us is None:
        return ""
    return f"; server CPU {ours.server_cpu_us:,.0f} vs {theirs.server_cpu_us:,.0f} µs/req"


def ratio_verdict(target: str, ours: Measurement | None, theirs: Measurement | None, at_least: float) -> Verdict:
    """ours.rps / theirs.rps >= at_least: the median of the per-round ratios when both were measured in rounds."""
    if ours is None or theirs is None or not ours.rps or not theirs.rps:
        return Verdict(target, "-", None)
    ratio, spread, rounds = per_round(ours, theirs, "rps", lambda a, b: a / b, ours.rps / theirs.rps)
    among = f"{spread[0]:.2f}-{spread[1]:.2f}x over {rounds}; " if spread else ""
    return Verdict(target, f"{ratio:.2f}x ({among}{ours.rps:,.0f} vs {theirs.rps:,.0f} req/s{cpu_note(ours, theirs)})",
                   ratio >= at_least, round(ratio, 3), spread and (round(spread[0], 3), round(spread[1], 3)))


def stub_verdicts(ms: list[Measurement], connections: int) -> list[Verdict]:
    def at(server: str, scenario: str) -> Measurement | None:
        return find(ms, server, scenario, connections)

    example = at(GW_2W, "example")
    verdicts = [
        ratio_verdict("gw stub GET (2w) >= 1.5x WireMock", example, at(WIREMOCK, "example"), 1.5),
        ratio_verdict("gw stub GET (2w) >= 4x Prism", example, at(PRISM, "example"), 4.0),
    ]
    p99s = {s: m.p99_ms for s in STUB_SCENARIOS if (m := at(GW_2W, s)) and m.p99_ms is not None}
    if len(p99s) == len(STUB_SCENARIOS):
        worst = max(p99s, key=lambda s: p99s[s])
        verdicts.append(Verdict(f"gw stub p99 (2w) <= 10 ms at {connections} connections",
                                f"worst {p99s[worst]:.2f} ms ({worst})", p99s[worst] <= 10.0))
    else:
        verdicts.append(Verdict(f"gw stub p99 (2w) <= 10 ms at {connections} connections", "-", None))
    verdicts.append(ratio_verdict("gw generated within 20% of example (2w req/s)", at(GW_2W, "generated"), example, 0.8))
    verdicts.append(ratio_verdict("gw POST+validation within 25% of GET (2w req/s)", at(GW_2W, "register"), example, 0.75))
    return verdicts


def live_verdicts(ms: list[Measurement], connections: int) -> list[Verdict]:
    gw_one, direct_one = find(ms, GW_LIVE, "live", 1), find(ms, DIRECT, "live", 1)
    target = "live hop added p50 <= 0.5 ms at 1 connection (validation on)"
    if gw_one and direct_one and gw_one.p50_ms is not None and direct_one.p50_ms is not None:
        added, spread, rounds = per_round(gw_one, direct_one, "p50_ms", lambda a, b: a - b,
                                          gw_one.p50_ms - direct_one.p50_ms)
        among = f"{spread[0]:+.2f} to {spread[1]:+.2f} ms over {rounds}; " if spread else ""
        hop = Verdict(target, f"{added:+.2f} ms ({among}{gw_one.p50_ms:.2f} vs {direct_one.p50_ms:.2f} direct)",
                      added <= 0.5, round(added, 3), spread and (round(spread[0], 3), round(spread[1], 3)))
    else:
        hop = Verdict(target, "-", None)
    throughput = ratio_verdict(f"live throughput >= 80% of the bare hop ({connections} connections)",
                               find(ms, GW_LIVE, "live", connections), find(ms, BARE_HOP, "live", connections), 0.8)
    return [hop, throughput]


# ---------------------------------------------------------------------------------------------
# Start-up rows (bench/scale.py --json): {spec, server, workers, ready_s, rss_mb_per_worker, ok}


def is_big(row: dict[str, Any]) -> bool:
    """The 13 MB / 1,000+ operation row: by its size when given, else by scale.py's copied-spec name."""
    if isinstance(row.get("size_mb"), int | float):
        return row["size_mb"] >= BIG_SPEC_MB
    return re.search(r"-x\d+", str(row.get("spec", ""))) is not None


def is_kubernetes(row: dict[str, Any]) -> bool:
    return PurePath(str(row.get("spec", ""))).name.lower().startswith("kubernetes") and not is_big(row)


def gw_rows(rows: list[dict[str, Any]], chosen: Callable[[dict[str, Any]], bool] = lambda row: True,
            workers: int | None = 1) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("server") == "gw" and chosen(r) and (workers is None or r.get("workers") == workers)]


def ready_verdict(target: str, rows: list[dict[str, Any]], limit_s: float) -> Verdict:
    if not rows:
        return Verdict(target, "-", None)
    row = rows[0]
    if not row.get("ok") or row.get("ready_s") is None:
        return Verdict(target, f"{row.get('spec')}: did not start or answer", False)
    return Verdict(target, f"{row['ready_s']:.2f} s ({row.get('spec')})", row["ready_s"] < limit_s)


def workers_verdict(rows: list[dict[str, Any]]) -> Verdict:
    """Every spec: ready time of N workers over that of one, the worst of them."""
    target = "N workers ready within 1.5x of one"
    one = {r["spec"]: r for r in gw_rows(rows) if r.get("ok") and r.get("ready_s")}
    many = [r for r in gw_rows(rows, workers=None) if (r.get("workers") or 1) > 1]
    if not one or not many:
        return Verdict(target, "-", None)
    if broken := [r for r in many if not r.get("ok") or r.get("ready_s") is None]:
        return Verdict(target, f"{broken[0].get('spec')} x{broken[0].get('workers')}: did not start or answer", False)
    ratios = [(r["ready_s"] / one[r["spec"]]["ready_s"], r) for r in many if r["spec"] in one]
    if not ratios:
        return Verdict(target, "-", None)
    worst, row = max(ratios, key=lambda pair: pair[0])
    return Verdict(target, f"worst {worst:.2f}x ({row['spec']}, {row['workers']} workers: {row['ready_s']:.2f} s)",
                   worst <= 1.5)


def rss_verdict(rows: list[dict[str, Any]]) -> Verdict:
    """Every spec Prism was measured on: gw's peak RSS per worker below Prism's."""
    target = "gw RSS per worker below Prism's on every spec"
    prism = {r["spec"]: r["rss_mb_per_worker"] for r in rows
             if r.get("server") == "prism" and r.get("ok") and r.get("rss_mb_per_worker")}
    pairs = [(r["rss_mb_per_worker"] / prism[r["spec"]], r) for r in gw_rows(rows, workers=None)
             if r["spec"] in prism and r.get("ok") and r.get("rss_mb_per_worker")]
    if not pairs:
        return Verdict(target, "-", None)
    worst, row = max(pairs, key=lambda pair: pair[0])
    return Verdict(target, f"worst {row['rss_mb_per_worker']:.0f} vs {prism[row['spec']]:.0f} MB ({row['spec']}); "
                           f"{len(pairs)} rows", worst < 1.0)


def startup_verdicts(rows: list[dict[str, Any]] | None) -> list[Verdict]:
    rows = rows or []
    return [
        ready_verdict("13 MB / 1,000+ operation spec ready < 5 s", gw_rows(rows, is_big), 5.0),
        ready_verdict("Kubernetes (845 operations) ready < 2 s", gw_rows(rows, is_kubernetes), 2.0),
        workers_verdict(rows),
        rss_verdict(rows),
    ]


def verdicts(ms: list[Measurement], startup: list[dict[str, Any]] | None, connections: int) -> list[Verdict]:
    """Every target of issue #15, in its order: stubs, live hop, start-up."""
    return [*stub_verdicts(ms, connections), *live_verdicts(ms, connections), *startup_verdicts(startup)]
