"""Latency and faults on purpose (issue 14, item 1), seen by real clients of a real `gw serve` process.

Delays are measured with a tolerance (the machine is shared, so upper bounds are loose); each socket
fault is read by httpx and by a raw socket as what it is; a status fault is checked against the spec
with the one contract check; a rate is counted over many requests; switches go through the admin API
and `gw chaos`; what was injected shows in /_gw/metrics and on the dashboard.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from gw.contract.responses import check_response
from gw.settings.chaos import Delay, check_chaos
from gw.settings.config import ConfigError, build_config
from gw.settings.policy_settings import SettingsError
from gw.spec.load import load_service
from gw.stubs.format import StubError, read_stub
from tests.conftest import SPECS, GatewayProcess, RedisServer, eventually, run_gw, send_json, threaded_server

ORDER_ID = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
USER = {"id": 42, "username": "douglas", "email": "douglas@example.com", "full_name": "Douglas Adams", "role": "member",
        "active": True, "created_at": "2024-05-25T10:00:00Z"}
MAX_DELAY = 1.5
SLACK = 1.5  # seconds a loaded, shared machine may add to an answer


class Upstream(BaseHTTPRequestHandler):
    """The real service behind the `live` service: counts what reaches it."""

    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = json.dumps({"items": [], "page": 1, "per_page": 20, "total": 0}).encode()
        send_json(self, body)

    def log_message(self, *_args: Any) -> None:
        pass


def write_setup(root: Path, upstream: str, redis_url: str = "") -> Path:
    stubs = root / "stubs" / "users"
    stubs.mkdir(parents=True, exist_ok=True)
    stub = {"request": {"method": "GET", "path": "/users/42"},
            "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": USER, "delay": "250ms"}}
    (stubs / "slow-42.json").write_text(json.dumps(stub))
    broken = {"request": {"method": "GET", "path": "/users/7"},
              "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": {**USER, "id": 7},
                           "fault": {"kind": "random_data_then_close", "rate": 1}}}
    (stubs / "broken-7.json").write_text(json.dumps(broken))
    config = {
        "services": {
            "orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders",
                       "operations": {"deleteOrder": {"chaos": {"delay": "300ms"}}}},
            "cameras": {"spec": str(SPECS / "cameras.yaml"), "base_path": "/cameras",
                        "operations": {"getCamera": {"chaos": {"fault": "status"}}}},
            "users": {"spec": str(SPECS / "users.yaml"), "base_path": "/users"},
            "live": {"spec": str(SPECS / "orders.yaml"), "base_path": "/live", "mode": "live", "upstream": upstream,
                     "retries": 0},
        },
        "chaos": {"max_delay": f"{MAX_DELAY}s", "seed": "14"},
        "stubs": "stubs",
        "reload": False,
        **({"redis_url": redis_url} if redis_url else {}),
    }
    path = root / "gateway.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with threaded_server(Upstream) as url:
        yield url


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream: str) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("chaos")
    process = GatewayProcess([str(write_setup(root, upstream))], cwd=root)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def client(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30, headers={"X-GW-Admin": "1"}) as http:
        yield http


def raw_get(gateway: GatewayProcess, path: str, prefer: str = "") -> tuple[bytes, BaseException | None]:
    """GET over a plain socket: every byte the gateway sent before the connection ended, and how it ended."""
    extra = f"Prefer: {prefer}\r\n" if prefer else ""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()
    received = b""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(request)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError as exc:
            return received, exc
    return received, None


def timed(call: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


# -- delays ----------------------------------------------------------------------------------------

def test_an_operations_configured_delay_holds_its_answer_that_long(client: httpx.Client) -> None:
    response, took = timed(lambda: client.delete(f"/orders/orders/{ORDER_ID}"))
    assert response.status_code == 204
    assert 0.3 <= took < 0.3 + SLACK
    assert response.headers["x-gw-chaos"].startswith("delay=300ms")
    quick, took = timed(lambda: client.get(f"/orders/orders/{ORDER_ID}"))  # another operation: no delay
    assert quick.status_code == 200 and "x-gw-chaos" not in quick.headers and took < 0.3


def test_prefer_delay_in_milliseconds_delays_one_request(client: httpx.Client) -> None:
    response, took = timed(lambda: client.get("/orders/orders", headers={"Prefer": "delay=400"}))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json") and response.json()["items"]
    assert 0.4 <= took < 0.4 + SLACK


def test_two_delayed_requests_take_one_delay_not_two(gateway: GatewayProcess) -> None:
    results: list[tuple[int, float]] = []

    def one() -> None:
        started = time.perf_counter()
        status = httpx.get(f"{gateway.url}/orders/orders", headers={"Prefer": "delay=1000"}, timeout=30).status_code
        results.append((status, time.perf_counter() - started))

    threads = [threading.Thread(target=one) for _ in range(2)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    total = time.perf_counter() - started
    assert [status for status, _ in results] == [200, 200]
    assert all(took >= 1.0 for _, took in results)
    assert total < 1.8  # one after the other would take 2 s at least: the sleep blocks nobody


def test_a_delay_is_cut_to_max_delay(client: httpx.Client) -> None:
    response, took = timed(lambda: client.get("/orders/orders", headers={"Prefer": "delay=600000"}))
    assert response.status_code == 200
    assert MAX_DELAY <= took < MAX_DELAY + SLACK
    assert response.headers["x-gw-chaos"] == f"delay={MAX_DELAY * 1000:g}ms"


def test_a_stub_files_delay_holds_its_answer(client: httpx.Client) -> None:
    response, took = timed(lambda: client.get("/users/users/42"))
    assert response.status_code == 200 and response.json() == USER
    assert response.headers["x-gw-stub"] == "users/slow-42"
    assert 0.25 <= took < 0.25 + SLACK


def test_log_normal_and_uniform_delays_draw_around_what_they_say() -> None:
    import random

    rng = random.Random(1)
    draws = sorted(check_chaos({"delay": {"median": "200ms", "sigma": 0.4}}).delay.draw(rng) for _ in range(2001))
    assert 0.18 < draws[1000] < 0.22  # the median
    uniform = check_chaos({"delay": "100ms..2s"}).delay
    assert uniform == Delay(0.1, 2.0) and all(0.1 <= uniform.draw(rng) <= 2.0 for _ in range(500))
    assert check_chaos({"delay": "100ms..2s"}).to_json() == {"delay": "100ms..2s"}


# -- socket faults ---------------------------------------------------------------------------------

def test_connection_reset_is_a_tcp_reset(gateway: GatewayProcess) -> None:
    received, ended = raw_get(gateway, "/orders/orders", "fault=connection_reset")
    assert received == b"" and isinstance(ended, ConnectionResetError)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)) as caught:
        httpx.get(f"{gateway.url}/orders/orders", headers={"Prefer": "fault=connection_reset"})
    assert isinstance(caught.value.__context__ or caught.value.__cause__, ConnectionResetError) or "reset" in str(caught.value)


def test_empty_response_closes_without_a_status_line(gateway: GatewayProcess) -> None:
    received, ended = raw_get(gateway, "/orders/orders", "fault=empty_response")
    assert (received, ended) == (b"", None)  # an orderly close, not one byte
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.get(f"{gateway.url}/orders/orders", headers={"Prefer": "fault=empty_response"})


def test_malformed_chunk_breaks_the_clients_chunked_decoding(gateway: GatewayProcess) -> None:
    received, ended = raw_get(gateway, "/orders/orders", "fault=malformed_chunk")
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"transfer-encoding: chunked" in head.lower() and ended is None
    size, _, rest = body.partition(b";chunk\r\n")
    assert int(size, 16) > 0 and b"\r\nzz" in rest  # one good chunk, then a size line that is no number
    with pytest.raises(httpx.RemoteProtocolError, match="chunk"):
        httpx.get(f"{gateway.url}/orders/orders", headers={"Prefer": "fault=malformed_chunk"})


def test_random_data_then_close_is_no_http(gateway: GatewayProcess) -> None:
    received, ended = raw_get(gateway, "/orders/orders", "fault=random_data_then_close")
    assert len(received) >= 64 and not received.startswith(b"H") and ended is None
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{gateway.url}/orders/orders", headers={"Prefer": "fault=random_data_then_close"})


def test_a_stub_files_fault_replaces_its_answer(gateway: GatewayProcess) -> None:
    received, _ = raw_get(gateway, "/users/users/7")
    assert received and not received.startswith(b"HTTP/")


def test_the_connection_after_a_fault_is_gone_but_the_gateway_serves_on(gateway: GatewayProcess,
                                                                        client: httpx.Client) -> None:
    for _ in range(3):
        raw_get(gateway, "/orders/orders", "fault=connection_reset")
    assert client.get("/orders/orders").status_code == 200
    assert client.get("/_gw/health").status_code == 200


def test_an_unknown_preferred_fault_is_refused_with_a_problem(client: httpx.Client) -> None:
    response = client.get("/orders/orders", headers={"Prefer": "fault=meltdown"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "fault" in response.json()["detail"] and "connection_reset" in response.json()["detail"]
    bad_delay = client.get("/orders/orders", headers={"Prefer": "delay=soon"})
    assert bad_delay.status_code == 422 and "milliseconds" in bad_delay.json()["detail"]


# -- status faults ---------------------------------------------------------------------------------

def test_a_status_fault_answers_the_documented_error_valid_against_the_spec(client: httpx.Client) -> None:
    response = client.get("/cameras/cameras/cam-001")
    assert response.status_code == 503  # getCamera's lowest documented server error
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["x-gw-chaos"] == "fault=status" and response.headers["x-gw-source"] == "chaos"
    service = load_service("cameras", SPECS / "cameras.yaml", "/cameras")
    operation = service.operations["getCamera"]
    violations = check_response(service, operation, 503, response.headers["content-type"], response.content,
                                dict(response.headers))
    assert violations == []
    assert response.json()["status"] == 503


def test_a_preferred_status_fault_takes_its_code(client: httpx.Client) -> None:
    response = client.get(f"/orders/orders/{ORDER_ID}", headers={"Prefer": "fault=status, code=404"})
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    service = load_service("orders", SPECS / "orders.yaml", "/orders")
    assert check_response(service, service.operations["getOrder"], 404, response.headers["content-type"],
                          response.content, dict(response.headers)) == []


# -- live mode -------------------------------------------------------------------------------------

def test_chaos_in_front_of_a_real_upstream(gateway: GatewayProcess, client: httpx.Client) -> None:
    before = Upstream.hits
    response, took = timed(lambda: client.get("/live/orders", headers={"Prefer": "delay=300"}))
    assert response.status_code == 200 and response.headers["x-gw-source"] == "live" and took >= 0.3
    received, ended = raw_get(gateway, "/live/orders", "fault=connection_reset")
    assert received == b"" and isinstance(ended, ConnectionResetError)
    assert Upstream.hits == before + 2  # the upstream did the work; the answer was lost on the way back


# -- rates, switches -------------------------------------------------------------------------------

def test_a_fault_rate_hits_its_share_of_requests(gateway: GatewayProcess, client: httpx.Client) -> None:
    switched = client.put("/_gw/api/services/orders/operations/listOrders/chaos",
                          json={"fault": "empty_response", "rate": 0.5})
    assert switched.status_code == 200
    try:
        failed = 0
        for _ in range(200):
            try:
                httpx.get(f"{gateway.url}/orders/orders", timeout=10).raise_for_status()
            except httpx.RemoteProtocolError:
                failed += 1
        assert 72 <= failed <= 128  # 100 expected; four standard deviations either side
    finally:
        client.delete("/_gw/api/services/orders/operations/listOrders/chaos")


def test_the_admin_api_switches_chaos_and_clears_it(client: httpx.Client) -> None:
    assert client.get("/_gw/api/services/orders/chaos").json()["summary"] == "off"
    view = client.put("/_gw/api/services/orders/chaos", json={"delay": "200ms", "fault": "status", "rate": 0.25}).json()
    assert view["switched"] == {"delay": "200ms", "fault": {"kind": "status", "rate": 0.25}}
    assert view["summary"] == "delay 200ms, status 25%"
    try:
        operation = client.get("/_gw/api/services/orders/operations/deleteOrder/chaos").json()
        assert operation["configured"] == {"delay": "300ms"}  # gateway.yaml's, for the operation
        assert operation["effective"]["delay"] == "200ms"  # a runtime switch beats the file, on any level
        own = client.put("/_gw/api/services/orders/operations/getOrder/chaos", json={"fault": "none"}).json()
        assert own["effective"] == {"delay": "200ms", "fault": {"kind": "none", "rate": 1.0}}
        client.delete("/_gw/api/services/orders/operations/getOrder/chaos")
    finally:
        cleared = client.delete("/_gw/api/services/orders/chaos")
    assert cleared.status_code == 200 and cleared.json()["switched"] is None and cleared.json()["summary"] == "off"
    response = client.get("/orders/orders")
    assert response.status_code == 200 and "x-gw-chaos" not in response.headers


def test_the_admin_api_refuses_bad_chaos_in_one_line(client: httpx.Client) -> None:
    bad = client.put("/_gw/api/services/orders/chaos", json={"delay": "soon"})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    assert "delay" in bad.json()["detail"] and "duration" in bad.json()["detail"]
    rate_alone = client.put("/_gw/api/services/orders/chaos", json={"rate": 0.5})
    assert rate_alone.status_code == 400 and "fault" in rate_alone.json()["detail"]
    unknown = client.put("/_gw/api/services/nope/chaos", json={"delay": "1s"})
    assert unknown.status_code == 404
    no_operation = client.get("/_gw/api/services/orders/operations/nope/chaos")
    assert no_operation.status_code == 404
    assert client.put("/_gw/api/services/orders/chaos", json={}).status_code == 400


def test_gw_chaos_switches_shows_and_clears(gateway: GatewayProcess, client: httpx.Client) -> None:
    port = str(gateway.port)
    switched = run_gw("chaos", "orders", "--delay", "1s", "--fault", "connection_reset", "--fault-rate", "0.1",
                      "--port", port)
    assert switched.returncode == 0, switched.stderr
    assert switched.stdout.strip() == "orders: delay 1s, connection_reset 10% (switched at runtime)"
    try:
        assert client.get("/_gw/api/services/orders/chaos").json()["summary"] == "delay 1s, connection_reset 10%"
        shown = run_gw("chaos", "orders", "-o", "getOrder", "--json", "--port", port)
        assert json.loads(shown.stdout)["effective"]["fault"] == {"kind": "connection_reset", "rate": 0.1}
        page = client.get("/_gw/ui")
        assert "chaos: <b>delay 1s, connection_reset 10% · own chaos on 1 operation</b>" in page.text  # deleteOrder's
    finally:
        off = run_gw("chaos", "orders", "--off", "--port", port)
    assert off.returncode == 0 and off.stdout.strip() == "orders: off"
    assert client.get("/_gw/api/services/orders/chaos").json()["switched"] is None
    typo = run_gw("chaos", "orders", "--fault", "meltdown", "--port", port)
    assert typo.returncode == 2 and typo.stderr.count("\n") == 1 and "--fault" in typo.stderr and "Traceback" not in typo.stderr


def test_injected_faults_and_delays_are_counted_in_metrics(gateway: GatewayProcess, client: httpx.Client) -> None:
    raw_get(gateway, "/orders/orders", "fault=connection_reset")
    client.get("/orders/orders", headers={"Prefer": "delay=10"})
    text = client.get("/_gw/metrics").text
    assert 'gw_injected_faults_total{kind="connection_reset",operation="listOrders",service="orders"}' in text
    assert 'gw_injected_delay_seconds_count{operation="listOrders",service="orders"}' in text
    journal = client.get("/_gw/api/journal", params={"limit": 5, "service": "orders"}).json()["entries"]
    assert any(entry["source"] == "chaos" and entry["status"] == 0 for entry in journal)


# -- settings ----------------------------------------------------------------------------------------

def test_bad_chaos_settings_are_one_line_naming_file_and_key() -> None:
    with pytest.raises(ConfigError, match=r"^test: services\.orders\.chaos\.delay: expected a duration"):
        build_config({"services": {"orders": {"spec": "x.yaml", "chaos": {"delay": "soon"}}}}, "test")
    with pytest.raises(ConfigError, match=r"^test: services\.orders\.operations\.getOrder\.chaos\.fault: must be one of"):
        build_config({"services": {"orders": {"spec": "x.yaml", "operations": {"getOrder": {"chaos": {"fault": "x"}}}}}},
                     "test")
    with pytest.raises(ConfigError, match=r"^test: services\.orders\.chaos\.rate: expected a share"):
        build_config({"services": {"orders": {"spec": "x.yaml", "chaos": {"fault": "status", "rate": 5}}}}, "test")
    with pytest.raises(ConfigError, match=r"^test: chaos\.max_delay"):
        build_config({"chaos": {"max_delay": 0}}, "test")
    with pytest.raises(SettingsError):
        check_chaos({"delay": "2s..1s"})


def test_env_overrides_reach_chaos_settings() -> None:
    from gw.settings.config import load_config

    config = load_config(None, {"GW_CHAOS__MAX_DELAY": "5s"})
    assert config.chaos.max_delay == 5


def test_a_stub_files_bad_chaos_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("request: {method: GET, path: /x}\nresponse: {status: 200, fault: {kind: connection_reset, rate: 2}}\n")
    with pytest.raises(StubError, match=r"bad\.yaml: response\.fault\.rate: expected a share"):
        read_stub(file, "svc")


def test_gw_init_writes_a_commented_chaos_example(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "orders.yaml").write_text((SPECS / "orders.yaml").read_text())
    (tmp_path / "specs" / "common.yaml").write_text((SPECS / "common.yaml").read_text())
    result = run_gw("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "gateway.yaml").read_text()
    assert "# chaos:" in text and "#   delay: 100ms..2s" in text and "#   rate: 0.05" in text


# -- every process -----------------------------------------------------------------------------------

def test_a_switch_reaches_every_gateway_process_sharing_redis(tmp_path: Path, upstream: str) -> None:
    redis = RedisServer(tmp_path)
    processes = []
    try:
        config = write_setup(tmp_path, upstream, redis.url)
        processes = [GatewayProcess([str(config)], cwd=tmp_path) for _ in range(2)]
        for process in processes:
            process.wait_ready()
        first, second = processes
        switched = httpx.put(f"{first.url}/_gw/api/services/orders/chaos", json={"fault": "empty_response"})
        assert switched.status_code == 200

        def faulted() -> bool:
            try:
                httpx.get(f"{second.url}/orders/orders")
            except httpx.RemoteProtocolError:
                return True
            return False

        eventually(faulted, timeout=5)
        httpx.delete(f"{second.url}/_gw/api/services/orders/chaos", headers={"X-GW-Admin": "1"})
        eventually(lambda: not faulted(), timeout=5)
        eventually(lambda: httpx.get(f"{first.url}/_gw/api/services/orders/chaos").json()["switched"] is None, timeout=5)
    finally:
        for process in processes:
            process.stop()
        redis.stop()


def test_requests_cannot_ask_for_chaos_when_prefer_is_off(start_gateway: Any) -> None:
    gateway = start_gateway({"orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders"}},
                            chaos={"prefer": False})
    with gateway.client() as http:
        response, took = timed(lambda: http.get("/orders/orders", headers={"Prefer": "delay=3000, fault=empty_response"}))
    assert response.status_code == 200 and "x-gw-chaos" not in response.headers and took < 3
