"""An operator's change through the admin API (stubs, modes, the journal, scenarios, simulated resources) waits
out one slow moment of a real redis-server, where a request's bookkeeping (rate limits, counters) still gives up
at once: CLIENT PAUSE stalls every Redis client for longer than the request path waits, and shorter than an
operator's change does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from gw.runtime.shared_state import Patience, RedisState, StateUnavailable
from tests.conftest import SPECS, GatewayThread, RedisServer, gateway_config

STALL_MS = 1500  # longer than the request path waits (1 s), shorter than an operator's change does (2 s a try)
ADA = {"id": 7, "username": "ada", "email": "ada@example.com", "role": "admin", "created_at": "2024-01-01T00:00:00Z"}
ADMIN = {"X-GW-Admin": "1"}


def stall(server: RedisServer, millis: int = STALL_MS) -> None:
    """Every client of the server waits `millis` for its next answer (the pause holds once this returns)."""
    with redis.Redis.from_url(server.url) as pauser:
        pauser.execute_command("CLIENT", "PAUSE", millis, "ALL")


@pytest.fixture
def two_gateways(redis_server: RedisServer, tmp_path: Any) -> Iterator[tuple[GatewayThread, GatewayThread]]:
    def start() -> GatewayThread:
        services = {"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/users"}}
        return GatewayThread(gateway_config(services, stubs=str(tmp_path), redis_url=redis_server.url, reload=False))

    with start() as one, start() as two:
        yield one, two


def test_a_stub_created_while_redis_stalls_lands_in_every_gateway(redis_server: RedisServer,
                                                                  two_gateways: tuple[GatewayThread, GatewayThread]) -> None:
    one, two = two_gateways
    stub = {"service": "users", "request": {"method": "GET", "path": "/users/7"},
            "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": ADA}}
    with one.client(headers=ADMIN) as first, two.client(headers=ADMIN) as second:
        stall(redis_server)
        created = first.post("/_gw/api/stubs", json=stub)
        assert created.status_code == 201, created.text
        assert second.get("/users/users/7").headers["x-gw-source"] == "recorded"  # applied by both before the 201
        stall(redis_server)
        assert first.delete(created.headers["location"]).status_code == 204
        assert second.get("/users/users/7").headers["x-gw-source"] != "recorded"


def test_a_mode_switch_and_a_journal_count_while_redis_stalls_are_answered(
        redis_server: RedisServer, two_gateways: tuple[GatewayThread, GatewayThread]) -> None:
    one, two = two_gateways
    with one.client(headers=ADMIN) as first, two.client(headers=ADMIN) as second:
        second.get("/users/users/7")
        stall(redis_server)
        switched = first.put("/_gw/api/services/users/mode", json={"mode": "live"})
        assert switched.status_code == 200, switched.text
        stall(redis_server)
        counted = first.post("/_gw/api/requests/count", json={"service": "users", "request": {"method": "GET",
                                                                                              "path": "/users/7"}})
        assert counted.status_code == 200, counted.text
        assert counted.json() == {"count": 1}  # the other gateway's request: every process answered


def test_the_request_path_gives_up_on_a_stall_and_fails_fast_after_while_the_patient_path_waits_it_out(
        redis_server: RedisServer) -> None:
    async def run() -> None:
        state = RedisState(redis_server.url)
        patient = state.patient()
        try:
            await state.set("k", "before")
            await patient.get("k")  # both connected before the stall
            stall(redis_server)
            with pytest.raises(StateUnavailable, match="Timeout"):
                await state.get("k")  # a request's bookkeeping gives up on the stalled Redis
            with pytest.raises(StateUnavailable, match="unreachable"):
                await state.get("k")  # and is refused at once for a while: not asked again
            await patient.set("k", "after")  # an operator's change waits the stall out, not refused by that
            assert await patient.get("k") == "after"
            assert state.patient() is patient and patient.patient() is patient  # one patient store, made once
        finally:
            await state.close()

    asyncio.run(run())


def test_a_call_that_may_be_repeated_is_sent_once_more_after_a_timeout_one_that_may_not_is_refused(
        redis_server: RedisServer) -> None:
    """A stall longer than one patient attempt (a shorter patience than OPERATOR's, the same rules): the read is
    sent again and answered; the increment is refused, never sent twice (an INCR sent twice counts twice)."""
    patience = Patience(socket=1.0, bound=1.5, fast_fail=False, retries=1)

    async def run() -> None:
        state = RedisState(redis_server.url, patience)
        try:
            await state.set("n", "0")
            stall(redis_server, 2500)  # Redis ends a pause on its next tick (hz 10): up to 0.1 s late
            with pytest.raises(StateUnavailable, match="Timeout"):
                await state.incr("n", ttl=60)  # timed out after 1 s, not sent again
            assert await state.get("n") in {"0", "1"}  # its first attempt timed out at 2 s: answered by the second
            assert await state.get("n") in {"0", "1"}  # the increment counted at most once
        finally:
            await state.close()

    asyncio.run(run())


def test_simulated_resources_dumped_and_reset_while_redis_stalls(redis_server: RedisServer, tmp_path: Any) -> None:
    services = {"orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders", "state": True}}
    config = gateway_config(services, stubs=str(tmp_path), redis_url=redis_server.url, reload=False)
    with GatewayThread(config) as gateway, gateway.client(headers=ADMIN) as http:
        assert http.get("/orders/orders", headers={"X-GW-Session": "ci-1"}).status_code == 200  # the session is seeded
        stall(redis_server)
        dumped = http.get("/_gw/api/services/orders/state")
        assert dumped.status_code == 200, dumped.text
        assert "ci-1" in dumped.json()["sessions"]
        stall(redis_server)
        reset = http.delete("/_gw/api/services/orders/state", params={"session": "ci-1"})
        assert reset.status_code == 200, reset.text
        assert reset.json()["reset"] == ["ci-1"]


def test_a_scenario_set_listed_and_reset_while_redis_stalls(redis_server: RedisServer, tmp_path: Any) -> None:
    folder = tmp_path / "users"
    folder.mkdir()
    for name, state, after in (("1-new.yaml", "Started", "known"), ("2-known.yaml", "known", None)):
        stub = {"scenario": "signup", "state": state, **({"next_state": after} if after else {}),
                "request": {"method": "GET", "path": "/users/7"},
                "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": ADA}}
        (folder / name).write_text(json.dumps(stub))
    services = {"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/users"}}
    config = gateway_config(services, stubs=str(tmp_path), redis_url=redis_server.url, reload=False)
    with GatewayThread(config) as gateway, gateway.client(headers=ADMIN) as http:
        stall(redis_server)
        changed = http.put("/_gw/api/scenarios/signup", json={"state": "known", "session": "ci-1"})
        assert changed.status_code == 200, changed.text
        stall(redis_server)
        listed = http.get("/_gw/api/scenarios")
        assert listed.status_code == 200, listed.text
        assert listed.json()["scenarios"][0]["sessions"]["ci-1"] == "known"
        stall(redis_server)
        assert http.delete("/_gw/api/scenarios").status_code == 204
