"""The one event channel (gw.core.events): every kind of event reaches its subscribers from real traffic, and a
subscriber that raises, blocks or falls behind never fails or delays a request. Real gateways over loopback."""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import logging
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from gw.core import events as channel_module
from gw.core.events import (
    CallbackSent,
    Channel,
    ChaosSwitched,
    CircuitChanged,
    CircuitClosed,
    CircuitFailureCounted,
    CircuitHalfOpened,
    CircuitOpened,
    Event,
    ExchangeFinished,
    InstanceHealthChanged,
    ModeSwitched,
    StubRecorded,
    UpstreamAnswered,
    UpstreamFailed,
    WebSocketsChanged,
)
from tests.conftest import (
    SPECS,
    TEST_SPECS,
    GatewayThread,
    eventually,
    free_port,
    gateway_config,
    log_records,
    send_json,
    threaded_server,
)
from tests.test_websockets import SocketUpstream, ws_url
from tests.upstream import UpstreamServer

ECHO = str(TEST_SPECS / "echo.yaml")
USERS = str(SPECS / "users.yaml")
ADMIN = {"X-GW-Admin": "1"}
ALL_KINDS: list[type[Event]] = [ExchangeFinished, CallbackSent, UpstreamAnswered, UpstreamFailed, CircuitOpened,
                                CircuitHalfOpened, CircuitClosed, CircuitFailureCounted, InstanceHealthChanged,
                                WebSocketsChanged, StubRecorded, ModeSwitched, ChaosSwitched]


class Heard:
    """Every event of every kind, as the channel told them (subscribed inline, like metrics)."""

    def __init__(self, channel: Channel) -> None:
        self.events: list[Event] = []
        self.leave = channel.subscribe(ALL_KINDS, self.events.append)

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in list(self.events) if type(e) is kind]


