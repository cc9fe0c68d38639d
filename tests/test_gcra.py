"""Rate limiting's arithmetic (GCRA) and the in-process store's clock, on an injected clock: no gateway, no sleep.

tests/test_rate_limit.py keeps the end-to-end walks (exact at N through a gateway, keys, levels, Redis shared by
two gateways, Redis going away); the timing rules (recovery, burst, smoothness) are pinned here.
"""

from __future__ import annotations

import asyncio

import pytest

from gw.policies.rate_limit import rate_limit_headers
from gw.runtime.shared_state import Allowance, SharedState, gcra


class Clock:
    start = 1_700_000_000.0  # epoch seconds, like time.time(); tests set `now` from it (no float drift from +=)

    def __init__(self) -> None:
        self.now = self.start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def takes(state: SharedState, count: int, key: str = "k", limit: int = 2, window: float = 1.0,
          burst: int = 0) -> list[bool]:
    async def run() -> list[bool]:
        return [(await state.take(key, limit, window, burst)).allowed for _ in range(count)]

    return asyncio.run(run())


def test_n_requests_pass_with_the_remaining_count_going_down_then_one_is_refused() -> None:
    tat, decisions = None, []
    for _ in range(4):
        allowance, new_tat = gcra(tat, 100.0, 3, 60, 0)
        decisions.append(allowance)
        tat = new_tat if new_tat is not None else tat
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.limit == 3 for d in decisions)
    refused = decisions[-1]
    assert refused.retry_after == pytest.approx(20)  # one request's share of the window: 60 s / 3
    assert refused.reset == pytest.approx(60)  # the whole quota is back a window after the first request
    assert rate_limit_headers(refused) == {"RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "60"}


def test_a_refusal_changes_nothing() -> None:
    allowance, tat = gcra(None, 0.0, 1, 10, 0)
    assert allowance.allowed and tat == 10
    refused, unchanged = gcra(tat, 5.0, 1, 10, 0)
    assert not refused.allowed and unchanged is None
    assert refused.retry_after == pytest.approx(5)


def test_the_window_recovers(clock: Clock) -> None:
    state = SharedState(clock=clock)
    assert takes(state, 3) == [True, True, False]
    clock.now = clock.start + 1.0
    assert takes(state, 3) == [True, True, False]


def test_the_quota_comes_back_smoothly_one_interval_at_a_time(clock: Clock) -> None:
    state = SharedState(clock=clock)
    assert takes(state, 5, limit=4, window=4) == [True] * 4 + [False]
    clock.now = clock.start + 0.999
    assert takes(state, 1, limit=4, window=4) == [False]
    clock.now = clock.start + 1.0
    assert takes(state, 2, limit=4, window=4) == [True, False]  # one interval (window / limit): one request


def test_burst_adds_to_the_limit(clock: Clock) -> None:
    state = SharedState(clock=clock)
    assert takes(state, 5, limit=2, burst=2, window=60) == [True] * 4 + [False]
    allowance, _ = gcra(None, 0.0, 2, 60, 2)
    assert allowance.limit == 4 and allowance.remaining == 3


def test_each_key_has_its_own_count(clock: Clock) -> None:
    state = SharedState(clock=clock)
    assert takes(state, 3, key="a") == [True, True, False]
    assert takes(state, 3, key="b") == [True, True, False]


def test_headers_round_the_reset_up_and_never_below_zero() -> None:
    assert rate_limit_headers(Allowance(True, 5, 4, 0.2, 0.0))["RateLimit-Reset"] == "1"
    assert rate_limit_headers(Allowance(True, 5, 4, -0.5, 0.0))["RateLimit-Reset"] == "0"


def test_counters_and_values_expire_on_the_stores_clock(clock: Clock) -> None:
    state = SharedState(clock=clock)

    async def run() -> tuple[list[int], str | None, str | None]:
        counts = [await state.incr("c", ttl=10)]
        clock.now = clock.start + 9.9
        counts.append(await state.incr("c", ttl=10))  # the window starts at the first increment
        clock.now = clock.start + 10
        counts.append(await state.incr("c", ttl=10))
        await state.set("v", "x", ttl=2)
        clock.now = clock.start + 11.9
        before = await state.get("v")
        clock.now = clock.start + 12
        return counts, before, await state.get("v")

    assert asyncio.run(run()) == ([1, 2, 1], "x", None)
