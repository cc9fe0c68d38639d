"""Callbacks and webhooks gw sends: received by a real loopback server with the documented method, URL and a
body valid against the callback's schema, after the configured delay; refused (never connected to) outside
`callbacks.allow`; in the journal and the live feed; `gw webhook` and the admin API firing 3.1 webhooks."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from gw.callbacks.guard import AllowList, parse_entry
from gw.callbacks.step import Callbacks
from gw.contract.judge import compile_schema
from gw.settings.callbacks import CallbackSettings
from gw.settings.config import ConfigError, build_config
from tests.conftest import ROOT, SPECS, TEST_SPECS, GatewayThread, eventually, gateway_config, run_gw, threaded_server

DELAY = 0.4
ORDER = {"customer_id": "cus_7Hq2LmX9", "items": [{"sku": "ABC-1234", "quantity": 1, "unit_price": 2.5}],
         "shipping_address": {"line1": "Keizersgracht 123", "city": "Amsterdam", "postal_code": "1015 CJ", "country": "NL"}}


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """What the loopback receiver got, in order; `wait_for(path)` blocks until a request for it arrives."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, path: str, timeout: float = 10) -> Received:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                found = [r for r in self.requests if r.path == path]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                assert left > 0, f"no request for {path} within {timeout}s; got {[r.path for r in self.requests]}"
                self.arrived.wait(left)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _take(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with got.arrived:
                got.requests.append(Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                             body, time.monotonic()))
                got.arrived.notify_all()
            if self.path.startswith("/undocumented"):  # the callback documents 204 only
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                return
            self.send_response(204)
            self.end_headers()

        do_POST = do_PUT = _take

    with threaded_server(Handler) as url:
        got.url = url
        yield got


@dataclass
class Listener:
    """A TCP listener on loopback that only counts the connections it accepts."""

    port: int
    connections: int = 0


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    counted = Listener(server.getsockname()[1])

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            counted.connections += 1
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    yield counted
    server.close()


@pytest.fixture(scope="module")
def gateway(receiver: Receiver) -> Iterator[GatewayThread]:
    port = receiver.url.rsplit(":", 1)[1]
    config = gateway_config({"orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders"},
                             "users": {"spec": str(SPECS / "users.yaml"), "base_path": "/users"}},
                            callbacks={"delay": f"{int(DELAY * 1000)}ms", "allow": [f"localhost:{port}", f"127.0.0.1:{port}"]},
                            admin={"allow_from": ["127.0.0.1/32"]}, reload=False)
    with GatewayThread(config) as served:
        yield served


def order_event_checker(gateway: GatewayThread) -> Any:
    service = gateway.app.services["orders"]
    schema = service.specification.spec["components"]["schemas"]["OrderEvent"]
    return compile_schema(schema, service.openapi31, "request")


def place_order(gateway: GatewayThread, callback_url: str | None, request_id: str) -> httpx.Response:
    params = {"callback_url": callback_url} if callback_url else {}
    return httpx.post(f"{gateway.url}/orders/orders", params=params, json=ORDER, timeout=10,
                      headers={"X-Request-ID": request_id})


def journal(gateway: GatewayThread) -> list[dict[str, Any]]:
    return httpx.get(f"{gateway.url}/_gw/api/journal?limit=200", timeout=10).json()["entries"]


def callback_entry(gateway: GatewayThread, request_id: str) -> dict[str, Any]:
    """The journal entry of the (first) callback that followed request `request_id`."""
    def find() -> list[dict[str, Any]]:
        return [e for e in journal(gateway) if e["id"].startswith(f"{request_id}-callback-")]
    entry = eventually(find, timeout=10)[0]
    return httpx.get(f"{gateway.url}/_gw/api/journal/{entry['id']}", timeout=10).json()


# -- callbacks sent after a stub answer --------------------------------------------------------------