class CallbackReceiver(BaseHTTPRequestHandler):
    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        send_json(self, b"{}")

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, UpstreamServer]]:
    servers = {"echo": UpstreamServer(free_port(), "echo").start(), "hc": UpstreamServer(free_port(), "hc").start(),
               "rec": UpstreamServer(free_port(), "rec").start(), "chat": SocketUpstream(free_port(), "ws").start()}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def gateway(upstreams: dict[str, UpstreamServer], tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    """One gateway with a service per source of events; `heard` subscribed before any traffic."""
    with threaded_server(CallbackReceiver) as receiver:
        port = receiver.rsplit(":", 1)[1]
        services = {
            "echo": {"spec": ECHO, "base_path": "/echo", "mode": "live", "upstream": [upstreams["echo"].url], "retries": 0,
                     "circuit_breaker": {"failures": 2, "window": 30, "open_seconds": 0.3, "half_open_requests": 1}},
            "dead": {"spec": ECHO, "base_path": "/dead", "mode": "live", "upstream": [f"http://127.0.0.1:{free_port()}"],
                     "retries": 0, "circuit_breaker": {"failures": 0}},
            "hc": {"spec": ECHO, "base_path": "/hc", "mode": "live", "upstream": [upstreams["hc"].url], "retries": 0,
                   "health_check": {"path": "/healthz", "interval": 0.1, "timeout": 0.5}},
            "rec": {"spec": ECHO, "base_path": "/rec", "mode": "record", "upstream": [upstreams["rec"].url]},
            "chat": {"spec": ECHO, "base_path": "/chat", "mode": "live", "upstream": upstreams["chat"].url,
                     "websockets": ["/events"]},
            "cb": {"spec": str(TEST_SPECS / "callbacks.yaml"), "base_path": "/cb"},
        }
        config = gateway_config(services, stubs=str(tmp_path_factory.mktemp("stubs")), reload=False,
                                callbacks={"delay": 0, "allow": [f"127.0.0.1:{port}"]})
        with GatewayThread(config) as served:
            served.heard = Heard(served.app.channel)  # type: ignore[attr-defined]
            served.receiver = receiver  # type: ignore[attr-defined]
            yield served


def heard(gateway: GatewayThread) -> Heard:
    return gateway.heard  # type: ignore[attr-defined,no-any-return]


def test_every_kind_of_event_is_covered_here() -> None:
    kinds = {k for k in vars(channel_module).values()
             if isinstance(k, type) and issubclass(k, Event) and k not in (Event, CircuitChanged)}
    assert kinds == set(ALL_KINDS)


def test_a_live_exchange_publishes_the_upstream_answer_and_the_finished_exchange(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        answer = client.get("/echo/items/1", headers={"X-Request-ID": "evt-live-1"})
    assert answer.status_code == 200
    answered = eventually(lambda: [e for e in heard(gateway).of(UpstreamAnswered) if e.service == "echo"])
    assert answered[0].status == 200 and answered[0].instance.startswith("http://127.0.0.1:") and answered[0].seconds > 0
    finished = eventually(lambda: [e for e in heard(gateway).of(ExchangeFinished)
                                   if e.entry.event()["id"] == "evt-live-1"])
    assert finished[0].entry.event()["status"] == 200 and finished[0].entry.event()["service"] == "echo"


def test_an_unreachable_upstream_publishes_a_failed_attempt(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        answer = client.get("/dead/items/1")
    assert answer.status_code == 502
    failed = eventually(lambda: [e for e in heard(gateway).of(UpstreamFailed) if e.service == "dead"])
    assert failed[0].kind == "connect" and failed[0].seconds is not None


def test_a_circuit_walk_publishes_each_failure_and_each_move(gateway: GatewayThread,
                                                             upstreams: dict[str, UpstreamServer]) -> None:
    echo = upstreams["echo"]
    with gateway.client() as client:
        echo.fail(500)
        assert client.get("/echo/items/2").status_code == 500  # counted, still closed
        assert client.get("/echo/items/2").status_code == 500  # the second failure opens it
        assert client.get("/echo/items/2").status_code == 503
        echo.recover()
        eventually(lambda: client.get("/echo/items/2").status_code == 200)  # half-open once 0.3 s are over; probe
    counted = [e for e in heard(gateway).of(CircuitFailureCounted) if e.service == "echo"]
    assert counted and counted[0].instance == echo.url
    assert [e.reason for e in heard(gateway).of(CircuitOpened) if e.service == "echo"] == ["failures"]
    moves = [(e.before, e.after) for e in heard(gateway).events if isinstance(e, CircuitChanged) and e.service == "echo"]
    assert moves == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert [e.status for e in heard(gateway).of(UpstreamAnswered) if e.service == "echo"][-3:] == [500, 500, 200]


def test_a_failing_health_check_publishes_the_instance_health_change(gateway: GatewayThread,
                                                                     upstreams: dict[str, UpstreamServer]) -> None:
    hc = upstreams["hc"]
    eventually(lambda: hc.stats()["paths"].get("/healthz", 0) > 0)  # probed, found healthy: no news
    hc.fail(503)
    try:
        changed = eventually(lambda: [e for e in heard(gateway).of(InstanceHealthChanged) if e.service == "hc"])
    finally:
        hc.recover()
    assert (changed[0].instance, changed[0].before, changed[0].after) == (hc.url, "healthy", "unhealthy")
    assert changed[0].detail == "GET /healthz: 503"
    back = eventually(lambda: [e for e in heard(gateway).of(InstanceHealthChanged) if e.service == "hc"],
                      lambda found: len(found) == 2)
    assert (back[1].before, back[1].after, back[1].detail) == ("unhealthy", "healthy", "GET /healthz: 200")


def test_a_websocket_through_the_gateway_publishes_its_opening_and_closing(gateway: GatewayThread) -> None:
    async def talk() -> None:
        async with aiohttp.ClientSession() as session:
            socket = await session.ws_connect(ws_url(gateway, "/chat/events"))
            await socket.receive_json(timeout=5)
            await socket.close()

    asyncio.run(talk())
    changes = eventually(lambda: [e.delta for e in heard(gateway).of(WebSocketsChanged) if e.service == "chat"],
                         lambda deltas: len(deltas) == 2)
    assert changes == [1, -1]


def test_a_recorded_exchange_publishes_the_stub_it_wrote(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        assert client.get("/rec/items/5").status_code == 200
    recorded = eventually(lambda: heard(gateway).of(StubRecorded))
    assert recorded[0].outcome == "created" and recorded[0].stub_id.startswith("rec/")
    assert recorded[0].summary == "GET /rec/items/5 -> 200" and Path(recorded[0].file).is_file()


def test_runtime_switches_publish_the_mode_and_the_chaos(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        assert client.put("/_gw/api/services/rec/mode", json={"mode": "stub"}).status_code == 200
        assert client.put("/_gw/api/services/rec/chaos", json={"delay": "1ms"}).status_code == 200
        client.delete("/_gw/api/services/rec/chaos", headers=ADMIN)
    modes = eventually(lambda: heard(gateway).of(ModeSwitched))
    assert (modes[0].service, modes[0].operation, modes[0].mode) == ("rec", None, "stub")
    chaos = eventually(lambda: heard(gateway).of(ChaosSwitched), lambda found: len(found) == 2)
    assert [(c.service, c.switched) for c in chaos] == [("rec", True), ("rec", False)]


def test_a_callback_the_gateway_sends_is_published(gateway: GatewayThread) -> None:
    receiver = gateway.receiver  # type: ignore[attr-defined]
    answer = httpx.post(f"{gateway.url}/cb/subs", json={"url": f"{receiver}/subscriber"}, timeout=10)
    assert answer.status_code == 201
    sent = eventually(lambda: heard(gateway).of(CallbackSent))
    assert sent[0].entry.event()["status"] == 200 and sent[0].detail["outcome"] == "sent"


# --- a subscriber never fails or delays a request -------------------------------------------------------------

@pytest.fixture(scope="module")
def plain(upstreams: dict[str, UpstreamServer]) -> Iterator[GatewayThread]:
    config = gateway_config({"users": {"spec": USERS, "base_path": "/users"},
                             "live": {"spec": ECHO, "base_path": "/live", "mode": "live", "upstream": [upstreams["rec"].url],
                                      "retries": 0}}, reload=False)
    with GatewayThread(config) as served:
        yield served


@pytest.fixture
def events_log() -> Iterator[list[logging.LogRecord]]:
    with log_records("gw.events") as records:
        yield records


def test_a_subscriber_that_raises_fails_no_request_and_the_others_still_hear(plain: GatewayThread,
                                                                              events_log: list[logging.LogRecord]) -> None:
    def boom(_event: Event) -> None:
        raise RuntimeError("subscriber bug")

    leave_boom = plain.app.channel.subscribe(ALL_KINDS, boom)
    after = Heard(plain.app.channel)  # subscribed after the raising one: still told
    try:
        with plain.client() as client:
            answers = [client.get("/users/users/1"), client.get("/live/items/1"), client.get("/users/users/2")]
    finally:
        leave_boom()
        after.leave()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[1].json()["path"] == "/items/1"
    assert len(after.of(ExchangeFinished)) == 3 and len(after.of(UpstreamAnswered)) == 1
    failures = [r for r in events_log if r.getMessage().startswith("event subscriber")]
    assert len(failures) == 1  # once a minute per subscriber, not once per event
    assert "boom" in failures[0].getMessage() and failures[0].exc_info is not None


def test_a_subscriber_that_blocks_delays_no_request_and_loses_only_its_oldest_events(
        plain: GatewayThread, events_log: list[logging.LogRecord]) -> None:
    started = []

    async def stuck(event: Event) -> None:
        started.append(event)
        await asyncio.get_running_loop().create_future()  # never done

    leave = plain.app.channel.subscribe((ExchangeFinished, UpstreamAnswered), stuck, queue_size=2)
    try:
        with plain.client() as client:
            client.get("/users/users/1")  # a first request: connections warm
            took = []
            for n in range(12):
                begun = time.perf_counter()
                answer = client.get(f"/live/items/{n}" if n % 2 else f"/users/users/{n + 1}")
                took.append(time.perf_counter() - begun)
                assert answer.status_code == 200
        queued = next(h for h in plain.app.channel.listened[ExchangeFinished] if getattr(h, "subscriber", None) is stuck)
        assert len(started) == 1  # the first event is being handled, forever
        assert len(queued.pending) == 2  # its queue holds two: the oldest were dropped, not waited for
        assert queued.dropped + len(queued.pending) + len(started) == 13 + 6  # 13 exchanges, 6 upstream answers
    finally:
        leave()
    assert max(took) < 1.0  # a stuck subscriber would hold each request forever; these took milliseconds
    assert ExchangeFinished not in plain.app.channel.listened  # gone with its subscription, task and queue


def test_with_metrics_off_and_nobody_watching_nothing_is_published() -> None:
    config = gateway_config({"users": {"spec": USERS, "base_path": "/users"}}, reload=False, metrics=False)
    with GatewayThread(config) as served:
        assert served.app.channel.listened == {}  # each publisher's test is one dict lookup that finds nothing
        feed = served.app.events.subscribe()  # an operator opens the dashboard: the feed subscribes
        assert ExchangeFinished in served.app.channel.listened and ModeSwitched in served.app.channel.listened
        feed.close()
        assert served.app.channel.listened == {}


# --- publishers know the channel, never their listeners -------------------------------------------------------

PUBLISHERS = ["gw.forwarder.proxy", "gw.forwarder.breaker", "gw.forwarder.health_checks", "gw.forwarder.shared_circuits",
              "gw.forwarder.upstreams", "gw.forwarder.instances", "gw.forwarder.balancer", "gw.forwarder.websockets",
              "gw.runtime.modes", "gw.chaos.switches", "gw.callbacks.sender", "gw.stubs.recorder", "gw.edge.observe"]
LISTENERS = ("gw.operator.metrics", "gw.operator.events", "gw.app", "gw.operator.admin", "gw.operator.endpoints",
             "gw.operator.dashboard", "gw.operator.state")


def gw_imports(module: str) -> set[str]:
    """The gw modules a gw module imports: at the top, under TYPE_CHECKING or in a function."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    package = module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(Path(spec.origin).read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            found.add(".".join([*base, *([node.module] if node.module else [])]))
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "gw" or name.startswith("gw.")}


@pytest.mark.parametrize("module", PUBLISHERS)
def test_a_publisher_imports_no_listener(module: str) -> None:
    imported = gw_imports(module)
    assert not {name for name in imported if any(name == up or name.startswith(up + ".") for up in LISTENERS)}, imported


def test_the_balancer_reads_instances_without_importing_the_pool_that_imports_it() -> None:
    assert "gw.forwarder.upstreams" not in gw_imports("gw.forwarder.balancer")
    assert "gw.forwarder.balancer" in gw_imports("gw.forwarder.upstreams")


def test_a_slow_async_subscriber_hears_in_order_and_is_told_in_the_log_what_it_missed(
        events_log: list[logging.LogRecord]) -> None:
    async def scenario() -> list[int]:
        channel, got, gate = Channel(), [], asyncio.Event()

        async def slow(event: WebSocketsChanged) -> None:
            await gate.wait()
            got.append(event.delta)

        channel.subscribe(WebSocketsChanged, slow, queue_size=3)
        channel.publish(WebSocketsChanged("s", 0))
        await asyncio.sleep(0)  # the subscriber's task takes the first event and waits on the gate
        for n in range(1, 10):  # published faster than it handles them: its queue holds three
            channel.publish(WebSocketsChanged("s", n))
        gate.set()
        while len(got) < 4:
            await asyncio.sleep(0.001)
        await channel.close()
        return got

    got = asyncio.run(asyncio.wait_for(scenario(), 5))
    assert got == [0, 7, 8, 9]  # the first was in hand; of the rest, the newest three
    lagging = [r.getMessage() for r in events_log if "fell behind" in r.getMessage()]
    assert len(lagging) == 1 and lagging[0].endswith("6 events dropped")
