"""bench/summary.py: the README's performance tables, in the README's format, from one bench/run.py results file."""

from __future__ import annotations

from dataclasses import asdict

from bench.load import Measurement, Sample
from bench.summary import markdown
from bench.targets import BARE_HOP, DIRECT, GW_1W, GW_2W, GW_2W_LEAN, GW_LIVE, WIREMOCK


def row(server: str, scenario: str, rps: float, connections: int = 32, p50: float = 1.0, cpu: float = 250.0) -> dict:
    m = Measurement("live" if scenario == "live" else "stub", scenario, server, connections)
    m.add(Sample(1, rps=rps, p50_ms=p50, p99_ms=8.84, requests=1000, server_cpu_us=cpu, wrk_cpu_us=31.0))
    return {**asdict(m), "ok": m.ok}


RESULTS = {
    "meta": {"when": "20261126T120000Z", "commit": "abc1234", "duration_s": 5, "rounds": 5, "round_s": 1,
             "connections": 32, "cpus": 2, "loadavg_before": [0.4, 0.5, 0.6], "loadavg_after": [1.2, 0.9, 0.7]},
    "targets": [{"target": "gw stub GET (2w) >= 1.5x WireMock", "measured": "1.62x (1.40-1.80x over 5 rounds; ...)",
                 "passed": True, "verdict": "PASS"}],
    "measurements": [row(GW_1W, "example", 3383), row(GW_2W, "example", 6302, cpu=255), row(WIREMOCK, "example", 4100, cpu=420),
                     row(GW_2W_LEAN, "stub", 7000, cpu=200),
                     row(DIRECT, "live", 9000, connections=1, p50=0.20), row(GW_LIVE, "live", 2100, connections=1, p50=0.65),
                     row(GW_LIVE, "live", 2200), row(BARE_HOP, "live", 2770)],
    "startup": [{"spec": "api.github.com.json", "server": "gw", "workers": 1, "ready_s": 3.39, "rss_mb_per_worker": 162.2,
                 "ok": True, "size_mb": 13.0, "operations": 1223},
                {"spec": "api.github.com.json", "server": "prism", "workers": 1, "ready_s": 15.27,
                 "rss_mb_per_worker": 319.6, "ok": True, "size_mb": 13.0, "operations": 1223}],
}


def test_the_readme_tables_come_out_in_the_readmes_format() -> None:
    text = markdown(RESULTS)
    assert text.startswith("One run, 20261126T120000Z, commit abc1234, `--duration 5`: medians of 5 interleaved rounds of 1 s")
    assert "| gw stub GET (2w) >= 1.5x WireMock | 1.62x (1.40-1.80x over 5 rounds; ...) | PASS |" in text
    assert ("| stub answers, req/s (p99 ms) | gw, 1 worker | gw, 2 workers | gw, 2 workers, lean | WireMock | Prism |"
            in text)
    assert "| spec example, `GET /users/1` | 3,383 (8.8) | 6,302 (8.8) | - | 4,100 (8.8) | - |" in text
    assert "| stub file, `GET /users/42` | - | - | 7,000 (8.8) | - | - |" in text
    assert "| spec example, `GET /users/1` | 250 (31) | 255 (31) | - | 420 (31) | - |" in text
    assert "| gw live, every answer checked against the spec | +0.45 ms | 2,200 | 250 |" in text
    assert "| bare Starlette + aiohttp hop | - | 2,770 | 250 |" in text
    assert "| GitHub's REST spec (13 MB, 1,223 operations) | 3.4 s | - | 15.3 s | 162 / 320 MB |" in text
