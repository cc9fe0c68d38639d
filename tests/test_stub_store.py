"""Stub files answer first in stub and spy modes: most specific wins, misses say why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gw.stubs import StubError, StubStore
from gw.stubs.format import read_stub
from gw.stubs.matchers import RequestView, json_path
from tests.conftest import SPECS, GatewayThread
from tests.upstream import UpstreamServer

ALICE = """
request: {method: GET, path: /users/1}
response:
  status: 200
  headers: {Content-Type: application/json}
  body: {id: 1, username: recorded_alice, email: alice@example.com, role: admin, created_at: "2024-01-01T00:00:00Z"}
meta: {operation: getUser}
"""
BOB = """
request: {method: GET, path: /users/2}
response:
  status: 200
  headers: {Content-Type: application/json}
  body: {id: 2, username: recorded_bob, email: bob@example.com, role: viewer, created_at: "2024-01-01T00:00:00Z"}
meta: {operation: getUser}
"""
ANY_USER = """
request: {method: GET, path: {regex: "^/users/[0-9]+$"}}
response: {status: 404, headers: {Content-Type: application/problem+json}, body: '{"title": "gone"}'}
"""
VERBOSE_LIST = """
request:
  method: GET
  path: /users
  query: {role: admin}
  headers: {X-Tenant: acme}
response: {status: 200, headers: {Content-Type: application/json}, body: {items: [], total: 0, limit: 20, offset: 0}}
"""
ORDER_FOR_CUSTOMER = """
request:
  method: POST
  path: /orders
  body:
    $.customer_id: cus_12345678
    $.items[*].sku: {regex: "^ABC-"}
response: {status: 201, headers: {Content-Type: application/json, Location: /orders/1}, body: {matched: true}}
"""


def write_store(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def start(start_gateway: Callable[..., GatewayThread], stubs: Path, mode: str = "stub", upstream: str = "") -> GatewayThread:
    services = {"users": {"spec": str(SPECS / "users.yaml"), "mode": mode, **({"upstream": upstream} if upstream else {})},
                "orders": {"spec": str(SPECS / "orders.yaml")}}
    return start_gateway(services, stubs=str(stubs))


def test_a_matching_stub_answers_and_others_for_the_same_operation_coexist(start_gateway, tmp_path: Path) -> None:
    stubs = write_store(tmp_path, {"users/getUser-alice.yaml": ALICE, "users/getUser-bob.yaml": BOB})
    with start(start_gateway, stubs).client() as client:
        alice, bob = client.get("/users/users/1"), client.get("/users/users/2")
        other = client.get("/users/users/3")
    assert (alice.json()["username"], bob.json()["username"]) == ("recorded_alice", "recorded_bob")
    assert alice.headers["x-gw-source"] == "recorded"
    assert alice.headers["x-gw-stub"] == "users/getUser-alice"
    assert other.headers["x-gw-source"] == "example"


def test_unmatched_request_reports_the_near_misses(start_gateway, tmp_path: Path) -> None:
    stubs = write_store(tmp_path, {"users/list-admins.yaml": VERBOSE_LIST})
    with start(start_gateway, stubs).client() as client:
        hit = client.get("/users/users?role=admin", headers={"X-Tenant": "acme"})
        miss = client.get("/users/users?role=viewer", headers={"X-Tenant": "acme"})
    assert hit.headers["x-gw-stub"] == "users/list-admins"
    assert miss.headers["x-gw-source"] == "generated"
    assert miss.headers["x-gw-near-miss"] == 'list-admins: query role: expected "admin", got "viewer"'


def test_json_body_fields_are_matched_by_jsonpath(start_gateway, tmp_path: Path) -> None:
    stubs = write_store(tmp_path, {"orders/create.yaml": ORDER_FOR_CUSTOMER})
    order = {"customer_id": "cus_12345678", "shipping_address": {"line1": "1 Main St", "city": "Lisbon",
             "postal_code": "1000-001", "country": "PT"}, "items": [{"sku": "ABC-0001", "quantity": 1, "unit_price": 3}]}
    with start(start_gateway, stubs).client() as client:
        matched = client.post("/orders/orders", json=order)
        order["items"][0]["sku"] = "XYZ-0001"
        missed = client.post("/orders/orders", json=order)
    assert matched.json() == {"matched": True}
    assert matched.headers["location"] == "/orders/1"
    assert "body $.items[*].sku" in missed.headers["x-gw-near-miss"]


def test_spy_mode_answers_recorded_requests_and_proxies_the_rest(start_gateway, tmp_path: Path,
                                                                 upstream: UpstreamServer) -> None:
    stubs = write_store(tmp_path, {"users/getUser-alice.yaml": ALICE})
    with start(start_gateway, stubs, mode="spy", upstream=upstream.url).client() as client:
        recorded = client.get("/users/users/1")
        live = client.get("/users/users/2")
    assert recorded.headers["x-gw-source"] == "recorded"
    assert live.headers["x-gw-source"] == "live"
    assert live.json()["path"] == "/users/2"


def test_a_broken_stub_file_is_reported_and_the_rest_still_load(tmp_path: Path) -> None:
    write_store(tmp_path, {"users/good.yaml": ALICE, "users/bad.yaml": "request: {method: FETCH}\nresponse: {}\n",
                           "users/worse.yaml": "request: [unclosed\n"})
    store = StubStore(tmp_path, ["users"])
    assert [s.id for s in store.all()] == ["good"]
    messages = sorted(str(e) for e in store.errors)
    assert messages[0] == f"{tmp_path / 'users/bad.yaml'}: request.method: expected an HTTP method, got 'FETCH'"
    assert "worse.yaml: line 2: not valid YAML" in messages[1]


@pytest.mark.parametrize(("text", "place"), [
    ("request: {method: GET, qurey: {}}\nresponse: {status: 200}\n", "request.qurey"),
    ("request: {method: GET}\nresponse: {status: 999}\n", "response.status"),
    ("request: {method: GET, path: {regex: '(['}}\nresponse: {}\n", "request.path"),
    ("request: {method: GET, body: {customer: 1}}\nresponse: {}\n", "request.body.customer"),
    ("request: {method: GET}\nresponse: {body_file: missing.bin}\n", "response.body_file"),
])
def test_stub_errors_name_file_and_place(tmp_path: Path, text: str, place: str) -> None:
    file = tmp_path / "stub.yaml"
    file.write_text(text)
    with pytest.raises(StubError) as caught:
        read_stub(file, "users")
    assert str(caught.value).startswith(f"{file}: {place}: ")


def test_side_file_bodies_are_served_as_bytes(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\nrest")
    file = tmp_path / "logo.yaml"
    file.write_text("request: {method: GET, path: /logo}\nresponse: {status: 200, headers: {Content-Type: image/png}, "
                    "body_file: logo.png}\n")
    assert read_stub(file, "s").response_body == b"\x89PNG\r\n\x1a\nrest"


def test_json_path_subset() -> None:
    document = {"a": {"b": [{"c": 1}, {"c": 2}]}, "odd key": True}
    assert json_path(document, "$.a.b[1].c") == [2]
    assert json_path(document, "$.a.b[*].c") == [1, 2]
    assert json_path(document, "$['odd key']") == [True]
    assert json_path(document, "$.a.missing") == []


def test_request_view_reads_json_once() -> None:
    view = RequestView("POST", "/x", {}, {}, b'{"a": 1}')
    assert view.json() == {"a": 1}
    assert view.json() is view.json()
