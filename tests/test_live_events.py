"""/_gw/ws over a real WebSocket: the hello frame, an event per exchange, mode changes, refusals, slow clients."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from gw.operator.endpoints.live_events import LiveEvents
from gw.operator.events import EventBus
from tests.conftest import SPECS, GatewayThread

SAMPLES = {name: {"spec": str(SPECS / f"{name}.yaml"), "base_path": f"/{name}"} for name in ("users", "orders")}


@pytest.fixture
def gateway(start_gateway: Callable[..., GatewayThread]) -> GatewayThread:
    return start_gateway(SAMPLES, admin={"allow_from": ["127.0.0.1/32"]}, reload=False)


def ws_url(gateway: GatewayThread) -> str:
    return gateway.url.replace("http://", "ws://") + "/_gw/ws"


def next_of_type(socket: ClientConnection, kind: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
    """The next frame of this type (and these field values), skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(socket.recv(timeout=max(0.01, deadline - time.monotonic())))
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


def test_hello_frame_carries_the_services_and_their_modes(gateway: GatewayThread) -> None:
    with connect(ws_url(gateway), open_timeout=10) as socket:
        hello = json.loads(socket.recv(timeout=10))

    assert hello["type"] == "hello"
    modes = {s["name"]: s["mode"] for s in hello["services"]}
    assert modes == {"users": "stub", "orders": "stub"}
    users = next(s for s in hello["services"] if s["name"] == "users")
    assert {"key": "getUser", "method": "GET", "path": "/users/users/{user_id}", "mode": "stub",
            "override": False} in users["operations"]


def test_a_listener_receives_an_event_for_the_request_it_made(gateway: GatewayThread) -> None:
    with connect(ws_url(gateway), open_timeout=10) as socket:
        next_of_type(socket, "hello")
        answer = httpx.get(gateway.url + "/users/users/1", headers={"X-Request-ID": "feed-test-1"}, timeout=10)

        event = next_of_type(socket, "exchange", id="feed-test-1")

    assert answer.status_code == 200
    assert event["method"] == "GET" and event["path"] == "/users/users/1" and event["status"] == 200
    assert event["service"] == "users" and event["operation"] == "getUser"
    assert event["source"] == answer.headers["x-gw-source"] and event["mode"] == "stub"
    assert event["duration_ms"] >= 0 and event["contract"] == []


def test_a_mode_switch_through_the_admin_api_is_announced(gateway: GatewayThread) -> None:
    with connect(ws_url(gateway), open_timeout=10) as socket:
        next_of_type(socket, "hello")
        switched = httpx.put(gateway.url + "/_gw/api/services/orders/mode", json={"mode": "fallback"}, timeout=10)

        event = next_of_type(socket, "mode", service="orders")

    assert switched.status_code == 200
    assert event == {"type": "mode", "service": "orders", "operation": None, "mode": "fallback"}


def test_a_client_outside_allow_from_is_refused_with_403_problem(gateway: GatewayThread) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(gateway), open_timeout=10, source_address=("127.0.0.2", 0))

    response = refused.value.response
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert json.loads(response.body)["type"] == "/_gw/problems/admin-forbidden"


def test_a_page_from_another_site_may_not_listen(gateway: GatewayThread) -> None:
    """Loopback is trusted, so without this any web page the operator opens could read their traffic."""
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(gateway), open_timeout=10, origin="https://evil.example")  # type: ignore[arg-type]

    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body)["type"] == "/_gw/problems/origin-refused"
    host = gateway.url.removeprefix("http://")
    with connect(ws_url(gateway), open_timeout=10, origin=f"http://{host}") as socket:  # type: ignore[arg-type]
        assert json.loads(socket.recv(timeout=10))["type"] == "hello"  # the dashboard's own page may


def test_a_closed_listener_stops_listening(gateway: GatewayThread) -> None:
    bus = gateway.app.events
    with connect(ws_url(gateway), open_timeout=10) as socket:
        next_of_type(socket, "hello")
        assert bus.listeners == 1 and gateway.app.live_events.open == 1
    deadline = time.monotonic() + 5
    while bus.listeners and time.monotonic() < deadline:
        time.sleep(0.02)
    assert bus.listeners == 0 and gateway.app.live_events.open == 0


class _Operator:
    async def check(self, _exchange: Any) -> None:
        return None


def test_a_slow_listener_is_told_how_many_events_it_missed() -> None:
    """The bus drops a slow listener's oldest events rather than wait; the listener hears how many."""

    async def scenario() -> list[dict[str, Any]]:
        bus = EventBus()
        live = LiveEvents(bus, _Operator(), _hello, heartbeat=30, queue_size=2)  # type: ignore[arg-type]
        frames: list[dict[str, Any]] = []
        hello_sent, done = asyncio.Event(), asyncio.Event()
        inbox = [{"type": "websocket.connect"}]

        async def receive() -> dict[str, Any]:
            if inbox:
                return inbox.pop()
            await done.wait()
            return {"type": "websocket.disconnect", "code": 1000}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.send":
                frames.append(json.loads(message["text"]))
                hello_sent.set()
                if len(frames) == 4:
                    done.set()

        scope = {"type": "websocket", "path": "/_gw/ws", "headers": [], "client": ("127.0.0.1", 1), "query_string": b""}
        task = asyncio.ensure_future(live(scope, receive, send))
        await hello_sent.wait()
        for n in range(5):  # faster than the listener runs: its queue holds 2
            bus.publish({"type": "exchange", "n": n})
        await asyncio.wait_for(task, 5)
        assert bus.listeners == 0
        return frames

    frames = asyncio.run(scenario())

    assert [f["type"] for f in frames] == ["hello", "dropped", "exchange", "exchange"]
    assert frames[1]["count"] == 3
    assert [f["n"] for f in frames[2:]] == [3, 4]


async def _hello() -> dict[str, Any]:
    return {"services": []}
