"""Load balancing over real upstream instances on loopback: round robin and least connections through a gateway,
retries that move on. Each strategy's choice rules (weights, ties, random, skipping) are pinned without a gateway
here (below) and in tests/test_balancer_choice.py."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from gw.forwarder.balancer import LeastConnections, Random, RoundRobin, SmoothWeightedRoundRobin
from gw.forwarder.upstreams import UpstreamPool
from gw.settings.config import build_config
from tests.conftest import TEST_SPECS, GatewayThread, eventually

ECHO = str(TEST_SPECS / "echo.yaml")


def balanced(start: Callable[..., GatewayThread], upstream: list[Any], strategy: str, **settings: Any) -> GatewayThread:
    service = {"spec": ECHO, "mode": "live", "upstream": upstream, "load_balancing": strategy, "backoff": 0.01,
               "circuit_breaker": {"failures": 0}, **settings}
    return start({"echo": service})


def answered_by(client: httpx.Client, count: int, path: str = "/echo/items/1") -> list[str]:
    names = []
    for _ in range(count):
        response = client.get(path)
        assert response.status_code == 200, response.text
        names.append(response.headers["x-upstream"])
    return names


def test_round_robin_takes_each_instance_in_turn(start_gateway, make_upstream) -> None:
    a, b, c = make_upstream("a"), make_upstream("b"), make_upstream("c")
    gateway = balanced(start_gateway, [a.url, b.url, c.url], "round_robin")
    with gateway.client() as client:
        names = answered_by(client, 9)
    assert names[:3] in (["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"])
    assert names == names[:3] * 3


def test_least_connections_prefers_the_idle_instance(start_gateway, make_upstream) -> None:
    one, two = make_upstream("one"), make_upstream("two")
    gateway = balanced(start_gateway, [one.url, two.url], "least_connections")
    slow_answer: dict[str, httpx.Response] = {}

    def slow_request() -> None:
        with gateway.client() as slow_client:
            slow_answer["response"] = slow_client.get("/echo/slow", params={"ms": 3000})

    worker = threading.Thread(target=slow_request)
    worker.start()
    eventually(lambda: one.stats()["in_flight"] + two.stats()["in_flight"] == 1)
    busy, idle = (one, two) if one.stats()["in_flight"] else (two, one)
    with gateway.client() as client:
        names = answered_by(client, 6)
    worker.join()
    assert names == [idle.name] * 6
    assert slow_answer["response"].headers["x-upstream"] == busy.name


def test_retry_goes_to_a_different_instance_than_the_one_that_failed(start_gateway, make_upstream) -> None:
    good, bad = make_upstream("good"), make_upstream("bad")
    bad.fail(503)
    gateway = balanced(start_gateway, [good.url, bad.url], "random", retries=1)
    with gateway.client() as client:
        names = answered_by(client, 30)
    assert names == ["good"] * 30
    assert bad.stats()["requests"] > 0  # random sent first attempts there; each retry went to good
    assert good.stats()["requests"] == 30


def test_post_is_not_retried_on_another_instance(start_gateway, make_upstream) -> None:
    good, bad = make_upstream("good"), make_upstream("bad")
    bad.fail(503)
    gateway = balanced(start_gateway, [bad.url, good.url], "round_robin", retries=2)
    with gateway.client() as client:
        statuses = [client.post("/echo/flaky/p").status_code for _ in range(4)]
    assert sorted(statuses) == [200, 200, 503, 503]
    assert bad.stats()["requests"] == 2 and good.stats()["requests"] == 2


def pool_of(strategy: str, weights: dict[str, int]) -> UpstreamPool:
    config = build_config({"services": {"s": {"spec": "x.yaml", "load_balancing": strategy,
                                              "upstream": [{"url": u, "weight": w} for u, w in weights.items()]}}}, "t")
    return UpstreamPool.for_service(config.services["s"])


def test_each_strategy_name_builds_its_balancer() -> None:
    kinds = {name: type(pool_of(name, {"http://a:1": 1}).balancer) for name in
             ("round_robin", "weighted_round_robin", "least_connections", "random")}
    assert kinds == {"round_robin": RoundRobin, "weighted_round_robin": SmoothWeightedRoundRobin,
                     "least_connections": LeastConnections, "random": Random}


def test_smooth_weighted_round_robin_follows_nginx_order() -> None:
    pool = pool_of("weighted_round_robin", {"http://a:1": 5, "http://b:1": 1, "http://c:1": 1})
    order = [pool.pick().url.host for _ in range(7)]  # type: ignore[union-attr]
    assert order == ["a", "a", "b", "a", "c", "a", "a"]  # nginx's documented sequence for 5:1:1


def test_unusable_instances_are_skipped_and_none_left_gives_none() -> None:
    pool = pool_of("round_robin", {"http://a:1": 1, "http://b:1": 1})
    a, b = pool.instances
    a.healthy = False
    assert {pool.pick() for _ in range(4)} == {b}
    b.healthy = False
    assert pool.pick() is None
    assert pool.unavailable().slug == "no-healthy-upstream"


def test_avoided_instance_is_taken_only_when_nothing_else_is_left() -> None:
    pool = pool_of("random", {"http://a:1": 1, "http://b:1": 1})
    a, b = pool.instances
    assert all(pool.pick((a,)) is b for _ in range(20))
    b.healthy = False
    assert pool.pick((a,)) is a
