"""Stub body matchers speak RFC 9535 JSONPath (descendants, negative indexes, filters), compiled when the stub file
loads: a path that is not JSONPath is a load-time error naming the file and the place, never a stub that silently
matches nothing. The paths stubs used before keep working, and verification counts with the same queries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gw.stubs.format import StubError, read_stub
from gw.stubs.matchers import json_path
from tests.conftest import SPECS, GatewayThread, gateway_config, run_gw

ADDRESS = {"line1": "Keizersgracht 123", "city": "Amsterdam", "postal_code": "1015 CJ", "country": "NL"}
MONEY = {"amount": 1.0, "currency": "EUR"}


def order(number: int) -> dict[str, Any]:
    return {"id": f"5ca1ab1e-0000-4000-8000-00000000000{number}", "customer_id": "cus_7Hq2LmX9", "status": "pending",
            "items": [{"sku": "ABC-1234", "quantity": 1, "unit_price": 1.0}], "shipping_address": ADDRESS,
            "totals": {"subtotal": MONEY, "shipping": MONEY, "tax": MONEY, "total": MONEY},
            "created_at": "2026-11-20T09:30:00Z"}


def stub(body: dict[str, Any], number: int) -> str:
    return yaml.safe_dump({"request": {"method": "POST", "path": "/orders", "body": body},
                           "response": {"status": 201, "headers": {"Content-Type": "application/json"}, "body": order(number)},
                           "meta": {"operation": "createOrder"}}, sort_keys=False)


STUBS = {
    "deep-sku": stub({"$..sku": "XYZ-0042"}, 1),  # a descendant, at any depth
    "last-item": stub({"$.items[-1].sku": "QRS-0007"}, 2),  # a negative index
    "bulk": stub({"$.items[?@.quantity > 500].sku": {"regex": "^BLK-"}}, 3),  # a filter
    "dotted": stub({"$.shipping_address.city": "Utrecht", "$['customer_id']": "cus_Dotted001", "$.items[0].sku": "DOT-0001",
                    "$.items[*].quantity": 7}, 4),  # the paths stubs wrote before RFC 9535
}


def new_order(*items: tuple[str, int], customer: str = "cus_7Hq2LmX9", city: str = "Amsterdam") -> dict[str, Any]:
    return {"customer_id": customer, "items": [{"sku": s, "quantity": q, "unit_price": 2.5} for s, q in items],
            "shipping_address": {**ADDRESS, "city": city}}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    root = tmp_path_factory.mktemp("jsonpath")
    (root / "orders").mkdir()
    for name, text in STUBS.items():
        (root / "orders" / f"{name}.yaml").write_text(text)
    services = {"orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders"}}
    with GatewayThread(gateway_config(services, stubs=str(root))) as served:
        yield served


@pytest.fixture
def client(gateway: GatewayThread) -> Iterator[httpx.Client]:
    with gateway.client(headers={"X-GW-Admin": "1"}) as http:
        yield http


@pytest.mark.parametrize(("sent", "number"), [
    (new_order(("ABC-1234", 1), ("XYZ-0042", 2)), 1),
    (new_order(("ABC-1234", 1), ("QRS-0007", 2)), 2),
    (new_order(("ABC-1234", 1), ("BLK-0001", 900)), 3),
    (new_order(("DOT-0001", 7), customer="cus_Dotted001", city="Utrecht"), 4),
], ids=["descendant", "negative-index", "filter", "dotted-paths"])
def test_the_stub_whose_jsonpath_matches_the_body_answers(client: httpx.Client, sent: dict[str, Any], number: int) -> None:
    answer = client.post("/orders/orders", json=sent)

    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-gw-source"] == "recorded"
    assert answer.json()["id"] == order(number)["id"]


def test_a_body_no_jsonpath_matches_is_answered_without_a_stub(client: httpx.Client) -> None:
    answer = client.post("/orders/orders", json=new_order(("ABC-1234", 1)))

    assert answer.status_code == 201
    assert answer.headers["x-gw-source"] != "recorded"


def test_verification_counts_with_the_same_jsonpath(client: httpx.Client) -> None:
    client.delete("/_gw/api/requests")
    client.post("/orders/orders", json=new_order(("XYZ-0042", 1)))
    client.post("/orders/orders", json=new_order(("ABC-1234", 600)))

    def count(body: dict[str, Any]) -> httpx.Response:
        return client.post("/_gw/api/requests/count", json={"service": "orders", "request": {"method": "POST", "body": body}})

    assert count({"$..sku": "XYZ-0042"}).json() == {"count": 1}
    assert count({"$.items[?@.quantity >= 600].sku": "ABC-1234"}).json() == {"count": 1}
    refused = count({"$.items[?@.quantity >=]": 1})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "request.body.$.items[?@.quantity >=]" in refused.json()["detail"]


def test_a_stub_sent_over_the_api_with_a_bad_jsonpath_is_refused_with_the_place(client: httpx.Client) -> None:
    sent = {"service": "orders", "request": {"method": "POST", "path": "/orders", "body": {"$..": "x"}},
            "response": {"status": 201, "body": order(5)}}

    refused = client.post("/_gw/api/stubs", json=sent)

    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert errors[0]["name"] == "request.body.$.."
    assert errors[0]["message"].startswith("not a JSONPath (RFC 9535): ")


def test_a_bad_jsonpath_is_a_load_time_error_naming_file_and_place(tmp_path: Path) -> None:
    folder = tmp_path / "stubs" / "orders"
    folder.mkdir(parents=True)
    (folder / "broken.yaml").write_text(stub({"$.items[": "x"}, 1))
    (tmp_path / "gateway.yaml").write_text(f"services:\n  orders: {{spec: {SPECS / 'orders.yaml'}}}\nstubs: stubs\n")

    listed = run_gw("stubs", "list", cwd=tmp_path, env={"COLUMNS": "300"})

    assert listed.returncode == 1
    assert (f"{folder / 'broken.yaml'}: request.body.$.items[: not a JSONPath (RFC 9535): unbalanced brackets, "
            "line 1, column 8") in " ".join(listed.stderr.split())


def test_read_stub_raises_the_same_error(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(stub({"$.items[?@.sku ==]": "x"}, 1))
    with pytest.raises(StubError) as raised:
        read_stub(file, "orders")
    assert raised.value.key == "request.body.$.items[?@.sku ==]"
    assert "not a JSONPath (RFC 9535)" in raised.value.reason


DOCUMENT = json.loads('{"a": {"b": [{"c": 1}, {"c": 2}]}, "odd key": true, "x-id": "h", "$ref": "r", '
                      '"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 3, "tags": {"sku": "C"}}]}')


@pytest.mark.parametrize(("path", "found"), [
    ("$.a.b[1].c", [2]), ("$.a.b[*].c", [1, 2]), ("$['odd key']", [True]), ("$.a.missing", []), ("$", [DOCUMENT]),
    ("$.x-id", ["h"]), ("$.$ref", ["r"]), ('$["odd key"]', [True]), ("$.a.b[5]", []), ("$.a.b.*.c", [1, 2]),
    ("$..sku", ["A", "B", "C"]), ("$.items[-1].sku", ["B"]), ("$.items[?@.qty > 1].sku", ["B"]),
    ("$.items[0:1].sku", ["A"]), ("$.items[?match(@.sku, '[AB]')].qty", [1, 3]), ("$.items[?length(@.tags) == 1].sku", ["B"]),
    ("$.items[", []), ("items", []),
])
def test_json_path_reads_rfc_9535_and_the_older_dotted_names(path: str, found: list[Any]) -> None:
    assert json_path(DOCUMENT, path) == found
