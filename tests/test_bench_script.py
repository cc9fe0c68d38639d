"""bench/run.py's pure parts: reading wrk, judging issue #15's targets, and the route checks that keep
a fast 404 from counting as fast (against a real loopback gw stub server; no wrk, no npm, no java)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bench import peers
from bench.bare_hop import build as bare_hop_app
from bench.load import Measurement, load_problem, parse_wrk
from bench.routes import (
    EXAMPLE,
    GENERATED,
    LIVE,
    REGISTER,
    STUB_ROUTES,
    Answer,
    answer_problem,
    check_route,
    refuses_invalid,
    validation_proxy_problem,
)
from bench.run import NOT_MEASURED_STARTUP, STARTUP_SPECS, Run, exit_code, run_startup, startup_rows
from bench.targets import (
    BARE_HOP,
    DIRECT,
    GW_2W,
    GW_LIVE,
    PRISM,
    WIREMOCK,
    startup_verdicts,
    verdicts,
)
from gw.contract.conformance import free_port
from tests.conftest import SPECS, GatewayThread, gateway_config, threaded_server
from tests.upstream import UpstreamServer

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8000/users/1
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.01ms    2.10ms  30.11ms   80.00%
    Req/Sec     2.68k   150.00     2.90k    70.00%
  Latency Distribution
     50%  850.00us
     75%    6.80ms
     90%    8.10ms
     99%    1.20s
  10700 requests in 2.00s, 3.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec:   5350.12
Transfer/sec:      1.55MB
"""
CLEAN_WRK_OUTPUT = "\n".join(line for line in WRK_OUTPUT.splitlines() if "errors" not in line and "Non-2xx" not in line)


# ---------------------------------------------------------------------------------------------
# wrk


def test_wrk_report_is_read_into_rps_percentiles_in_ms_and_error_counts() -> None:
    assert parse_wrk(WRK_OUTPUT) == {"rps": 5350.12, "requests": 10700, "p50_ms": 0.85, "p99_ms": 1200.0,
                                     "non_2xx": 12, "socket_errors": 3}


def test_non_2xx_answers_socket_errors_and_an_unreadable_report_are_broken_measurements() -> None:
    assert "12 of 10700 answers were not 2xx" in load_problem(0, parse_wrk(WRK_OUTPUT), WRK_OUTPUT)
    without_non_2xx = WRK_OUTPUT.replace("  Non-2xx or 3xx responses: 12\n", "")
    assert "3 socket errors" in load_problem(0, parse_wrk(without_non_2xx), without_non_2xx)
    assert load_problem(1, parse_wrk("unable to connect"), "unable to connect").startswith("wrk exit 1")
    assert load_problem(0, parse_wrk(CLEAN_WRK_OUTPUT), CLEAN_WRK_OUTPUT) == ""


# ---------------------------------------------------------------------------------------------
# Targets


def stub(server: str, scenario: str, rps: float, p99: float = 5.0) -> Measurement:
    return Measurement("stub", scenario, server, 32, rps=rps, p50_ms=1.0, p99_ms=p99)


def live(server: str, connections: int, rps: float, p50: float) -> Measurement:
    return Measurement("live", "live", server, connections, rps=rps, p50_ms=p50, p99_ms=p50 * 3)


def by_target(found: list) -> dict[str, str]:
    return {v.target: v.label for v in found}


def test_targets_pass_when_every_ratio_of_the_run_holds() -> None:
    ms = [stub(GW_2W, "example", 6000), stub(GW_2W, "stub", 6200), stub(GW_2W, "generated", 5000), stub(GW_2W, "register", 4600),
          stub(WIREMOCK, "example", 3900), stub(PRISM, "example", 1400),
          live(DIRECT, 1, 9000, 0.20), live(GW_LIVE, 1, 2500, 0.65), live(BARE_HOP, 32, 3000, 9.0),
          live(GW_LIVE, 32, 2500, 11.0)]
    found = verdicts(ms, None, 32)
    labels = by_target(found)
    assert labels["gw stub GET (2w) >= 1.5x WireMock"] == "PASS"
    assert labels["gw stub GET (2w) >= 4x Prism"] == "PASS"
    assert labels["gw stub p99 (2w) <= 10 ms at 32 connections"] == "PASS"
    assert labels["gw generated within 20% of example (2w req/s)"] == "PASS"
    assert labels["gw POST+validation within 25% of GET (2w req/s)"] == "PASS"
    assert labels["live hop added p50 <= 0.5 ms at 1 connection (validation on)"] == "PASS"
    assert labels["live throughput >= 80% of the bare hop (32 connections)"] == "PASS"
    assert next(v for v in found if "WireMock" in v.target).measured == "1.54x (6,000 vs 3,900 req/s)"


