"""/_gw/health/detailed: what an operator needs to see first, for operators only; the probes stay open."""

from __future__ import annotations

import time

import httpx

from gw import __version__
from gw.core.port_check import free_port
from tests.conftest import OUTSIDER, ROOT, TEST_SPECS
from tests.upstream import UpstreamServer

ECHO_SPEC = str(TEST_SPECS / "echo.yaml")


def services(upstream: UpstreamServer) -> dict[str, dict[str, object]]:
    return {
        "users": {"spec": "specs/users.yaml", "base_path": "/users", "operations": {"updateUser": {"mode": "live"}},
                  "upstream": upstream.url},
        "echo": {"spec": ECHO_SPEC, "base_path": "/echo", "mode": "live", "upstream": upstream.url,
                 "health_check": {"path": "/items/0", "interval": "1s"}},
    }


def wait_for_health_check(client: httpx.Client, service: str, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        report = client.get("/_gw/health/detailed").json()
        instances = report["services"][service]["upstreams"]
        if all(i["last_health_check"] for i in instances.values()) or time.monotonic() > deadline:
            return report
        time.sleep(0.05)


def test_the_detailed_report_names_version_services_modes_stubs_and_upstreams(start_gateway,
                                                                             upstream: UpstreamServer) -> None:
    gateway = start_gateway(services(upstream))
    with gateway.client() as client:
        report = wait_for_health_check(client, "echo")
    assert report["status"] == "ok" and report["version"] == __version__
    assert report["uptime_s"] >= 0 and report["started_at"].endswith("Z")
    users, echo = report["services"]["users"], report["services"]["echo"]
    assert users["spec"] == str(ROOT / "specs" / "users.yaml") and users["openapi"] == "3.0.3"
    assert users["mode"] == "stub" and users["operation_modes"] == {"updateUser": "live"}
    assert users["stubs"] == 1  # stubs/users/getUser-42.yaml
    assert users["operations"] == 5 and users["warnings"] == []
    assert echo["mode"] == "live" and echo["stubs"] == 0 and echo["health_check"] == "/items/0"
    instance = echo["upstreams"][upstream.url]
    assert instance["health"] == "healthy" and instance["last_health_check"].endswith("Z")
    assert instance["circuit"] == {"state": "closed", "recent_failures": 0}
    assert instance["in_flight"] == 0 and instance["weight"] == 1
    assert report["load_errors"] == [] and report["stub_errors"] == []
    assert "redis" not in report  # no redis_url, nothing to ping


def test_an_open_circuit_shows_with_its_reason(start_gateway) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    gateway = start_gateway({"down": {"spec": ECHO_SPEC, "base_path": "/down", "mode": "live", "upstream": closed,
                                      "retries": 0, "circuit_breaker": {"failures": 1, "open_seconds": 60}}})
    with gateway.client() as client:
        assert client.get("/down/items/1").status_code == 502
        circuit = client.get("/_gw/health/detailed").json()["services"]["down"]["upstreams"][closed]["circuit"]
    assert circuit["state"] == "open" and circuit["opened_by"] == "failures"
    assert 0 < circuit["half_open_in_s"] <= 60


def test_outside_admin_allow_from_is_refused_and_the_probes_stay_open(start_gateway,
                                                                         upstream: UpstreamServer) -> None:
    gateway = start_gateway(services(upstream), admin={"allow_from": ["127.0.0.1/32"]})
    with gateway.client(source=OUTSIDER) as outsider, gateway.client(source="127.0.0.1") as operator:
        refused = outsider.get("/_gw/health/detailed")
        assert outsider.get("/_gw/health").status_code == 200
        assert outsider.get("/_gw/ready").status_code == 200
        assert outsider.get("/_gw/metrics").status_code == 200  # open to scrapers by design (README)
        assert operator.get("/_gw/health/detailed").status_code == 200
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "/_gw/problems/admin-forbidden" and "127.0.0.2" in problem["detail"]
    assert "services" not in problem


def test_the_admin_key_lets_an_outside_operator_in(start_gateway, upstream: UpstreamServer) -> None:
    gateway = start_gateway(services(upstream), admin={"allow_from": ["127.0.0.1/32"], "key": "k-123"})
    with gateway.client(source=OUTSIDER) as outsider:
        assert outsider.get("/_gw/health/detailed", headers={"X-GW-Admin-Key": "wrong"}).status_code == 403
        allowed = outsider.get("/_gw/health/detailed", headers={"X-GW-Admin-Key": "k-123"})
    assert allowed.status_code == 200 and set(allowed.json()["services"]) == {"users", "echo"}


def test_redis_is_reported_up_when_it_answers(start_gateway, redis_server) -> None:
    gateway = start_gateway({"users": {"spec": "specs/users.yaml", "base_path": "/users"}}, redis_url=redis_server.url)
    with gateway.client() as client:
        redis = client.get("/_gw/health/detailed").json()["redis"]
    assert redis["status"] == "up" and redis["kind"] == "redis" and redis["ping_ms"] >= 0
    assert redis["url"] == redis_server.url


def test_redis_is_reported_down_without_its_password(start_gateway) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    gateway = start_gateway({"users": {"spec": "specs/users.yaml", "base_path": "/users"}}, redis_url=url)
    with gateway.client() as client:
        response = client.get("/_gw/health/detailed")
    assert response.status_code == 200
    redis = response.json()["redis"]
    assert redis["status"] == "down" and redis["error"]
    assert "hunter2" not in response.text
