"""The circuit breaker's transitions on an injected clock: no upstream, no gateway, no sleep.

The end-to-end tests (tests/test_circuit_breaker.py) keep one walk through a running gateway per behaviour
that needs one (opening, timeouts, the 503 problem, fallback, Redis); the timing rules are pinned here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from yarl import URL

from gw.core.events import CIRCUIT_CHANGES, Channel
from gw.forwarder.breaker import CLOSED, HALF_OPEN, OPEN, Breaker
from gw.forwarder.instances import Instance
from gw.forwarder.upstreams import UpstreamPool
from gw.settings.policy_settings import CircuitBreakerSettings
from tests.conftest import log_records


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def breaker(clock: Clock, url: str = "http://a:1", **settings: float) -> Breaker:
    values = {"failures": 3, "window": 10, "open_seconds": 5, "half_open_requests": 1, **settings}
    return Breaker("s", url, CircuitBreakerSettings(**values), clock=clock)  # type: ignore[arg-type]


def send(pool: UpstreamPool, failing: set[str]) -> str | None:
    """One request as the proxy makes it: pick, take a probe slot if half-open, report the outcome."""
    instance = pool.pick()
    if instance is None:
        return None
    probe = instance.breaker.acquire()
    if instance.text in failing:
        instance.breaker.failed(probe)
    else:
        instance.breaker.succeeded(probe)
    return instance.url.host


def good_and_bad(clock: Clock) -> tuple[UpstreamPool, Instance, Instance]:
    good = Instance(URL("http://good:1"), breaker=breaker(clock, "http://good:1"))
    bad = Instance(URL("http://bad:1"), breaker=breaker(clock, "http://bad:1"))
    return UpstreamPool("s", [good, bad]), good, bad


def test_the_circuit_opens_at_the_nth_failure_within_the_window(clock: Clock) -> None:
    circuit = breaker(clock, failures=3)
    circuit.failed(probe=False)
    circuit.failed(probe=False)
    assert circuit.state == CLOSED and circuit.admits()
    circuit.failed(probe=False)
    assert circuit.state == OPEN and circuit.opened_by == "failures"
    assert not circuit.admits()


def test_failures_outside_the_window_do_not_add_up(clock: Clock) -> None:
    circuit = breaker(clock, failures=2, window=1)
    circuit.failed(probe=False)
    clock.now += 1.0  # the first failure is exactly one window old: it no longer counts
    circuit.failed(probe=False)
    assert circuit.state == CLOSED
    clock.now += 0.99
    circuit.failed(probe=False)
    assert circuit.state == OPEN


def test_an_open_circuit_turns_half_open_exactly_when_its_time_is_up(clock: Clock) -> None:
    circuit = breaker(clock, failures=1, open_seconds=5)
    circuit.failed(probe=False)  # at 1000.0: open until 1005.0
    clock.now = 1004.999
    assert not circuit.admits() and circuit.state == OPEN
    assert circuit.snapshot() == {"state": OPEN, "recent_failures": 0, "half_open_in_s": 0.001, "opened_by": "failures"}
    assert circuit.seconds_left() == pytest.approx(0.001)
    clock.now = 1005.0
    assert circuit.admits() and circuit.state == HALF_OPEN
    assert circuit.seconds_left() == 0.0


def test_a_successful_probe_closes_the_circuit_and_the_instance_gets_its_share_again(clock: Clock) -> None:
    pool, _good, bad = good_and_bad(clock)
    assert sorted(send(pool, {bad.text}) for _ in range(6)) == ["bad"] * 3 + ["good"] * 3
    assert bad.breaker.state == OPEN
    assert [send(pool, {bad.text}) for _ in range(4)] == ["good"] * 4  # skipped while open
    clock.now += 5
    assert [send(pool, set()) for _ in range(6)].count("bad") == 3  # the probe, then round robin again
    assert bad.breaker.state == CLOSED


def test_a_failed_probe_opens_the_circuit_again_and_only_one_probe_goes(clock: Clock) -> None:
    pool, _good, bad = good_and_bad(clock)
    for _ in range(6):
        send(pool, {bad.text})
    clock.now += 5
    assert sorted(send(pool, {bad.text}) for _ in range(6)) == ["bad"] + ["good"] * 5
    assert bad.breaker.state == OPEN and bad.breaker.opened_by == "probe"
    assert bad.breaker.seconds_left() == 5  # a whole open time again, from the failed probe


def test_half_open_lets_only_the_configured_number_of_probes_through(clock: Clock) -> None:
    circuit = breaker(clock, failures=1, open_seconds=5, half_open_requests=2)
    circuit.failed(probe=False)
    assert circuit.state == OPEN and not circuit.admits()
    clock.now += 5
    probes = []
    while circuit.admits():
        probes.append(circuit.acquire())
    assert probes == [True, True]
    circuit.succeeded(probe=True)
    assert circuit.state == CLOSED and circuit.admits()


def test_a_probe_that_never_finished_frees_its_slot(clock: Clock) -> None:
    circuit = breaker(clock, failures=1, open_seconds=5)
    circuit.failed(probe=False)
    clock.now += 5
    assert circuit.admits() and circuit.acquire()
    assert not circuit.admits()
    circuit.abandoned(probe=True)
    assert circuit.admits()


def test_an_instance_waiting_on_its_probe_reads_as_circuit_open(clock: Clock) -> None:
    circuit = breaker(clock, failures=1, open_seconds=5)
    pool = UpstreamPool("s", [Instance(URL("http://a:1"), breaker=circuit)])
    circuit.failed(probe=False)
    assert pool.pick() is None
    assert pool.unavailable().headers["Retry-After"] == "5"
    clock.now += 5
    instance = pool.pick()
    assert instance is not None and instance.breaker.acquire()
    assert pool.pick() is None
    assert pool.unavailable().slug == "circuit-open"


def test_failures_zero_never_opens(clock: Clock) -> None:
    circuit = breaker(clock, failures=0)
    for _ in range(50):
        circuit.failed(probe=False)
    assert circuit.state == CLOSED and not circuit.enabled


def test_another_process_verdict_opens_for_its_own_time_and_an_operator_reset_closes(clock: Clock) -> None:
    circuit = breaker(clock, failures=3, open_seconds=30)
    circuit.trip("shared", seconds=2.5)
    assert circuit.state == OPEN and circuit.opened_by == "shared" and circuit.seconds_left() == 2.5
    circuit.reset()
    assert circuit.state == CLOSED and circuit.admits() and circuit.snapshot() == {"state": CLOSED, "recent_failures": 0}


@pytest.fixture
def circuit_log() -> Iterator[list[logging.LogRecord]]:
    with log_records("gw.upstream", logging.INFO) as records:
        yield records


def test_every_transition_is_told_to_listeners_and_logged_once(clock: Clock, circuit_log: list[logging.LogRecord]) -> None:
    events = Channel()
    circuit = Breaker("s", "http://a:1", CircuitBreakerSettings(failures=2, window=10, open_seconds=1, half_open_requests=1),
                      clock=clock, events=events)
    told: list[tuple[str, str]] = []
    events.subscribe(CIRCUIT_CHANGES, lambda e: told.append((e.before, e.after)))
    circuit.failed(probe=False)
    circuit.failed(probe=False)
    circuit.failed(probe=False)  # already open: no second change
    clock.now += 1
    assert circuit.admits()
    circuit.failed(circuit.acquire())
    clock.now += 1
    circuit.admits()
    circuit.succeeded(circuit.acquire())
    moves = [(OPEN, "failures"), (HALF_OPEN, ""), (OPEN, "probe"), (HALF_OPEN, ""), (CLOSED, "")]
    assert told == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
    fields = [r.fields for r in circuit_log]  # type: ignore[attr-defined]
    assert [(f["to"], f["reason"]) for f in fields] == moves
    assert all(f["service"] == "s" and f["instance"] == "http://a:1" for f in fields)
    assert [r.levelno for r in circuit_log] == [logging.WARNING, logging.INFO, logging.WARNING, logging.INFO, logging.INFO]