def test_targets_fail_on_a_missed_ratio_and_the_run_exits_3() -> None:
    ms = [stub(GW_2W, "example", 5000, p99=12.5), stub(GW_2W, "stub", 5200), stub(GW_2W, "generated", 3000),
          stub(GW_2W, "register", 3000),
          stub(WIREMOCK, "example", 4200), stub(PRISM, "example", 1000),
          live(DIRECT, 1, 9000, 0.20), live(GW_LIVE, 1, 600, 2.2), live(BARE_HOP, 32, 3100, 9.0),
          live(GW_LIVE, 32, 633, 50.0)]
    found = verdicts(ms, None, 32)
    labels = by_target(found)
    assert labels["gw stub GET (2w) >= 1.5x WireMock"] == "FAIL"
    assert labels["gw stub GET (2w) >= 4x Prism"] == "PASS"
    assert labels["gw stub p99 (2w) <= 10 ms at 32 connections"] == "FAIL"
    assert labels["gw generated within 20% of example (2w req/s)"] == "FAIL"
    assert labels["live hop added p50 <= 0.5 ms at 1 connection (validation on)"] == "FAIL"
    assert labels["live throughput >= 80% of the bare hop (32 connections)"] == "FAIL"
    assert exit_code(Run(), found) == 3
    assert exit_code(Run(failures=["prism example: route check: GET /users/1: status 404"]), found) == 1


def test_a_broken_or_missing_measurement_is_not_measured_never_a_pass() -> None:
    broken_peer = replace(stub(PRISM, "example", 90000), problem="route check: GET /users/1: status 404")
    found = verdicts([stub(GW_2W, "example", 5000), broken_peer], None, 32)
    labels = by_target(found)
    assert labels["gw stub GET (2w) >= 4x Prism"] == "NOT MEASURED"
    assert labels["gw stub GET (2w) >= 1.5x WireMock"] == "NOT MEASURED"
    assert set(labels.values()) == {"NOT MEASURED"}
    assert exit_code(Run(), found) == 0


def test_startup_rows_are_judged_per_spec_workers_and_prism_rss() -> None:
    rows = [
        {"spec": "kubernetes.io.json", "server": "gw", "workers": 1, "ready_s": 1.5, "rss_mb_per_worker": 120, "ok": True},
        {"spec": "kubernetes.io.json", "server": "gw", "workers": 2, "ready_s": 2.0, "rss_mb_per_worker": 110, "ok": True},
        {"spec": "kubernetes.io.json", "server": "prism", "workers": 1, "ready_s": 9.0, "rss_mb_per_worker": 400,
         "ok": True},
        {"spec": "kubernetes-x3.json", "server": "gw", "workers": 1, "ready_s": 4.2, "rss_mb_per_worker": 170, "ok": True},
        {"spec": "kubernetes-x3.json", "server": "gw", "workers": 2, "ready_s": 7.0, "rss_mb_per_worker": 160, "ok": True},
    ]
    labels = by_target(startup_verdicts(rows))
    assert labels == {"13 MB / 1,000+ operation spec ready < 5 s": "PASS", "Kubernetes (845 operations) ready < 2 s": "PASS",
                      "N workers ready within 1.5x of one": "FAIL", "gw RSS per worker below Prism's on every spec": "PASS"}
    slow = [{**row, "ready_s": 2.5} if row["spec"] == "kubernetes.io.json" and row["workers"] == 1 else row for row in rows]
    assert by_target(startup_verdicts(slow))["Kubernetes (845 operations) ready < 2 s"] == "FAIL"
    dead = [{**rows[3], "ok": False, "ready_s": None}]
    assert by_target(startup_verdicts(dead))["13 MB / 1,000+ operation spec ready < 5 s"] == "FAIL"
    assert set(by_target(startup_verdicts(None)).values()) == {"NOT MEASURED"}


def test_startup_rows_are_read_from_scale_output_even_after_progress_lines() -> None:
    rows = [{"spec": "kubernetes.io.json", "server": "gw", "workers": 1, "ready_s": 1.2, "rss_mb_per_worker": 99,
             "ok": True}]
    assert startup_rows(json.dumps(rows)) == rows
    assert startup_rows("starting gw...\n" + json.dumps(rows) + "\n") == rows
    assert startup_rows("kubernetes.io.json: ready in 1.5 s") is None


def scale_script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "scale.py"
    script.write_text("import argparse, json\nargparse.ArgumentParser().parse_args()\n" + body, encoding="utf-8")
    return script


