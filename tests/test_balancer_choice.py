"""Each load-balancing strategy's choice, as a function of the instances' state: no upstream, no gateway.

tests/test_load_balancing.py keeps round robin, least connections (in-flight counting by the proxy) and retries
through a running gateway; weights, ties, random draws and skipping are pinned here.
"""

from __future__ import annotations

import collections
import random

from yarl import URL

from gw.forwarder.balancer import LeastConnections, Random, RoundRobin, SmoothWeightedRoundRobin
from gw.forwarder.instances import Instance


def instances(*names: str, weights: dict[str, int] | None = None) -> list[Instance]:
    return [Instance(URL(f"http://{name}:1"), (weights or {}).get(name, 1)) for name in names]


def names(chosen: list[Instance | None]) -> list[str | None]:
    return [c.url.host if c is not None else None for c in chosen]


def test_round_robin_takes_each_in_turn_and_a_skipped_turn_passes_on() -> None:
    pool = instances("a", "b", "c")
    balancer = RoundRobin()
    assert names([balancer.choose(pool, ()) for _ in range(6)]) == ["a", "b", "c"] * 2
    pool[1].healthy = False
    assert names([balancer.choose(pool, ()) for _ in range(4)]) == ["a", "c", "a", "c"]
    assert names([balancer.choose(pool, (pool[0],)) for _ in range(2)]) == ["c", "c"]


def test_weights_three_to_one_give_three_to_one_smoothly() -> None:
    pool = instances("heavy", "light", weights={"heavy": 3})
    balancer = SmoothWeightedRoundRobin()
    order = names([balancer.choose(pool, ()) for _ in range(40)])
    assert collections.Counter(order) == {"heavy": 30, "light": 10}
    assert "hhhh" not in "".join(n[0] for n in order if n)  # never four heavies in a row
    assert all("light" in order[i:i + 4] for i in range(0, 40, 4))  # one light in every four


def test_weighted_round_robin_leaves_out_an_unusable_instance_and_takes_it_back() -> None:
    pool = instances("a", "b", weights={"a": 2})
    balancer = SmoothWeightedRoundRobin()
    pool[0].healthy = False
    assert names([balancer.choose(pool, ()) for _ in range(3)]) == ["b"] * 3
    pool[0].healthy = True
    assert collections.Counter(names([balancer.choose(pool, ()) for _ in range(30)])) == {"a": 20, "b": 10}


def test_least_connections_takes_the_fewest_in_flight() -> None:
    pool = instances("a", "b", "c")
    pool[0].in_flight, pool[1].in_flight, pool[2].in_flight = 3, 1, 2
    balancer = LeastConnections()
    assert names([balancer.choose(pool, ()) for _ in range(4)]) == ["b"] * 4
    pool[1].healthy = False
    assert names([balancer.choose(pool, ())]) == ["c"]


def test_least_connections_ties_go_round_robin() -> None:
    pool = instances("one", "two")
    balancer = LeastConnections()
    assert names([balancer.choose(pool, ()) for _ in range(6)]) == ["one", "two"] * 3


def test_random_reaches_every_instance_about_equally() -> None:
    pool = instances("a", "b", "c")
    balancer = Random(random.Random(7))
    counts = collections.Counter(names([balancer.choose(pool, ()) for _ in range(3000)]))
    assert set(counts) == {"a", "b", "c"}
    assert all(900 <= count <= 1100 for count in counts.values()), counts


def test_random_draws_again_among_the_usable_when_the_first_draw_is_skipped() -> None:
    pool = instances("a", "b", "c")
    pool[0].healthy = False
    balancer = Random(random.Random(3))
    assert set(names([balancer.choose(pool, (pool[1],)) for _ in range(50)])) == {"c"}
    pool[2].healthy = False
    assert balancer.choose(pool, (pool[1],)) is None


def test_no_instance_gives_none_for_every_strategy() -> None:
    for balancer in (RoundRobin(), SmoothWeightedRoundRobin(), LeastConnections(), Random(random.Random(1))):
        assert balancer.choose([], ()) is None