def test_callback_arrives_with_its_method_url_and_a_body_valid_against_its_schema(gateway: GatewayThread,
                                                                                  receiver: Receiver) -> None:
    answer = place_order(gateway, f"{receiver.url}/hooks/order-1", "cb-arrives")

    got = receiver.wait_for("/hooks/order-1")

    assert answer.status_code == 201
    assert got.method == "POST"  # the callback's documented method
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-request-id"] == "cb-arrives"  # which request it follows
    payload = json.loads(got.body)
    assert order_event_checker(gateway).is_valid(payload), payload
    assert set(payload) == {"order_id", "status", "at"}


def test_callback_waits_for_the_configured_delay_and_never_delays_the_answer(gateway: GatewayThread,
                                                                            receiver: Receiver) -> None:
    started = time.monotonic()
    answer = place_order(gateway, f"{receiver.url}/hooks/delayed", "cb-delay")
    answered = time.monotonic()

    got = receiver.wait_for("/hooks/delayed")

    assert answer.status_code == 201
    assert answered - started < DELAY  # the answer did not wait for the callback
    assert got.at - answered >= DELAY - 0.05  # tolerance: the answer's last bytes reach the client just before
    assert got.at - answered < DELAY + 3


def test_callback_to_a_host_not_allowed_is_refused_and_never_connected_to(gateway: GatewayThread,
                                                                          listener: Listener) -> None:
    answer = place_order(gateway, f"http://127.0.0.1:{listener.port}/steal", "cb-refused")

    entry = callback_entry(gateway, "cb-refused")

    assert answer.status_code == 201  # the answer is the same: the refusal is the callback's
    assert entry["source"] == "refused"
    assert entry["status"] == 0
    assert entry["notes"]["callback"]["target"] == f"http://127.0.0.1:{listener.port}/steal"
    assert "not in callbacks.allow" in entry["notes"]["callback"]["reason"]
    assert listener.connections == 0  # judged before any connection: none will come


def test_a_name_allowed_by_port_is_judged_by_its_address_too(gateway: GatewayThread, listener: Listener) -> None:
    answer = place_order(gateway, f"http://localhost:{listener.port}/steal", "cb-refused-name")

    entry = callback_entry(gateway, "cb-refused-name")

    assert answer.status_code == 201
    assert entry["source"] == "refused"
    assert listener.connections == 0


def test_the_journal_shows_each_callback_with_target_status_and_duration(gateway: GatewayThread,
                                                                         receiver: Receiver) -> None:
    place_order(gateway, f"{receiver.url}/hooks/journaled", "cb-journal")
    receiver.wait_for("/hooks/journaled")

    entry = callback_entry(gateway, "cb-journal")

    assert entry["mode"] == "callback"
    assert entry["source"] == "sent"
    assert entry["method"] == "POST"
    assert entry["path"] == f"{receiver.url}/hooks/journaled"
    assert entry["status"] == 204
    assert entry["duration_ms"] > 0
    assert entry["service"] == "orders"
    assert entry["operation"] == "createOrder orderStatus POST"
    assert entry["notes"]["callback"]["follows"] == "cb-journal"
    assert "contract" not in entry["notes"]  # 204 is what the callback documents


def test_a_receiver_answering_an_undocumented_status_is_a_contract_note(gateway: GatewayThread,
                                                                       receiver: Receiver) -> None:
    place_order(gateway, f"{receiver.url}/undocumented", "cb-undocumented")

    entry = eventually(lambda: callback_entry(gateway, "cb-undocumented"), lambda e: e["status"])

    assert entry["source"] == "sent"  # a note, not a failure
    assert entry["status"] == 200
    assert any("200 is not declared" in note for note in entry["notes"]["contract"])


def test_a_callback_url_the_request_does_not_give_is_journaled_as_not_sent(gateway: GatewayThread) -> None:
    answer = place_order(gateway, None, "cb-no-url")

    entry = callback_entry(gateway, "cb-no-url")

    assert answer.status_code == 201
    assert entry["source"] == "refused"
    assert "query 'callback_url' was not sent" in entry["notes"]["callback"]["reason"]