def test_a_scale_script_without_json_leaves_startup_not_measured_without_failing(tmp_path: Path) -> None:
    run = Run()
    run_startup(run, 30, scale_script(tmp_path, "print('kubernetes.io.json: ready in 1.5 s')\n"))
    assert (run.startup, run.startup_note, run.failures) == (None, NOT_MEASURED_STARTUP, [])
    assert run.startup_note == "start-up: not measured (bench/scale.py --json missing)"


def test_scale_rows_are_kept_and_a_row_that_did_not_start_fails_the_run(tmp_path: Path) -> None:
    rows = [{"spec": "kubernetes.io.json", "server": "gw", "workers": 1, "ready_s": 1.2, "rss_mb_per_worker": 99,
             "ok": True},
            {"spec": "kubernetes-x3.json", "server": "gw", "workers": 2, "ready_s": None, "rss_mb_per_worker": None,
             "ok": False}]
    script = tmp_path / "scale.py"
    rows.append({"spec": "kubernetes.io.json", "server": "prism", "workers": 1, "ready_s": None,
                 "rss_mb_per_worker": None, "ok": False})
    script.write_text(f"import json, sys\nassert sys.argv[1:] == {['--json', *STARTUP_SPECS, '--timeout', '8']!r}\n"
                      f"print(json.dumps({rows!r}))\n", encoding="utf-8")
    run = Run()
    run_startup(run, 30, script)
    assert run.startup == rows
    # gw's row that did not start fails the run; a peer's is reported as a finding about the peer
    assert run.failures == ["start-up: gw on kubernetes-x3.json x2 did not start or answer"]


def test_a_crashing_scale_script_fails_the_run_with_its_output(tmp_path: Path) -> None:
    script = tmp_path / "scale.py"
    script.write_text("import sys\nsys.exit('gw exited: spec could not be read')\n", encoding="utf-8")
    run = Run()
    run_startup(run, 30, script)
    assert run.startup is None
    assert run.failures == ["start-up: bench/scale.py --json exit 1: gw exited: spec could not be read"]


# ---------------------------------------------------------------------------------------------
# Route checks against a real gw stub server


@pytest.fixture(scope="module")
def gw_url() -> Iterator[str]:
    with GatewayThread(gateway_config({"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/"}})) as gateway:
        yield gateway.url


@pytest.mark.parametrize("route", STUB_ROUTES, ids=lambda route: route.scenario)
def test_each_stub_route_answers_what_it_must_on_gw(gw_url: str, route) -> None:
    seen, problem = check_route(route, gw_url)
    assert problem == ""
    assert seen == f"{route.status} application/json x-gw-source={route.source}"


@pytest.mark.parametrize("route", STUB_ROUTES, ids=lambda route: route.scenario)
def test_gw_refuses_each_routes_invalid_twin_itself(gw_url: str, route) -> None:
    assert refuses_invalid(route, gw_url) == (True, "")


def test_a_fast_404_fails_the_route_check(gw_url: str) -> None:
    seen, problem = check_route(replace(EXAMPLE, path="/no/such/path"), gw_url)
    assert seen.startswith("404 application/problem+json")
    assert problem.startswith("GET /no/such/path: status 404, expected 200")


def test_an_answer_from_another_code_path_fails_the_route_check(gw_url: str) -> None:
    _, problem = check_route(replace(EXAMPLE, source="live"), gw_url)
    assert "x-gw-source example, expected live" in problem


WRONG_BODIES = {"/text": ("text/plain", b"hello"), "/shape": ("application/json", b'{"id": 1}'),
                "/page": ("application/json", b'{"items": [{"id": 1}], "total": 1, "limit": 5, "offset": 0}')}


class WrongAnswers(BaseHTTPRequestHandler):
    """/text: 200 text/plain; /shape: 200 JSON that is no User; /page: a UserPage whose items are not Users."""

    def do_GET(self) -> None:
        media, body = WRONG_BODIES[self.path]
        self.send_response(200)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_wrong_media_type_or_body_shape_fails_the_route_check() -> None:
    with threaded_server(WrongAnswers) as base:
        assert "media type text/plain, expected application/json" in check_route(
            replace(EXAMPLE, path="/text", source=None), base)[1]
        assert "body: User without username, email, role, created_at" in check_route(
            replace(EXAMPLE, path="/shape", source=None), base)[1]
        assert "body: items[0]: User without username" in check_route(
            replace(GENERATED, path="/page", source=None), base)[1]


# ---------------------------------------------------------------------------------------------
# The peers' configuration answers what the routes demand


@pytest.mark.parametrize(("route", "index"), [(EXAMPLE, 0), (GENERATED, 1), (REGISTER, 2)],
                         ids=lambda value: getattr(value, "scenario", str(value)))
