"""Runtime modes: switched in place (what mode dispatch reads), kept across reloads, shared through Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from gw.core.events import Channel
from gw.operator.events import EventBus
from gw.runtime.modes import ModeError, Modes
from gw.runtime.shared_state import SharedState
from gw.settings.config import ServiceConfig
from tests.conftest import SPECS, GatewayThread, eventually

USERS = str(SPECS / "users.yaml")


def modes_for(**services: ServiceConfig) -> tuple[Modes, EventBus]:
    channel = Channel()
    return Modes(dict(services), SharedState(), channel), EventBus(channel)


def test_switching_changes_what_mode_dispatch_reads_and_publishes_a_mode_event() -> None:
    users = ServiceConfig(name="users", operations={"getUser": {"mode": "spy", "roles": ["reader"]}})
    modes, events = modes_for(users=users)
    feed = events.subscribe()

    async def run() -> None:
        await modes.set_service("users", "live")
        await modes.set_operation("users", "GET /me", "record")
        await modes.clear_operation("users", "getUser")

    asyncio.run(run())
    now = modes.now["users"]  # what mode dispatch reads (settings are frozen: the modes now live in runtime/modes.py)
    assert now.mode_for("listUsers") == "live"
    assert now.mode_for("GET /me") == "record"
    assert now.mode_for("getUser") == "live"  # the file's override cleared: it follows its service
    assert users.roles_for("getUser") == ["reader"]  # other per-operation settings untouched
    got = [feed._queue.get_nowait() for _ in range(feed._queue.qsize())]
    assert got == [{"type": "mode", "service": "users", "operation": None, "mode": "live"},
                   {"type": "mode", "service": "users", "operation": "GET /me", "mode": "record"},
                   {"type": "mode", "service": "users", "operation": "getUser", "mode": "live"}]


def test_an_unknown_service_or_mode_is_refused() -> None:
    modes, _ = modes_for(users=ServiceConfig(name="users"))
    for call, status in ((modes.set_service("nope", "live"), 404), (modes.set_service("users", "turbo"), 400)):
        try:
            asyncio.run(call)
        except ModeError as exc:
            assert exc.status == status
        else:
            raise AssertionError("accepted")


def test_a_switched_mode_survives_a_spec_reload(start_gateway: Callable[..., GatewayThread]) -> None:
    gateway = start_gateway({"users": {"spec": USERS}}, reload=False)
    with gateway.client() as client:
        client.put("/_gw/api/services/users/operations/getUser/mode", json={"mode": "fallback"})
        client.put("/_gw/api/services/users/mode", json={"mode": "spy"})
        gateway.app.reloader.reload_specs()
        services = client.get("/_gw/api/services/users").json()
    assert services["mode"] == "spy"
    assert next(op for op in services["operations"] if op["key"] == "getUser")["mode"] == "fallback"


def mode_at(gateway: GatewayThread, operation: str | None = None) -> str:
    service = httpx.get(f"{gateway.url}/_gw/api/services/users", timeout=5).json()
    if operation is None:
        return service["mode"]
    return next(op["mode"] for op in service["operations"] if op["key"] == operation)


def test_gateways_sharing_redis_follow_a_switch_made_on_one(start_gateway, redis_server, make_upstream) -> None:
    upstream = make_upstream("real")
    settings = {"users": {"spec": USERS, "upstream": [upstream.url]}}
    one = start_gateway(settings, redis_url=redis_server.url, reload=False)
    two = start_gateway(settings, redis_url=redis_server.url, reload=False)
    feed = two.app.events.subscribe()
    with httpx.Client(base_url=two.url, timeout=5) as client:
        assert client.get("/users/users/1").headers["x-gw-source"] == "example"
        httpx.put(f"{one.url}/_gw/api/services/users/mode", json={"mode": "live"}, timeout=5).raise_for_status()
        started = time.monotonic()
        eventually(lambda: mode_at(two) == "live")
        took = time.monotonic() - started
        assert client.get("/users/users/1").headers["x-gw-source"] == "live"
    assert took < 2.0
    assert {"type": "mode", "service": "users", "operation": None, "mode": "live"} in [
        feed._queue.get_nowait() for _ in range(feed._queue.qsize())]

    httpx.put(f"{two.url}/_gw/api/services/users/operations/GET%20%2Fme/mode", json={"mode": "spy"},
              timeout=5).raise_for_status()
    eventually(lambda: mode_at(one, "GET /me") == "spy")
    late = start_gateway(settings, redis_url=redis_server.url, reload=False)  # started after the switches
    eventually(lambda: mode_at(late) == "live" and mode_at(late, "GET /me") == "spy")
