"""bench/run.py's interleaved rounds: figures are medians of the rounds, ratio targets are taken round by round,
and a route that stops answering what it should in any round fails the run (no wrk, npm or java: a recording
wrk and a real loopback server that answers the example user until told otherwise)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from bench.load import Measurement, Sample, Wrk
from bench.peers import Server
from bench.routes import EXAMPLE, GENERATED, example_user
from bench.run import (
    SETTLE_MAX_S,
    SETTLE_PASS_S,
    Cell,
    Run,
    by_route,
    measure_rounds,
    parse_args,
    plain,
    round_seconds,
    settle,
)
from bench.targets import DIRECT, GW_2W, GW_LIVE, WIREMOCK, verdicts
from tests.conftest import threaded_server


def rounds(server: str, scenario: str, rps: list[float], connections: int = 32, p50: list[float] | None = None,
           cpu: float = 250.0) -> Measurement:
    m = Measurement("live" if scenario == "live" else "stub", scenario, server, connections)
    for n, value in enumerate(rps, 1):
        m.add(Sample(n, rps=value, p50_ms=(p50 or [1.0] * len(rps))[n - 1], p99_ms=5.0 + n, requests=int(value),
                     server_cpu_us=cpu + n, wrk_cpu_us=30.0))
    return m


def test_a_measurement_in_rounds_holds_the_medians_their_spread_and_the_summed_counts() -> None:
    m = rounds(GW_2W, "example", [6000, 3000, 5000])
    assert (m.rps, m.p99_ms, m.server_cpu_us, m.wrk_cpu_us, m.requests) == (5000, 7.0, 252.0, 30.0, 14000)
    assert m.spread("rps") == (3000, 6000)
    assert m.ok and len(m.rounds) == 3


def test_one_broken_round_breaks_the_measurement_and_its_targets_are_not_measured() -> None:
    gw = rounds(GW_2W, "example", [6000, 5000])
    gw.add(Sample(3, problem="12 of 900 answers were not 2xx/3xx (a benchmark of errors)"))
    assert gw.problem == "round 3: 12 of 900 answers were not 2xx/3xx (a benchmark of errors)"
    assert not gw.ok and gw.rps == 5500  # the good rounds' figures stay visible
    found = verdicts([gw, rounds(WIREMOCK, "example", [3000, 3000, 3000])], None, 32)
    assert next(v for v in found if "WireMock" in v.target).label == "NOT MEASURED"


def test_a_ratio_target_is_the_median_of_the_per_round_ratios_with_their_spread() -> None:
    # round by round 2.0x, 1.5x, 1.25x: the median 1.5x holds; the ratio of the medians (5,000 / 3,000) would say 1.67x
    gw, wiremock = rounds(GW_2W, "example", [6000, 3000, 5000]), rounds(WIREMOCK, "example", [3000, 2000, 4000], cpu=700)
    verdict = next(v for v in verdicts([gw, wiremock], None, 32) if "WireMock" in v.target)
    assert (verdict.label, verdict.value, verdict.spread) == ("PASS", 1.5, (1.25, 2.0))
    assert verdict.measured == ("1.50x (1.25-2.00x over 3 rounds; 5,000 vs 3,000 req/s; "
                                "server CPU 252 vs 702 µs/req)")


def test_only_rounds_both_sides_measured_well_are_paired() -> None:
    gw, wiremock = rounds(GW_2W, "example", [6000, 3000, 5000]), rounds(WIREMOCK, "example", [3000, 2000])
    verdict = next(v for v in verdicts([gw, wiremock], None, 32) if "WireMock" in v.target)
    assert verdict.spread == (1.5, 2.0) and "over 2 rounds" in verdict.measured


def test_the_live_hops_added_p50_is_taken_round_by_round() -> None:
    gw = rounds(GW_LIVE, "live", [2000, 2100, 1900], connections=1, p50=[0.70, 0.55, 0.60])
    direct = rounds(DIRECT, "live", [9000, 9000, 9000], connections=1, p50=[0.20, 0.20, 0.25])
    verdict = next(v for v in verdicts([gw, direct], None, 32) if "added p50" in v.target)
    assert (verdict.label, verdict.value, verdict.spread) == ("PASS", 0.35, (0.35, 0.5))
    assert verdict.measured.startswith("+0.35 ms (+0.35 to +0.50 ms over 3 rounds; 0.60 vs 0.20 direct)")


def test_duration_is_spread_over_the_rounds_in_whole_seconds() -> None:
    assert [round_seconds(d, r) for d, r in ((10, 5), (5, 5), (1, 3), (12, 5), (20, 4))] == [2, 1, 1, 2, 5]
    args = parse_args([])
    assert (args.duration, args.rounds) == (10, 5)
    with pytest.raises(SystemExit):
        parse_args(["--rounds", "0"])


# ---------------------------------------------------------------------------------------------
# The rounds themselves, against a real loopback server


@dataclass(frozen=True)
class RecordingWrk(Wrk):
    """wrk that records each round's load instead of running it, and can break the route after a given call."""

    calls: list[tuple[int, str, int, int]] = field(default_factory=list)
    break_after: list[int] = field(default_factory=list)

    def sample(self, url: str, connections: int, seconds: int, group: int, round_no: int,
               script: Path | None = None) -> Sample:
        self.calls.append((round_no, url.rsplit("/", 1)[-1], connections, seconds))
        if len(self.calls) in self.break_after:
            Flaky.broken = True
        return Sample(round_no, rps=1000.0 * round_no, p50_ms=1.0, p99_ms=2.0, requests=1000, server_cpu_us=100.0)