def test_a_refused_request_triggers_no_callback(gateway: GatewayThread, receiver: Receiver) -> None:
    answer = httpx.post(f"{gateway.url}/orders/orders", params={"callback_url": f"{receiver.url}/hooks/never"},
                        json={"items": []}, headers={"X-Request-ID": "cb-invalid"}, timeout=10)

    assert answer.status_code == 400
    place_order(gateway, f"{receiver.url}/hooks/after-invalid", "cb-after-invalid")
    receiver.wait_for("/hooks/after-invalid")  # callbacks leave in order: one for the refused request would be here
    assert not [r for r in receiver.requests if r.path == "/hooks/never"]
    assert not [e for e in journal(gateway) if e["id"].startswith("cb-invalid-")]


def test_the_live_feed_carries_each_callback(gateway: GatewayThread, receiver: Receiver) -> None:
    with connect(gateway.url.replace("http://", "ws://") + "/_gw/ws", open_timeout=10) as feed:
        json.loads(feed.recv(timeout=10))  # hello
        place_order(gateway, f"{receiver.url}/hooks/live", "cb-live")
        deadline = time.monotonic() + 10
        while True:
            event = json.loads(feed.recv(timeout=max(0.01, deadline - time.monotonic())))
            if event.get("mode") == "callback" and event["id"].startswith("cb-live-"):
                break

    assert event["type"] == "exchange"
    assert event["status"] == 204
    assert event["callback"]["target"] == f"{receiver.url}/hooks/live"
    assert event["callback"]["outcome"] == "sent"
    assert event["duration_ms"] > 0


def test_a_referenced_callback_builds_its_url_from_request_and_response_bodies(start_gateway: Any,
                                                                              receiver: Receiver) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    served = start_gateway({"subs": {"spec": str(TEST_SPECS / "callbacks.yaml"), "base_path": "/"}},
                           callbacks={"delay": 0, "allow": [f"127.0.0.1:{port}"]}, reload=False)

    answer = httpx.post(f"{served.url}/subs", json={"url": f"{receiver.url}/subscriber"}, timeout=10)

    assert answer.status_code == 201
    got = receiver.wait_for(f"/subscriber/events/{answer.json()['id']}")
    assert got.method == "PUT"  # the referenced path item's method
    payload = json.loads(got.body)
    assert set(payload) == {"n"} and payload["n"] >= 5  # generated from the referenced schema, and valid


def test_services_without_callbacks_have_no_callback_step() -> None:
    config = gateway_config({"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/users"}}, reload=False)
    with GatewayThread(config) as served:
        assert not [s for s in served.app.pipeline.steps if isinstance(s, Callbacks)]
    config = gateway_config({"orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders"}},
                            callbacks={"enabled": False}, reload=False)
    with GatewayThread(config) as served:
        assert not [s for s in served.app.pipeline.steps if isinstance(s, Callbacks)]


def test_a_real_gw_serve_sends_an_allowed_callback_and_logs_a_refused_one(gw_process: Any, receiver: Receiver,
                                                                        listener: Listener) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    served = gw_process(str(SPECS / "orders.yaml"), env={"GW_CALLBACKS__ALLOW": f"127.0.0.1:{port}",
                                                          "GW_CALLBACKS__DELAY": "50ms"}).wait_ready()

    sent = httpx.post(f"{served.url}/orders", params={"callback_url": f"{receiver.url}/hooks/served"}, json=ORDER, timeout=10)
    refused = httpx.post(f"{served.url}/orders", params={"callback_url": f"http://127.0.0.1:{listener.port}/served"},
                         json=ORDER, timeout=10)

    got = receiver.wait_for("/hooks/served")
    assert sent.status_code == refused.status_code == 201
    assert got.method == "POST" and json.loads(got.body)["status"]
    line = eventually(lambda: [json.loads(x) for x in served.log().splitlines()
                               if x.startswith("{") and "not in callbacks.allow" in x], timeout=10)[0]
    assert line["level"] == "warning"
    assert line["target"] == f"http://127.0.0.1:{listener.port}/served"
    assert line["outcome"] == "refused"
    assert listener.connections == 0


