"""/_gw/metrics after real traffic: stub hits, live calls to real upstreams on loopback, refused requests,
a contract violation, a rate limit; parsed with prometheus_client's own parser and checked by
Debian's promtool; and with `gw serve --workers 2`, every worker's counts added up."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from gw.core.port_check import free_port
from gw.edge.observe import Observe
from tests.conftest import TEST_SPECS, GatewayThread, eventually, gateway_config
from tests.test_websockets import SocketUpstream, ws_url
from tests.upstream import UpstreamServer

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
CONTRACT_SPEC = str(TEST_SPECS / "contract_proxy.yaml")
ECHO_SPEC = str(TEST_SPECS / "echo.yaml")


def parse(text: str) -> Samples:
    """Every sample of a scrape, keyed by name and labels."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist (Prometheus' own reading of an absent counter)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def scrape(client: httpx.Client) -> str:
    response = client.get("/_gw/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
    if binary is None:
        pytest.fail("promtool is not installed (.ci/run installs Debian's prometheus package, which ships it)")
    return subprocess.run([binary, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)


# --- one process, after real traffic -------------------------------------------------------------

@pytest.fixture(scope="module")
def traffic() -> Iterator[dict[str, Any]]:
    """One gateway, every kind of answer once or twice, then one scrape for the tests below to read."""
    upstream = UpstreamServer(free_port(), "up").start()
    closed = f"http://127.0.0.1:{free_port()}"  # nobody listens: connection refused
    config = gateway_config({
        "users": {"spec": "specs/users.yaml", "base_path": "/users"},
        "limited": {"spec": "specs/users.yaml", "base_path": "/limited",
                    "rate_limit": {"limit": 1, "window": "60s"}},
        "drift": {"spec": CONTRACT_SPEC, "base_path": "/api", "mode": "live", "upstream": upstream.url, "retries": 1},
        "down": {"spec": ECHO_SPEC, "base_path": "/down", "mode": "live", "upstream": closed, "retries": 0,
                 "circuit_breaker": {"failures": 1, "open_seconds": 60}},
        "slow": {"spec": ECHO_SPEC, "base_path": "/slow", "mode": "live", "upstream": upstream.url, "retries": 0,
                 "timeout": 0.2},
    })
    with GatewayThread(config) as gateway, gateway.client() as client:
        statuses = {
            "stub match": client.get("/users/users/42").status_code,
            "example, near miss": [client.get("/users/users/1").status_code for _ in range(2)],
            "unrouted": client.get("/nowhere/at/all").status_code,
            "invalid": client.get("/users/users", params={"limit": 1000, "offset": -1}).status_code,
            "limited": [client.get("/limited/users/1").status_code for _ in range(2)],
            "live": client.get("/api/items/7").status_code,
            "violation": client.get("/api/drifted/1").status_code,
            "retried": client.get("/api/flaky/once", params={"fail": 1}).status_code,
            "refused": client.get("/down/items/1").status_code,
            "timeout": client.get("/slow/slow", params={"ms": 1000}).status_code,
        }
        client.get("/_gw/health")  # the gateway's own endpoints are not traffic
        text = scrape(client)
        yield {"statuses": statuses, "text": text, "samples": parse(text), "upstream": upstream.url,
               "closed": closed, "gateway": gateway}
    upstream.stop()


def test_the_traffic_got_the_answers_the_counts_below_assume(traffic: dict[str, Any]) -> None:
    assert traffic["statuses"] == {
        "stub match": 200, "example, near miss": [200, 200], "unrouted": 404, "invalid": 400, "limited": [200, 429],
        "live": 200, "violation": 200, "retried": 200, "refused": 502, "timeout": 504,
    }


def test_requests_are_counted_by_service_operation_mode_code_and_source(traffic: dict[str, Any]) -> None:
    samples = traffic["samples"]
    expected = {
        ("users", "getUser", "stub", "200", "recorded"): 1,
        ("users", "getUser", "stub", "200", "example"): 2,
        ("", "", "", "404", ""): 1,  # no operation matched: never the raw path as a label
        ("users", "listUsers", "", "400", ""): 1,  # refused by validation before any mode applied
        ("limited", "getUser", "stub", "200", "example"): 1,
        ("limited", "getUser", "", "429", ""): 1,
        ("drift", "honest", "live", "200", "live"): 1,
        ("drift", "drifted", "live", "200", "live"): 1,
        ("drift", "undeclared", "live", "200", "live"): 1,
        ("down", "getItem", "live", "502", ""): 1,
        ("slow", "slow", "live", "504", ""): 1,
    }
    counted = {(dict(ls)["service"], dict(ls)["operation"], dict(ls)["mode"], dict(ls)["code"], dict(ls)["source"]): v
               for (name, ls), v in samples.items() if name == "gw_requests_total"}
    assert counted == expected
    assert not any("nowhere" in value for _, ls in samples for _, value in ls)


def test_request_latency_is_a_histogram_per_operation(traffic: dict[str, Any]) -> None:
    samples = traffic["samples"]
    assert value(samples, "gw_request_duration_seconds_count", service="users", operation="getUser") == 3
    assert value(samples, "gw_request_duration_seconds_bucket", service="users", operation="getUser", le="+Inf") == 3
    assert value(samples, "gw_request_duration_seconds_count", service="slow", operation="slow") == 1
    assert value(samples, "gw_request_duration_seconds_bucket", service="slow", operation="slow", le="0.1") == 0
    assert value(samples, "gw_request_duration_seconds_sum", service="slow", operation="slow") >= 0.2


def test_upstream_attempts_errors_and_retries_are_counted_per_instance(traffic: dict[str, Any]) -> None:
    samples, up, closed = traffic["samples"], traffic["upstream"], traffic["closed"]
    # drift: items, drifted, and flaky twice (a 503, then the retry's 200)
    assert value(samples, "gw_upstream_request_duration_seconds_count", service="drift", instance=up) == 4
    assert value(samples, "gw_upstream_errors_total", service="drift", instance=up, kind="5xx") == 1
    assert value(samples, "gw_upstream_retries_total", service="drift") == 1
    assert value(samples, "gw_upstream_errors_total", service="down", instance=closed, kind="connect") == 1
    assert value(samples, "gw_upstream_errors_total", service="slow", instance=up, kind="timeout") == 1
    assert total(samples, "gw_upstream_errors_total") == 3


def test_circuit_state_and_transitions_per_instance(traffic: dict[str, Any]) -> None:
    samples, up, closed = traffic["samples"], traffic["upstream"], traffic["closed"]
    assert value(samples, "gw_upstream_circuit_state", service="down", instance=closed) == 2  # open
    assert value(samples, "gw_upstream_circuit_transitions_total", service="down", instance=closed, state="open") == 1
    assert value(samples, "gw_upstream_circuit_state", service="drift", instance=up) == 0  # closed
    assert total(samples, "gw_upstream_circuit_transitions_total") == 1


def test_rate_limits_contract_violations_and_stubs_are_counted_by_service(traffic: dict[str, Any]) -> None:
    samples = traffic["samples"]
    assert value(samples, "gw_rate_limited_requests_total", service="limited") == 1
    assert total(samples, "gw_rate_limited_requests_total") == 1
    assert value(samples, "gw_contract_violations_total", service="drift", operation="drifted") == 1
    assert total(samples, "gw_contract_violations_total") == 1
    assert traffic["gateway"].app.contract.violations[("drift", "drifted")] == 1  # the same count, two views
    assert value(samples, "gw_stub_matches_total", service="users") == 1
    assert value(samples, "gw_stub_near_misses_total", service="users") == 2
    assert total(samples, "gw_stub_matches_total") == 1


def test_build_and_process_information_is_exposed(traffic: dict[str, Any]) -> None:
    samples = traffic["samples"]
    from gw import __version__

    assert total(samples, "gw_build_info", version=__version__) == 1
    assert value(samples, "process_start_time_seconds") > 0
    assert value(samples, "gw_websocket_connections") == 0  # no socket opened: no series yet


def test_promtool_accepts_the_scraped_metrics(traffic: dict[str, Any]) -> None:
    result = promtool_check(traffic["text"])
    assert result.returncode == 0, f"promtool check metrics failed:\n{result.stdout}{result.stderr}"


def test_openmetrics_is_served_when_the_scraper_asks_for_it(traffic: dict[str, Any]) -> None:
    with traffic["gateway"].client() as client:
        response = client.get("/_gw/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


# --- apps, options, sockets -------------------------------------------------------------------------

def test_two_gateways_in_one_process_keep_their_own_counts(start_gateway) -> None:
    first = start_gateway({"users": {"spec": "specs/users.yaml", "base_path": "/users"}})
    second = start_gateway({"users": {"spec": "specs/users.yaml", "base_path": "/users"}})
    with first.client() as one, second.client() as two:
        for _ in range(3):
            one.get("/users/users/1")
        two.get("/users/users/1")
        counts = [total(parse(scrape(c)), "gw_requests_total", service="users") for c in (one, two)]
    assert counts == [3, 1]


def test_metrics_off_leaves_the_step_out_and_the_endpoint_unserved(start_gateway) -> None:
    gateway = start_gateway({"users": {"spec": "specs/users.yaml", "base_path": "/users"}}, metrics=False)
    with gateway.client() as client:
        assert client.get("/users/users/1").status_code == 200
        assert client.get("/_gw/metrics").status_code == 404
    assert gateway.app.metrics is None
    assert not any(step.count for step in gateway.app.pipeline.steps if isinstance(step, Observe))  # counts nothing


def test_an_open_circuit_reads_half_open_once_its_time_is_up(start_gateway) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    gateway = start_gateway({"down": {"spec": ECHO_SPEC, "base_path": "/down", "mode": "live", "upstream": closed,
                                      "retries": 0, "circuit_breaker": {"failures": 1, "open_seconds": 0.2}}})
    with gateway.client() as client:
        assert client.get("/down/items/1").status_code == 502
        assert value(parse(scrape(client)), "gw_upstream_circuit_state", service="down", instance=closed) == 2
        samples = eventually(lambda: parse(scrape(client)),  # a scrape reads the circuit: half-open once it is due
                             lambda got: value(got, "gw_upstream_circuit_state", service="down", instance=closed) == 1)
    assert value(samples, "gw_upstream_circuit_state", service="down", instance=closed) == 1
    assert value(samples, "gw_upstream_circuit_transitions_total", service="down", instance=closed,
                 state="half_open") == 1


def test_upstream_credentials_never_reach_a_label(start_gateway) -> None:
    port = free_port()
    gateway = start_gateway({"down": {"spec": ECHO_SPEC, "base_path": "/down", "mode": "live", "retries": 0,
                                      "upstream": f"http://svc:s3cret@127.0.0.1:{port}"}})
    with gateway.client() as client:
        client.get("/down/items/1")
        text = scrape(client)
    assert "s3cret" not in text
    assert value(parse(text), "gw_upstream_errors_total", service="down", instance=f"http://127.0.0.1:{port}",
                 kind="connect") == 1


def test_open_websockets_are_a_gauge_that_falls_back_when_they_close(start_gateway) -> None:
    upstream = SocketUpstream(free_port(), "ws").start()
    try:
        gateway = start_gateway({"chat": {"spec": ECHO_SPEC, "base_path": "/chat", "mode": "live",
                                          "upstream": upstream.url, "websockets": ["/events"]}})
        with gateway.client() as client:
            during, after = asyncio.run(_socket_gauge(gateway, client))
    finally:
        upstream.stop()
    assert (during, after) == (1, 0)


async def _socket_gauge(gateway: GatewayThread, client: httpx.Client) -> tuple[float, float]:
    """The gauge while one socket is open, and once it has closed."""
    async with aiohttp.ClientSession() as session:
        socket = await session.ws_connect(ws_url(gateway, "/chat/events"))
        await socket.receive_json(timeout=5)  # the upstream's hello: the relay is running
        during = await asyncio.to_thread(lambda: value(parse(scrape(client)), "gw_websocket_connections",
                                                       service="chat"))
        await socket.close()
    after = during
    deadline = time.monotonic() + 5
    while after != 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        after = await asyncio.to_thread(lambda: value(parse(scrape(client)), "gw_websocket_connections",
                                                      service="chat"))
    return during, after


# --- gw serve --workers 2 ------------------------------------------------------------------------------

def test_requests_served_by_two_workers_add_up_exactly(gw_process, tmp_path: Path) -> None:
    """Every worker counts into its own files; whichever worker answers the scrape adds them all up."""
    # two workers each load the specs: slow on a busy two-core box (issue 16 looks into why)
    gateway = gw_process("specs/users.yaml", "--workers", "2", env={"TMPDIR": str(tmp_path)}).wait_ready(90)
    metrics_dirs = list(tmp_path.glob("gw-metrics-*"))
    assert len(metrics_dirs) == 1, "gw serve --workers makes one fresh PROMETHEUS_MULTIPROC_DIR"
    sent = 0
    while sent < 400 and len(_per_worker_requests(metrics_dirs[0])) < 2:
        sent += _burst(gateway.url, 20)
    per_worker = _per_worker_requests(metrics_dirs[0])
    assert len(per_worker) == 2 and all(n > 0 for n in per_worker.values()), per_worker
    assert sum(per_worker.values()) == sent
    seen = _scraped_total(gateway.url, sent)
    assert seen == sent
    assert promtool_check(httpx.get(f"{gateway.url}/_gw/metrics").text).returncode == 0
    gateway.stop()
    assert not metrics_dirs[0].exists(), "the metrics folder is removed when gw serve stops"


def _burst(url: str, count: int) -> int:
    """`count` requests at once, each on its own connection, so the kernel spreads them over the workers."""

    async def run() -> int:
        async def one() -> int:
            async with httpx.AsyncClient(timeout=10) as client:
                return (await client.get(f"{url}/users/1")).status_code

        statuses = await asyncio.gather(*(one() for _ in range(count)))
        assert statuses == [200] * count
        return count

    return asyncio.run(run())


def _per_worker_requests(folder: Path) -> dict[str, float]:
    """gw_requests_total per worker, read from each worker's own counter file."""
    counts = {}
    for file in folder.glob("counter_*.db"):
        alone = folder.parent / f"alone-{file.stem}"
        alone.mkdir(exist_ok=True)
        shutil.copy(file, alone / file.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        samples = {(s.name, frozenset(s.labels.items())): s.value for m in registry.collect() for s in m.samples}
        counted = total(samples, "gw_requests_total")
        if counted:
            counts[file.stem] = counted
        shutil.rmtree(alone)
    return counts


def _scraped_total(url: str, expected: float, timeout: float = 10) -> float:
    """gw_requests_total summed over every series, scraped until it reaches `expected` (or time is up)."""
    seen = -1.0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = total(parse(httpx.get(f"{url}/_gw/metrics", timeout=5).text), "gw_requests_total")
        if seen == expected:
            break
        time.sleep(0.1)
    return seen


def test_the_gateways_own_endpoints_are_not_counted_as_traffic(start_gateway) -> None:
    gateway = start_gateway({"users": {"spec": "specs/users.yaml", "base_path": "/users"}})
    with gateway.client() as client:
        for path in ("/_gw/health", "/_gw/ready", "/_gw/health/detailed", "/_gw/no-such-endpoint", "/_gw/metrics"):
            client.get(path)
        samples = parse(scrape(client))
    assert total(samples, "gw_requests_total") == 0


# --- the Grafana dashboard asks only for what is exposed --------------------------------------------

DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "gw-dashboard.json"


def _dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


def _as_prometheus(expr: str) -> str:
    """A dashboard query with Grafana's variables filled, as Prometheus would receive it."""
    return expr.replace("$__rate_interval", "5m").replace("$service", ".*")


def test_every_dashboard_query_is_valid_promql() -> None:
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"gw:panel_{i}", "expr": _as_prometheus(e)}
                                                       for i, e in enumerate(_dashboard_queries())]}]}
    binary = shutil.which("promtool") or "/usr/bin/promtool"
    result = subprocess.run([binary, "check", "rules", "/dev/stdin"], input=yaml.safe_dump(rules), capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_query_names_only_exposed_metrics_and_labels(traffic: dict[str, Any]) -> None:
    labels_of: dict[str, set[str]] = {}
    for (name, labels), _ in traffic["samples"].items():
        labels_of.setdefault(name, set()).update(k for k, _ in labels)
    queries = _dashboard_queries()
    assert len(queries) >= 10
    for expr in queries:
        names = set(re.findall(r"\b(gw_[a-z_]+)\b", expr))
        assert names, expr
        unknown = names - set(labels_of)
        assert not unknown, f"{expr}: not exposed: {unknown}"
        used = set(re.findall(r"\bby \(([^)]*)\)", expr))
        grouped = {label.strip() for group in used for label in group.split(",")}
        matched = set(re.findall(r"[{,]\s*([a-z_]+)\s*=~?", expr))
        for name in names:
            missing = (grouped | matched) - labels_of[name] - ({"le"} if name.endswith("_bucket") else set())
            assert not missing, f"{expr}: {name} has no label {missing}"


def test_the_dashboard_covers_what_operators_read_first() -> None:
    text = " ".join(_dashboard_queries())
    for needed in ("gw_requests_total", 'code=~"5..', 'code=~"4..', "histogram_quantile(0.95", "gw_upstream_errors_total",
                   "gw_upstream_circuit_state", "gw_rate_limited_requests_total", "gw_contract_violations_total",
                   "by (mode"):
        assert needed in text, needed
