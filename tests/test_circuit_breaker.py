"""Circuit breakers per upstream instance, against real upstreams that fail on command, and across
two gateways sharing a real Redis. The transitions' timing rules (window, open time, probes) are pinned on an
injected clock in tests/test_breaker_transitions.py."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from gw.forwarder.breaker import CLOSED, HALF_OPEN, OPEN
from gw.settings.config import ConfigError, build_config
from tests.conftest import TEST_SPECS, GatewayThread, eventually, free_port
from tests.upstream import UpstreamServer

ECHO = str(TEST_SPECS / "echo.yaml")


def guarded(start: Callable[..., GatewayThread], urls: list[str], mode: str = "live", failures: int = 3,
            open_seconds: float = 30, **top: Any) -> GatewayThread:
    breaker = {"failures": failures, "window": 10, "open_seconds": open_seconds, "half_open_requests": 1}
    service = {"spec": ECHO, "mode": mode, "upstream": urls, "retries": 0, "timeout": 0.3, "circuit_breaker": breaker}
    return start({"echo": service}, **top)


def circuit(gateway: GatewayThread, upstream: UpstreamServer) -> dict[str, Any]:
    ready = httpx.get(f"{gateway.url}/_gw/ready", timeout=5).json()
    return ready["services"]["echo"]["instances"][upstream.url]["circuit"]


def statuses(client: httpx.Client, count: int) -> list[int]:
    return [client.get("/echo/items/1").status_code for _ in range(count)]


@pytest.fixture
def good_and_bad(make_upstream) -> tuple[UpstreamServer, UpstreamServer]:
    good, bad = make_upstream("good"), make_upstream("bad")
    bad.fail(500)
    return good, bad


@pytest.fixture
def circuit_log() -> Iterator[list[dict[str, Any]]]:
    """The structured fields of every circuit state change logged while the test runs."""
    changes: list[dict[str, Any]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            fields = getattr(record, "fields", {})
            if fields.get("event") == "circuit":
                changes.append(fields)

    handler = Collect()
    logger = logging.getLogger("gw.upstream")
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    yield changes
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_breaker_opens_after_n_failures_and_the_instance_gets_no_more_traffic(start_gateway, good_and_bad) -> None:
    good, bad = good_and_bad
    gateway = guarded(start_gateway, [good.url, bad.url], failures=3)
    with gateway.client() as client:
        assert sorted(statuses(client, 6)) == [200, 200, 200, 500, 500, 500]
        assert statuses(client, 10) == [200] * 10
        ready = client.get("/_gw/ready")
    assert bad.stats()["requests"] == 3
    assert circuit(gateway, bad)["state"] == "open"
    assert circuit(gateway, good)["state"] == "closed"
    assert ready.status_code == 200  # one instance still takes requests


def test_state_changes_are_logged_with_service_instance_and_transition(start_gateway, good_and_bad,
                                                                       circuit_log) -> None:
    good, bad = good_and_bad
    gateway = guarded(start_gateway, [good.url, bad.url], failures=2, open_seconds=0.3)
    with gateway.client() as client:
        statuses(client, 4)
        bad.recover()
        eventually(lambda: circuit(gateway, bad)["state"] == "half_open")  # reading it turns it half-open when due
        statuses(client, 4)
    transitions = [(c["service"], c["instance"], c["from"], c["to"]) for c in circuit_log]
    assert transitions == [("echo", bad.url, CLOSED, OPEN), ("echo", bad.url, OPEN, HALF_OPEN),
                           ("echo", bad.url, HALF_OPEN, CLOSED)]


def test_timeouts_count_as_failures(start_gateway, upstream) -> None:
    gateway = guarded(start_gateway, [upstream.url], failures=2)
    with gateway.client() as client:
        timed_out = [client.get("/echo/slow", params={"ms": 2000}).status_code for _ in range(2)]
        refused = client.get("/echo/slow", params={"ms": 2000})
    assert timed_out == [504, 504]
    assert refused.status_code == 503
    assert upstream.stats()["paths"]["/slow"] == 2


def test_every_circuit_open_gives_503_problem_at_once(start_gateway, make_upstream) -> None:
    first, second = make_upstream("first"), make_upstream("second")
    first.fail(502)
    second.fail(500)
    gateway = guarded(start_gateway, [first.url, second.url], failures=2)
    with gateway.client() as client:
        assert sorted(statuses(client, 4)) == [500, 500, 502, 502]
        response = client.get("/echo/items/1")
        ready = client.get("/_gw/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/_gw/problems/circuit-open"
    assert problem["service"] == "echo"
    assert "service echo" in problem["detail"] and first.url in problem["detail"]
    assert 1 <= int(response.headers["retry-after"]) <= 30
    assert first.stats()["requests"] + second.stats()["requests"] == 4
    assert ready.status_code == 503
    assert any(r.startswith("echo: no upstream instance is available") and "circuit open" in r
               for r in ready.json()["reasons"])


def test_fallback_mode_answers_from_stubs_when_every_circuit_is_open(start_gateway, upstream) -> None:
    upstream.fail(500)
    gateway = guarded(start_gateway, [upstream.url], mode="fallback", failures=2)
    with gateway.client() as client:
        before = [client.get("/echo/flaky/x") for _ in range(2)]
        response = client.get("/echo/flaky/x")
    assert [r.headers["x-gw-fallback-reason"] for r in before] == ["upstream-500", "upstream-500"]
    assert response.status_code == 200
    assert response.json() == {"from": "example"}
    assert response.headers["x-gw-source"] == "stub-fallback"
    assert response.headers["x-gw-fallback-reason"] == "circuit-open"
    assert upstream.stats()["requests"] == 2


def test_failures_zero_turns_the_breaker_off(start_gateway, upstream) -> None:
    upstream.fail(500)
    gateway = guarded(start_gateway, [upstream.url], failures=0)
    with gateway.client() as client:
        assert statuses(client, 8) == [500] * 8


# --- shared through Redis --------------------------------------------------------------------------

def test_failures_seen_by_one_gateway_open_the_circuit_for_another(start_gateway, good_and_bad, redis_server) -> None:
    good, bad = good_and_bad
    first = guarded(start_gateway, [good.url, bad.url], failures=3, redis_url=redis_server.url)
    second = guarded(start_gateway, [good.url, bad.url], failures=3, redis_url=redis_server.url)
    with first.client() as client:
        statuses(client, 6)
    assert circuit(first, bad)["state"] == "open"
    eventually(lambda: circuit(second, bad)["state"] == "open")  # no request went through the second one
    assert circuit(second, bad)["opened_by"] == "shared"
    with second.client() as client:
        assert statuses(client, 10) == [200] * 10
    assert bad.stats()["requests"] == 3


def test_failures_through_two_gateways_add_up(start_gateway, good_and_bad, redis_server) -> None:
    good, bad = good_and_bad
    first = guarded(start_gateway, [good.url, bad.url], failures=3, redis_url=redis_server.url)
    second = guarded(start_gateway, [good.url, bad.url], failures=3, redis_url=redis_server.url)
    with first.client() as client:
        statuses(client, 4)  # two failures here
    with second.client() as client:
        statuses(client, 2)  # the third there
    assert bad.stats()["requests"] == 3
    eventually(lambda: circuit(first, bad)["state"] == "open" and circuit(second, bad)["state"] == "open")
    for gateway in (first, second):
        with gateway.client() as client:
            assert statuses(client, 4) == [200] * 4
    assert bad.stats()["requests"] == 3


def test_breakers_keep_working_locally_when_redis_is_down(start_gateway, good_and_bad) -> None:
    good, bad = good_and_bad
    gateway = guarded(start_gateway, [good.url, bad.url], failures=3, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with gateway.client() as client:
        assert sorted(statuses(client, 6)) == [200, 200, 200, 500, 500, 500]
        assert statuses(client, 6) == [200] * 6
    assert circuit(gateway, bad)["state"] == "open"
    assert bad.stats()["requests"] == 3


# --- settings ------------------------------------------------------------------------------------

def test_a_zero_window_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^gateway.yaml: services.s.circuit_breaker.window: must be more than 0"):
        build_config({"services": {"s": {"spec": "x.yaml", "circuit_breaker": {"failures": 3, "window": 0}}}},
                     "gateway.yaml")