# -- webhooks: admin API and CLI ------------------------------------------------------------------------


def test_admin_api_fires_a_webhook_at_an_allowed_receiver(gateway: GatewayThread, receiver: Receiver) -> None:
    answer = httpx.post(f"{gateway.url}/_gw/api/services/orders/webhooks/orderStatusChanged",
                        json={"to": f"{receiver.url}/hooks/admin"}, timeout=10)

    got = receiver.wait_for("/hooks/admin")

    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["status"] == 204
    assert result["method"] == "POST"
    assert result["duration_ms"] > 0
    assert got.method == "POST"
    assert json.loads(got.body) == result["payload"] == {"order_id": "3f8e2a1c-5b7d-4e9f-a0c6-1d2b3c4e5f60",
                                                         "status": "shipped", "at": "2024-06-12T09:30:00Z"}
    webhooks = [e for e in journal(gateway) if e["mode"] == "webhook" and e["path"] == f"{receiver.url}/hooks/admin"]
    assert webhooks and webhooks[0]["status"] == 204


def test_admin_api_refuses_a_webhook_target_outside_the_allow_list(gateway: GatewayThread, listener: Listener) -> None:
    answer = httpx.post(f"{gateway.url}/_gw/api/services/orders/webhooks/orderStatusChanged",
                        json={"to": f"http://127.0.0.1:{listener.port}/x"}, timeout=10)

    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert "not in callbacks.allow" in answer.json()["detail"]
    assert listener.connections == 0


@pytest.mark.parametrize(("path", "said"), [
    ("/services/orders/webhooks/nope", "orders has no webhook 'nope' (webhooks: orderStatusChanged)"),
    ("/services/users/webhooks/x", "webhooks are an OpenAPI 3.1 feature"),
    ("/services/ghost/webhooks/x", "no service 'ghost'"),
])
def test_admin_api_names_what_exists_for_an_unknown_webhook(gateway: GatewayThread, path: str, said: str) -> None:
    answer = httpx.post(f"{gateway.url}/_gw/api{path}", json={"to": "http://127.0.0.1:1/x"}, timeout=10)

    assert answer.status_code == 404
    assert said in answer.json()["detail"]


def test_admin_api_says_when_an_allowed_receiver_cannot_be_reached(start_gateway: Any) -> None:
    served = start_gateway({"orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders"}},
                           callbacks={"allow": ["127.0.0.1/32"], "timeout": "2s"}, admin={"allow_from": ["127.0.0.1/32"]},
                           reload=False)

    answer = httpx.post(f"{served.url}/_gw/api/services/orders/webhooks/orderStatusChanged",
                        json={"to": f"http://127.0.0.1:{_closed_port()}/x"}, timeout=10)

    assert answer.status_code == 502
    assert answer.json()["type"] == "/_gw/problems/webhook-failed"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gw_webhook_fires_at_the_operator_given_url_and_prints_one_line(receiver: Receiver) -> None:
    result = run_gw("webhook", "orders", "orderStatusChanged", "--to", f"{receiver.url}/hooks/cli")

    got = receiver.wait_for("/hooks/cli")

    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith(f"POST {receiver.url}/hooks/cli: 204 in ") and line.endswith(" ms"), line
    assert got.method == "POST"
    assert json.loads(got.body)["status"] == "shipped"


def gw_in_process(*args: str) -> Any:
    """The CLI run in this process (typer's runner): its exit code, stdout and stderr, without a new interpreter."""
    from typer.testing import CliRunner

    from gw.cli import app

    return CliRunner().invoke(app, list(args))