def test_wiremock_mappings_answer_what_each_route_checks(route, index: int) -> None:
    mapping = peers.wiremock_mappings()[index]
    assert mapping["request"]["method"] == route.method
    answer = Answer(mapping["response"]["status"], {k.lower(): v for k, v in mapping["response"]["headers"].items()},
                    json.dumps(mapping["response"]["jsonBody"]).encode())
    assert answer_problem(replace(route, source=None), answer) == ""


def test_wiremock_register_mapping_holds_the_specs_request_schema() -> None:
    pattern = peers.wiremock_mappings()[2]["request"]["bodyPatterns"][0]
    schema = json.loads(pattern["matchesJsonSchema"])
    assert schema["required"] == ["username", "email", "password"]
    assert schema["additionalProperties"] is False


def test_nginx_config_proxies_to_the_upstream_and_answers_the_example_user(tmp_path: Path) -> None:
    config = peers.nginx_config(tmp_path, 8001, 8002, "http://127.0.0.1:9000")
    assert "server 127.0.0.1:9000; keepalive" in config
    assert "listen 127.0.0.1:8001;" in config and "listen 127.0.0.1:8002;" in config
    assert '"username": "alice"' in config
    assert f"pid {tmp_path}/nginx.pid;" in config


# ---------------------------------------------------------------------------------------------
# The bare hop forwards what it is sent


@pytest.fixture
def echo_upstream() -> Iterator[str]:
    upstream = UpstreamServer(free_port()).start()
    yield upstream.url
    upstream.stop()


def test_bare_hop_forwards_method_path_query_headers_and_body(echo_upstream: str) -> None:
    with TestClient(bare_hop_app(echo_upstream)) as client:
        answer = client.post("/items/7?limit=5", content=b'{"a": 1}',
                             headers={"Content-Type": "application/json", "X-Trace": "t-1"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    echoed = answer.json()
    assert (echoed["method"], echoed["path"], echoed["query"], echoed["body"]) == ("POST", "/items/7", {"limit": "5"},
                                                                                   '{"a": 1}')
    assert echoed["headers"]["x-trace"] == "t-1"


# ---------------------------------------------------------------------------------------------
# The live rows' upstream, and the probe that the validation proxy is on (or off) as the row says


@pytest.fixture(scope="module")
def bench_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """bench/upstream_app.py as the bench runs it: its own process, started and stopped by bench.peers."""
    with peers.running(peers.upstream(tmp_path_factory.mktemp("logs")), timeout=30) as server:
        yield server.base


def live_users(upstream: str) -> dict[str, dict[str, object]]:
    return {"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/", "mode": "live", "upstream": upstream,
                      "retries": 0}}


def test_bench_upstream_answers_the_live_route_check_through_gw(start_gateway, bench_upstream: str) -> None:
    assert check_route(replace(LIVE, source=None), bench_upstream) == ("200 application/json", "")
    gateway = start_gateway(live_users(bench_upstream))
    assert check_route(LIVE, gateway.url) == ("200 application/json x-gw-source=live", "")


def test_the_validation_proxy_probe_tells_on_from_off(start_gateway, bench_upstream: str) -> None:
    checking = start_gateway(live_users(bench_upstream))
    assert validation_proxy_problem(checking.url, expect_on=True) == ""
    assert "should be off, but GET /users/2" in validation_proxy_problem(checking.url, expect_on=False)
    trusting = start_gateway(live_users(bench_upstream), contract={"check": False})
    assert validation_proxy_problem(trusting.url, expect_on=False) == ""
    assert "without X-GW-Contract: violation" in validation_proxy_problem(trusting.url, expect_on=True)


def test_a_server_that_cannot_start_or_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    missing = peers.Server("ghost", [str(tmp_path / "no-such-binary")], peers.free_port(), "/", tmp_path / "ghost.log")
    with pytest.raises(peers.NotReady, match="ghost could not be started"), peers.running(missing):
        pass
    dying = peers.Server("quitter", [sys.executable, "-c", "print('bad config'); raise SystemExit(3)"],
                         peers.free_port(), "/", tmp_path / "quitter.log")
    with pytest.raises(peers.NotReady, match=r"(?s)quitter exited with code 3.*bad config"), peers.running(dying):
        pass


def test_a_scale_script_past_its_time_is_interrupted_so_it_can_stop_its_servers(tmp_path: Path) -> None:
    script = tmp_path / "scale.py"
    marker = tmp_path / "cleaned-up"
    script.write_text(f"import time\ntry:\n    time.sleep(60)\nfinally:\n    open({str(marker)!r}, 'w').close()\n",
                      encoding="utf-8")
    run = Run()
    run_startup(run, 4, script)  # seconds enough for the interpreter to start and install its SIGINT handler
    assert marker.exists()
    assert run.failures == ["start-up: bench/scale.py --json took over 4s (interrupted); NOT measured"]
