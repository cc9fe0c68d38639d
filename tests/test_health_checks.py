"""Active health checks against real upstream instances: an unhealthy instance is skipped,
/_gw/ready says so, and it gets traffic again once it answers 2xx."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gw.settings.config import ConfigError, build_config
from tests.conftest import TEST_SPECS, GatewayThread, eventually, free_port
from tests.upstream import UpstreamServer

ECHO = str(TEST_SPECS / "echo.yaml")


def checked(start: Callable[..., GatewayThread], urls: list[str], mode: str = "live") -> GatewayThread:
    service = {"spec": ECHO, "mode": mode, "upstream": urls, "retries": 0, "circuit_breaker": {"failures": 0},
               "health_check": {"path": "/healthz", "interval": 0.1, "timeout": 0.5}}
    return start({"echo": service})


def ready(gateway: GatewayThread) -> httpx.Response:
    return httpx.get(f"{gateway.url}/_gw/ready", timeout=5)


def health(gateway: GatewayThread, url: str) -> str:
    return ready(gateway).json()["services"]["echo"]["instances"][url]["health"]


def answered_by(client: httpx.Client, count: int) -> list[Any]:
    return [client.get("/echo/items/1").headers.get("x-upstream") for _ in range(count)]


def test_probes_go_to_the_health_path_of_every_instance(start_gateway, make_upstream) -> None:
    one, two = make_upstream("one"), make_upstream("two")
    gateway = checked(start_gateway, [one.url, two.url])
    eventually(lambda: health(gateway, one.url) == health(gateway, two.url) == "healthy")
    assert one.stats()["paths"]["/healthz"] >= 1 and two.stats()["paths"]["/healthz"] >= 1


def test_failing_instance_is_skipped_and_ready_reports_it(start_gateway, make_upstream) -> None:
    good, bad = make_upstream("good"), make_upstream("bad")
    gateway = checked(start_gateway, [good.url, bad.url])
    bad.fail(503)
    eventually(lambda: health(gateway, bad.url) == "unhealthy")
    report = ready(gateway)
    with gateway.client() as client:
        names = answered_by(client, 8)
    assert names == ["good"] * 8
    assert bad.stats()["paths"].get("/items/1", 0) == 0
    assert report.status_code == 200  # the other instance still serves
    instance = report.json()["services"]["echo"]["instances"][bad.url]
    assert instance["health_detail"] == "GET /healthz: 503"


def test_ready_is_503_when_no_instance_is_healthy_then_recovers(start_gateway, make_upstream) -> None:
    one, two = make_upstream("one"), make_upstream("two")
    gateway = checked(start_gateway, [one.url, two.url])
    one.fail(500)
    two.fail(503)
    eventually(lambda: ready(gateway).status_code == 503)
    reasons = ready(gateway).json()["reasons"]
    with gateway.client() as client:
        refused = client.get("/echo/items/1")
    assert any(r.startswith("echo: no upstream instance is available") and "health check failing" in r for r in reasons)
    assert refused.status_code == 503
    assert refused.json()["type"] == "/_gw/problems/no-healthy-upstream"
    assert one.stats()["paths"].get("/items/1", 0) == 0 and two.stats()["paths"].get("/items/1", 0) == 0

    one.recover()
    two.recover()
    eventually(lambda: ready(gateway).status_code == 200)  # one healthy instance is enough to be ready...
    eventually(lambda: all(i["health"] == "healthy"  # ...and both come back before traffic is shared again
                           for i in ready(gateway).json()["services"]["echo"]["instances"].values()))
    with gateway.client() as client:
        assert sorted(answered_by(client, 4)) == ["one", "one", "two", "two"]


def test_unreachable_instance_fails_its_health_check(start_gateway, make_upstream) -> None:
    alive = make_upstream("alive")
    dead = f"http://127.0.0.1:{free_port()}"
    gateway = checked(start_gateway, [dead, alive.url])
    eventually(lambda: health(gateway, dead) == "unhealthy")
    with gateway.client() as client:
        assert answered_by(client, 4) == ["alive"] * 4


def test_fallback_mode_answers_from_stubs_when_no_instance_is_healthy(start_gateway, upstream: UpstreamServer) -> None:
    gateway = checked(start_gateway, [upstream.url], mode="fallback")
    upstream.fail(500)
    eventually(lambda: health(gateway, upstream.url) == "unhealthy")
    with gateway.client() as client:
        response = client.get("/echo/flaky/z")
    assert response.status_code == 200
    assert response.headers["x-gw-source"] == "stub-fallback"
    assert response.headers["x-gw-fallback-reason"] == "no-healthy-upstream"


def test_a_zero_interval_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^gateway.yaml: services.s.health_check.interval: must be more than 0$"):
        build_config({"services": {"s": {"spec": "x.yaml", "health_check": {"path": "/h", "interval": 0}}}},
                     "gateway.yaml")