def test_gw_webhook_json_and_a_failed_delivery(receiver: Receiver) -> None:
    sent = gw_in_process("webhook", "orders", "orderStatusChanged", "--to", f"{receiver.url}/hooks/cli-json", "--json")
    failed = gw_in_process("webhook", "orders", "orderStatusChanged", "--to", f"http://127.0.0.1:{_closed_port()}/x")
    unknown = gw_in_process("webhook", "orders", "nope", "--to", f"{receiver.url}/x")

    assert sent.exit_code == 0, sent.output
    report = json.loads(sent.stdout)
    assert report["status"] == 204 and report["outcome"] == "sent" and report["payload"]["status"] == "shipped"
    assert failed.exit_code == 1
    assert "error: POST http://127.0.0.1:" in failed.stderr and "Traceback" not in failed.output
    assert unknown.exit_code == 2
    assert "orders has no webhook 'nope' (webhooks: orderStatusChanged)" in unknown.stderr.replace("\n", "")


# -- the allow-list, judged on resolved addresses --------------------------------------------------------


def judge(entries: list[str], url: str, resolved: dict[str, list[str]] | None = None) -> tuple[bool, str]:
    async def resolve(host: str, _port: int) -> list[str]:
        if host not in (resolved or {}):
            raise OSError("no such host")
        return (resolved or {})[host]

    verdict = asyncio.run(AllowList(entries, resolve=resolve).judge(url))
    return verdict.allowed, verdict.reason


LOOPBACK = CallbackSettings().allow


@pytest.mark.parametrize(("entries", "url", "resolved", "allowed"), [
    (LOOPBACK, "http://127.0.0.1:9000/x", {}, True),
    (LOOPBACK, "http://[::1]:9000/x", {}, True),
    (LOOPBACK, "http://[::ffff:127.0.0.1]:9000/x", {}, True),  # v4-mapped is the v4 address
    (LOOPBACK, "http://hooks.test/x", {"hooks.test": ["127.0.0.1"]}, True),  # a name that resolves to loopback
    (LOOPBACK, "http://innocent.test/x", {"innocent.test": ["93.184.216.34"]}, False),  # ... and one that does not
    (LOOPBACK, "http://mixed.test/x", {"mixed.test": ["127.0.0.1", "10.0.0.5"]}, False),  # every address must pass
    (LOOPBACK, "http://10.1.2.3/x", {}, False),
    (LOOPBACK, "http://169.254.169.254/latest/meta-data", {}, False),  # cloud metadata
    (["10.0.0.0/8"], "http://internal.test:8080/x", {"internal.test": ["10.9.8.7"]}, True),
    (["hooks.example.test"], "https://hooks.example.test/x", {}, True),  # a listed name: the operator trusts its DNS
    (["*.example.test"], "https://a.b.example.test/x", {}, True),
    (["*.example.test"], "https://example.test.evil/x", {}, False),
    (["127.0.0.1:9000"], "http://127.0.0.1:9000/x", {}, True),
    (["127.0.0.1:9000"], "http://127.0.0.1:9001/x", {}, False),  # the port is part of the entry
    (["localhost:9000"], "http://localhost:9000/x", {}, True),
    (["localhost:9000"], "http://localhost:9001/x", {"localhost": ["127.0.0.1"]}, False),
    (["[::1]:9000"], "http://[::1]:9000/x", {}, True),
    (["*"], "http://anywhere.test/x", {}, True),
    (LOOPBACK, "file:///etc/passwd", {}, False),
    (LOOPBACK, "gopher://127.0.0.1/x", {}, False),
    (LOOPBACK, "http://unresolvable.test/x", {}, False),
    (LOOPBACK, "http:///nohost", {}, False),
    (LOOPBACK, "http://127.0.0.1:9000\\@evil.test/", {}, False),  # read as aiohttp reads it: no parser differential
    (LOOPBACK, "http://2130706433/", {"2130706433": ["127.0.0.1"]}, True),  # judged by what it resolves to
])
def test_allow_list_judges_names_ports_networks_and_resolved_addresses(entries: list[str], url: str,
                                                                      resolved: dict[str, list[str]],
                                                                      allowed: bool) -> None:
    verdict, reason = judge(entries, url, resolved)

    assert verdict is allowed, reason
    assert allowed or reason