class Flaky(BaseHTTPRequestHandler):
    """Answers the example user on every path, until `broken`: then 404."""

    broken = False

    def do_GET(self) -> None:
        body = b'{"detail": "gone"}' if Flaky.broken else json.dumps(example_user()).encode()
        self.send_response(404 if Flaky.broken else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Alive:
    """The process of a server started elsewhere: running, or exited with `returncode`."""

    def __init__(self, returncode: int | None = None) -> None:
        self.returncode = returncode

    def poll(self) -> int | None:
        return self.returncode


def cell(base: str, name: str, route=EXAMPLE, connections: int = 32, proc: Alive | None = None,
         log: Path | None = None) -> Cell:
    server = Server(name, [], int(base.rsplit(":", 1)[1]), "/", log or Path("/nonexistent/log"), proc=proc or Alive())
    return Cell(server, plain(route), connections, 0, Measurement("stub", route.scenario, name, connections,
                                                                  base + route.path))


@pytest.fixture
def flaky() -> str:
    Flaky.broken = False
    with threaded_server(Flaky) as base:
        yield base


def test_every_cell_is_loaded_once_per_round_in_reversed_order_every_other_round(flaky: str) -> None:
    wrk = RecordingWrk("wrk", duration=2, warmup=0, server_warmup=3, connections=32)
    run = Run()
    cells = [cell(flaky, "gw 2w"), cell(flaky, "wiremock"), cell(flaky, DIRECT, connections=1)]
    measure_rounds(run, wrk, "stub", cells, 3, Path("post.lua"))
    assert [(r, c) for r, _, c, _ in wrk.calls] == [(1, 32), (1, 32), (1, 1), (2, 1), (2, 32), (2, 32),
                                                    (3, 32), (3, 32), (3, 1)]
    assert {seconds for _, _, c, seconds in wrk.calls if c == 1} == {1}  # 1-connection rows: half, at least 1 s
    assert {seconds for _, _, c, seconds in wrk.calls if c == 32} == {2}
    assert run.failures == [] and len(run.loads) == 3
    assert [m.rps for m in (c.measurement for c in cells)] == [2000.0, 2000.0, 2000.0]


def test_a_route_that_stops_answering_what_it_should_fails_the_run_and_its_later_rounds_are_skipped(flaky: str) -> None:
    wrk = RecordingWrk("wrk", duration=1, warmup=0, server_warmup=3, connections=32, break_after=[2])
    run = Run()
    cells = [cell(flaky, "gw 2w"), cell(flaky, "wiremock")]
    measure_rounds(run, wrk, "stub", cells, 3, Path("post.lua"))
    assert len(wrk.calls) == 2  # round 1 only: from round 2 on the route answers 404
    assert all(not c.measurement.ok for c in cells)
    assert run.failures[0].startswith("wiremock example at 32 connections, round 2: route check: GET /users/1: status 404")
    assert len(run.failures) == 2


def test_a_server_that_died_between_rounds_fails_the_run_with_its_log(flaky: str, tmp_path: Path) -> None:
    log = tmp_path / "gw.log"
    log.write_text("Traceback: worker crashed\n", encoding="utf-8")
    wrk = RecordingWrk("wrk", duration=1, warmup=0, server_warmup=3, connections=32)
    run = Run()
    dead = cell(flaky, "gw 1w", proc=Alive(returncode=-9), log=log)
    measure_rounds(run, wrk, "stub", [dead], 2, Path("post.lua"))
    assert wrk.calls == []
    assert "round 1: the server exited with code -9" in run.failures[0] and "worker crashed" in run.failures[0]


def test_round_order_puts_the_servers_a_ratio_compares_back_to_back(flaky: str) -> None:
    made = [cell(flaky, "gw 2w"), cell(flaky, "gw 2w", GENERATED), cell(flaky, "wiremock"),
            cell(flaky, "wiremock", GENERATED), cell(flaky, DIRECT, connections=1)]
    assert [(c.server.name, c.route.scenario) for c in by_route(made)] == [
        ("gw 2w", "example"), ("wiremock", "example"), ("gw 2w", "generated"), ("wiremock", "generated"),
        (DIRECT, "example")]


def test_a_route_that_went_wrong_during_the_last_round_is_caught_by_the_check_after_it(flaky: str) -> None:
    wrk = RecordingWrk("wrk", duration=1, warmup=0, server_warmup=3, connections=32, break_after=[2])
    run = Run()
    only = cell(flaky, "gw 2w")
    measure_rounds(run, wrk, "stub", [only], 2, Path("post.lua"))
    assert len(wrk.calls) == 2 and not only.measurement.ok
    assert run.failures == ["gw 2w example at 32 connections: route check after the last round: GET /users/1: status 404, "
                            "expected 200: b'{\"detail\": \"gone\"}'"]


# ---------------------------------------------------------------------------------------------
# A JIT peer's warm-up runs on until its CPU per request stops falling


@dataclass(frozen=True)
class JitWrk(Wrk):
    """wrk against a server whose CPU per request falls pass by pass as `costs` says (one cost per route load)."""

    costs: list[float] = field(default_factory=list)
    calls: list[tuple[str, int]] = field(default_factory=list)

    def sample(self, url: str, connections: int, seconds: int, group: int, round_no: int,
               script: Path | None = None) -> Sample:
        self.calls.append((url.rsplit("/", 1)[-1], seconds))
        cost = self.costs[min(len(self.calls) - 1, len(self.costs) - 1)]
        return Sample(round_no, rps=1000.0, requests=1000, server_cpu_us=cost)


def test_a_jit_peer_is_loaded_on_until_its_cpu_per_request_stops_falling(tmp_path: Path) -> None:
    wrk = JitWrk("wrk", duration=1, warmup=0, server_warmup=3, connections=32,
                 costs=[600, 400, 300, 200, 250, 250, 250, 250])  # two routes: passes cost 1,000, 500, 500
    server = Server("wiremock", [], 1, "/", tmp_path / "log", warmup=45)
    assert settle(wrk, server, 0, [EXAMPLE, GENERATED], Path("post.lua")) == [1000, 500, 500]
    assert wrk.calls == [("1", SETTLE_PASS_S), ("users?limit=5", SETTLE_PASS_S)] * 3


def test_a_peer_that_keeps_getting_cheaper_is_warmed_at_most_settle_max_more_seconds(tmp_path: Path) -> None:
    wrk = JitWrk("wrk", duration=1, warmup=0, server_warmup=3, connections=32,
                 costs=[1000.0 * 0.8 ** n for n in range(100)])
    passes = settle(wrk, Server("prism", [], 1, "/", tmp_path / "log", warmup=30), 0, [EXAMPLE], Path("post.lua"))
    assert len(passes) == SETTLE_MAX_S // SETTLE_PASS_S and len(wrk.calls) * SETTLE_PASS_S == SETTLE_MAX_S
