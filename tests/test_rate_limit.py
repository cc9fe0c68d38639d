"""Rate limits against the real gateway: exact at N, per key, per level, and shared in real Redis.
Recovery, burst and smoothness (GCRA's timing) are pinned on an injected clock in tests/test_gcra.py."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from gw.core.exchange import Exchange, Identity
from gw.core.port_check import free_port
from gw.policies.rate_limit import RateLimitLevels, client_key, limit_for
from tests.conftest import SPECS, GatewayThread, RedisServer, gateway_config, log_records

USERS_SPEC = str(SPECS / "users.yaml")
KEYED = {"key": "header:X-API-Key"}


def users(**settings: object) -> dict[str, dict[str, object]]:
    return {"users": {"spec": USERS_SPEC, **settings}}


def get_user(client: httpx.Client, key: str = "k1", path: str = "/users/users/1") -> httpx.Response:
    return client.get(path, headers={"X-API-Key": key})


def rate_headers(response: httpx.Response) -> tuple[str, str, str]:
    return (response.headers["ratelimit-limit"], response.headers["ratelimit-remaining"],
            response.headers["ratelimit-reset"])


@pytest.fixture
def rate_limit_log() -> Iterator[list[logging.LogRecord]]:
    """The gateway's rate-limit warnings (its `gw` logger may not propagate to pytest's capture)."""
    with log_records("gw.rate_limit", at_least=logging.WARNING) as records:
        yield records


def test_limit_is_reached_exactly_at_n(start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(users(), rate_limit={"limit": 3, "window": "60s", **KEYED}).client() as client:
        passed = [get_user(client) for _ in range(3)]
        refused = get_user(client)
    assert [r.status_code for r in passed] == [200, 200, 200]
    assert [r.headers["ratelimit-remaining"] for r in passed] == ["2", "1", "0"]
    assert all(r.headers["ratelimit-limit"] == "3" for r in passed)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/_gw/problems/rate-limited"
    limit, remaining, reset = rate_headers(refused)
    assert (limit, remaining) == ("3", "0")
    assert 1 <= int(reset) <= 60
    assert 1 <= int(refused.headers["retry-after"]) <= 20  # one request's share of the window: 60s / 3


def test_each_key_has_its_own_count_and_a_missing_header_counts_by_address(
        start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(users(), rate_limit={"limit": 1, "window": "60s", **KEYED}).client() as client:
        first_a, second_a = get_user(client, "alice"), get_user(client, "alice")
        first_b = get_user(client, "bob")
        no_key = [client.get("/users/users/1").status_code for _ in range(2)]
    assert (first_a.status_code, second_a.status_code, first_b.status_code) == (200, 429, 200)
    assert no_key == [200, 429]


def test_operation_limit_overrides_the_service_limit_with_its_own_counter(
        start_gateway: Callable[..., GatewayThread]) -> None:
    service = users(rate_limit={"limit": 2, "window": "60s", **KEYED},
                    operations={"getUser": {"rate_limit": {"limit": 1, "window": "60s", **KEYED}}})
    with start_gateway(service).client() as client:
        get_statuses = [get_user(client).status_code for _ in range(2)]
        list_statuses = [get_user(client, path="/users/users").status_code for _ in range(3)]
    assert get_statuses == [200, 429]
    assert list_statuses == [200, 200, 429]  # getUser's requests did not use the service's count


def test_a_service_can_turn_the_gateway_limit_off(start_gateway: Callable[..., GatewayThread]) -> None:
    services = {**users(rate_limit={"limit": 0}), "orders": {"spec": str(SPECS / "orders.yaml")}}
    with start_gateway(services, rate_limit={"limit": 1, "window": "60s", **KEYED}).client() as client:
        user_statuses = [get_user(client).status_code for _ in range(3)]
        order_statuses = [client.get("/orders/orders", headers={"X-API-Key": "k1"}).status_code for _ in range(2)]
        unlimited = get_user(client)
    assert user_statuses == [200, 200, 200]
    assert order_statuses == [200, 429]
    assert "ratelimit-limit" not in unlimited.headers


def test_problem_answers_are_counted_and_carry_the_headers(start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(users(), rate_limit={"limit": 2, "window": "60s", **KEYED}).client() as client:
        invalid = client.get("/users/users?limit=1000", headers={"X-API-Key": "k1"})
        refused = client.get("/users/users/1", headers={"X-API-Key": "k1", "Origin": "http://localhost:3000"})
        refused_again = client.get("/users/users/1", headers={"X-API-Key": "k1"})
    assert invalid.status_code == 400
    assert rate_headers(invalid)[:2] == ("2", "1")
    assert refused.status_code == 200
    assert refused_again.status_code == 429
    assert refused.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_limit_is_shared_exactly_by_two_gateways_on_one_redis(start_gateway: Callable[..., GatewayThread],
                                                              redis_server: RedisServer) -> None:
    settings = {"limit": 4, "window": "60s", **KEYED}
    one = start_gateway(users(), rate_limit=settings, redis_url=redis_server.url)
    two = start_gateway(users(), rate_limit=settings, redis_url=redis_server.url)
    with one.client() as first, two.client() as second:
        statuses = [get_user(client).status_code for client in (first, second) * 4]
        other_key = get_user(second, "k2")
    assert statuses == [200] * 4 + [429] * 4
    assert other_key.status_code == 200


def test_redis_going_away_fails_open_with_one_warning(start_gateway: Callable[..., GatewayThread],
                                                      redis_server: RedisServer,
                                                      rate_limit_log: list[logging.LogRecord]) -> None:
    gateway = start_gateway(users(), rate_limit={"limit": 3, "window": "60s", **KEYED}, redis_url=redis_server.url)
    with gateway.client() as client:
        before = [get_user(client).status_code for _ in range(4)]
        redis_server.stop()
        after = []
        for _ in range(12):  # over more than one second, so Redis is asked again, and fails again
            after.append(get_user(client))
            time.sleep(0.1)
    assert before == [200, 200, 200, 429]
    assert [r.status_code for r in after] == [200] * 12
    assert "ratelimit-limit" not in after[0].headers  # nothing was counted: no numbers to give
    warnings = [r.getMessage() for r in rate_limit_log]
    assert len(warnings) == 1
    assert warnings[0].startswith("rate limits not enforced, letting requests through")


@pytest.mark.timeout(30)
def test_fail_closed_refuses_with_503_when_redis_is_unreachable(start_gateway: Callable[..., GatewayThread]) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    gateway = start_gateway(users(), rate_limit={"limit": 3, "fail_closed": True}, redis_url=nowhere)
    with gateway.client() as client:
        responses = [get_user(client) for _ in range(3)]
    assert [r.status_code for r in responses] == [503, 503, 503]
    assert responses[0].headers["content-type"] == "application/problem+json"
    assert responses[0].json()["type"] == "/_gw/problems/rate-limit-unavailable"
    assert responses[0].headers["retry-after"] == "1"


def test_user_key_counts_the_verified_caller_and_anonymous_callers_by_address() -> None:
    config = gateway_config(users(), rate_limit={"limit": 1, "key": "user"})
    limit = limit_for(RateLimitLevels.of(config), "users", "getUser")
    assert limit is not None and limit.scope == "gateway"
    scope = {"type": "http", "method": "GET", "path": "/users/users/1", "headers": [], "client": ("10.0.0.9", 5)}
    known, anonymous = Exchange(dict(scope), _no_body), Exchange(dict(scope), _no_body)
    known.identity = Identity("alice", frozenset({"admin"}))
    assert client_key(limit, known) == "user:alice"
    assert client_key(limit, anonymous) == "ip:10.0.0.9"


async def _no_body() -> dict[str, object]:
    return {"type": "http.request", "body": b""}