def test_a_refusal_says_what_the_name_resolved_to() -> None:
    _, reason = judge(LOOPBACK, "http://innocent.test/x", {"innocent.test": ["93.184.216.34"]})

    assert reason == "innocent.test:80 resolves to 93.184.216.34, which is not in callbacks.allow (127.0.0.0/8, ::1/128)"


@pytest.mark.parametrize("entry", ["not a host!", "host:99999", "[::1]x", "a:b:c:d:e:zz"])
def test_a_bad_allow_entry_is_one_config_line(entry: str) -> None:
    with pytest.raises(ValueError):
        parse_entry(entry)
    with pytest.raises(ConfigError) as raised:
        build_config({"services": {}, "callbacks": {"allow": ["127.0.0.1", entry]}}, "gateway.yaml")
    assert str(raised.value).startswith("gateway.yaml: callbacks.allow[1]: ")


def test_callback_settings_read_durations_and_env() -> None:
    from gw.settings.config import apply_env

    data: dict[str, Any] = {"services": {}}
    apply_env(data, {"GW_CALLBACKS__DELAY": "2s", "GW_CALLBACKS__ALLOW": "localhost:9000, 10.0.0.0/8"})
    config = build_config(data, "env")

    assert config.callbacks.delay == 2.0
    assert config.callbacks.allow == ["localhost:9000", "10.0.0.0/8"]
    with pytest.raises(ConfigError, match=r"callbacks\.delay"):
        build_config({"services": {}, "callbacks": {"delay": "soon"}}, "gateway.yaml")


def test_gw_init_writes_a_commented_callbacks_example(tmp_path: Path) -> None:
    (tmp_path / "orders.yaml").write_text((SPECS / "orders.yaml").read_text())
    (tmp_path / "common.yaml").write_text((SPECS / "common.yaml").read_text())

    from gw.settings.init_config import init

    init([tmp_path / "orders.yaml"], tmp_path, False)

    text = (tmp_path / "gateway.yaml").read_text()
    assert "# callbacks:\n#   delay: 100ms" in text
    uncommented = text.replace("# callbacks:", "callbacks:").replace("#   delay: 100ms ", "  delay: 100ms ")
    assert build_config(__import__("yaml").safe_load(uncommented), "gateway.yaml").callbacks.delay == 0.1


def test_the_bundled_samples_document_a_callback_and_a_webhook() -> None:
    assert ROOT.joinpath("specs/orders.yaml").read_text().count("{$request.query.callback_url}") == 1


def test_callbacks_beyond_max_pending_are_dropped_and_journaled_and_close_cancels_the_rest() -> None:
    from gw.callbacks.payload import Payload
    from gw.callbacks.plan import webhook_targets
    from gw.callbacks.sender import CallbackSender, Outgoing
    from gw.operator.journal import Journal
    from gw.spec.load import load_service

    service = load_service("orders", SPECS / "orders.yaml", "/orders")
    target = webhook_targets(service)["orderStatusChanged"][0]
    journal = Journal(10)

    async def run() -> int:
        sender = CallbackSender(CallbackSettings(max_pending=1, delay=60), journal)
        sender.schedule([lambda n=n: Outgoing(service, target, f"http://127.0.0.1:1/{n}", Payload()) for n in range(2)])
        pending = sender.pending
        await sender.close()
        return pending

    assert asyncio.run(run()) == 1
    (entry,) = journal.entries  # the waiting one was cancelled unsent; the one beyond the bound is journaled
    assert entry.source == "dropped"
    assert "callbacks.max_pending" in entry.notes["callback"]["reason"]
