"""Stateful resources (`state:`): a real `gw serve` remembers what clients create, per session, within the contract.

The walk runs on the bundled samples (specs/orders.yaml, specs/users.yaml) and on tests/specs/stateful_shop.yaml
(integer ids, PUT, merge-patch PATCH, a nested collection, cursor paging in a `data` envelope, a custom 404 shape).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from gw.app import load_services
from gw.core.problems import Problem
from gw.settings.config import build_config
from gw.settings.init_config import init
from gw.simulation.inference import state_catalogs
from gw.simulation.json_patch import apply_patch
from gw.simulation.listing import page_of
from gw.simulation.resources import merge_patch
from tests.conftest import SPECS, TEST_SPECS, GatewayProcess, GatewayThread, RedisServer, eventually, gateway_config, run_cli

ORDER = {"customer_id": "cus_7Hq2LmX9", "items": [{"sku": "ABC-1234", "quantity": 2, "unit_price": 19.99}],
         "shipping_address": {"line1": "Keizersgracht 123", "city": "Amsterdam", "postal_code": "1015 CJ", "country": "NL"}}
SEED_USERS = {"users": [
    {"id": 1, "username": "alice", "email": "alice@example.com", "role": "admin", "created_at": "2023-11-14T08:30:00Z"},
    {"id": 2, "username": "bob", "email": "bob@example.org", "role": "viewer", "created_at": "2024-01-20T17:45:10Z"},
]}
ADMIN = {"X-GW-Admin": "1"}


def write_project(folder: Path, **top: object) -> Path:
    """gateway.yaml with three stateful services, seed data for users, and a broken seed file for shop."""
    config = {
        "reload": False,
        **top,
        "services": {
            "orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders", "state": True},
            "users": {"spec": str(SPECS / "users.yaml"), "base_path": "/users",
                      "state": {"collections": {"users": {"path": "/users", "item": "/users/{user_id}",
                                                          "create": "/register"}}}},
            "shop": {"spec": str(TEST_SPECS / "stateful_shop.yaml"), "base_path": "/shop",
                     "state": {"max_resources": 40}},
        },
    }
    (folder / "stubs" / "users" / "state").mkdir(parents=True)
    (folder / "stubs" / "users" / "state" / "people.yaml").write_text(yaml.safe_dump(SEED_USERS))
    (folder / "stubs" / "shop" / "state").mkdir(parents=True)
    (folder / "stubs" / "shop" / "state" / "broken.yaml").write_text(
        yaml.safe_dump({"customers": [{"customerId": 7, "name": "x", "tier": "platinum", "createdAt": "2024-01-01T00:00:00Z"}]}))
    (folder / "stubs" / "shop" / "getCustomer-77.yaml").write_text(yaml.safe_dump({
        "request": {"method": "GET", "path": "/customers/77"},
        "response": {"status": 200, "headers": {"Content-Type": "application/json"},
                     "body": {"customerId": 77, "name": "stub", "tier": "gold", "createdAt": "2024-01-01T00:00:00Z"}}}))
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    folder = tmp_path_factory.mktemp("stateful")
    write_project(folder)
    process = GatewayProcess([], cwd=folder).wait_ready()
    yield process
    process.stop()


@pytest.fixture
def client(served: GatewayProcess) -> Iterator[httpx.Client]:
    """A client in a session of its own: every test starts from the seed, whatever the others created."""
    with httpx.Client(base_url=served.url, timeout=10, headers={"X-GW-Session": f"t-{uuid.uuid4().hex[:12]}"}) as c:
        yield c


def within_contract(response: httpx.Response) -> httpx.Response:
    assert "x-gw-contract" not in response.headers, response.headers.get("x-gw-contract-reason")
    return response


def test_an_order_is_created_read_listed_deleted_and_then_the_specs_404(client: httpx.Client) -> None:
    created = within_contract(client.post("/orders/orders", json=ORDER))
    assert created.status_code == 201
    order = created.json()
    assert uuid.UUID(order["id"]).version == 4
    assert {k: order[k] for k in ORDER} == ORDER
    assert order["status"] == "pending"  # the enum's first value, not a random pick
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", order["created_at"])
    assert created.headers["location"] == f"/orders/orders/{order['id']}"
    assert created.headers["x-gw-source"] == "state"

    read = within_contract(client.get(created.headers["location"]))
    assert read.status_code == 200 and read.json() == order

    listed = within_contract(client.get("/orders/orders"))
    assert listed.status_code == 200
    assert listed.json()["items"] == [order] and listed.json()["total"] == 1

    deleted = within_contract(client.delete(f"/orders/orders/{order['id']}"))
    assert deleted.status_code == 204 and deleted.content == b""

    gone = within_contract(client.get(f"/orders/orders/{order['id']}"))
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")
    assert gone.json()["status"] == 404 and order["id"] in gone.json()["detail"]
    assert within_contract(client.delete(f"/orders/orders/{order['id']}")).status_code == 404
    assert within_contract(client.get("/orders/orders")).json()["total"] == 0


def test_an_id_never_created_is_a_404_not_a_generated_200(client: httpx.Client) -> None:
    response = within_contract(client.get(f"/orders/orders/{uuid.uuid4()}"))
    assert response.status_code == 404


def test_a_custom_error_shape_carries_the_404(client: httpx.Client) -> None:
    response = within_contract(client.get("/shop/customers/999"))
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not-found", "message": "no customers with id 999"}}


def test_integer_ids_increase_and_put_replaces_while_keeping_id_and_creation_time(client: httpx.Client) -> None:
    first = within_contract(client.post("/shop/customers", json={"name": "ann", "nickname": "a"})).json()
    second = within_contract(client.post("/shop/customers", json={"name": "bob"})).json()
    assert second["customerId"] == first["customerId"] + 1
    replaced = within_contract(client.put(f"/shop/customers/{first['customerId']}", json={"name": "ann2", "tier": "gold"}))
    assert replaced.status_code == 200
    body = replaced.json()
    assert body["name"] == "ann2" and body["tier"] == "gold" and "nickname" not in body
    assert body["customerId"] == first["customerId"] and body["createdAt"] == first["createdAt"]
    assert within_contract(client.get(f"/shop/customers/{first['customerId']}")).json() == body


def test_patch_merges_and_merge_patch_null_removes_a_field(client: httpx.Client) -> None:
    made = client.post("/shop/customers", json={"name": "cy", "address": {"city": "Oslo", "zip": "0150"}})
    customer = within_contract(made).json()
    where = f"/shop/customers/{customer['customerId']}"
    merged = within_contract(client.patch(where, content=json.dumps({"address": {"city": "Bergen"}, "nickname": None}),
                                          headers={"content-type": "application/merge-patch+json"})).json()
    assert merged["address"] == {"city": "Bergen", "zip": "0150"} and "nickname" not in merged
    assert merged["name"] == "cy" and merged["customerId"] == customer["customerId"]
    plain = within_contract(client.patch(where, json={"nickname": None})).json()  # application/json: a shallow merge
    assert plain["nickname"] is None and plain["address"] == {"city": "Bergen", "zip": "0150"}


def test_patch_applies_json_patch_operations_or_refuses_them_whole(client: httpx.Client) -> None:
    customer = within_contract(client.post("/shop/customers", json={"name": "ed", "address": {"city": "Rome"}})).json()
    where, media = f"/shop/customers/{customer['customerId']}", {"content-type": "application/json-patch+json"}
    operations = [{"op": "test", "path": "/name", "value": "ed"}, {"op": "replace", "path": "/name", "value": "eddie"},
                  {"op": "add", "path": "/address/zip", "value": "00100"}, {"op": "remove", "path": "/tier"}]
    patched = within_contract(client.patch(where, content=json.dumps(operations), headers=media)).json()
    assert patched["name"] == "eddie" and patched["address"] == {"city": "Rome", "zip": "00100"}
    assert patched["tier"] == customer["tier"]  # required: a patch cannot take it away
    failing = [{"op": "replace", "path": "/name", "value": "x"}, {"op": "test", "path": "/name", "value": "nope"}]
    refused = client.patch(where, content=json.dumps(failing), headers=media)
    assert refused.status_code == 422 and "operation 1: test failed at /name" in refused.json()["detail"]
    assert within_contract(client.get(where)).json()["name"] == "eddie"  # all or nothing


def test_delete_answers_its_documented_200_with_the_resource(client: httpx.Client) -> None:
    customer = within_contract(client.post("/shop/customers", json={"name": "di"})).json()
    deleted = within_contract(client.delete(f"/shop/customers/{customer['customerId']}"))
    assert deleted.status_code == 200 and deleted.json()["customerId"] == customer["customerId"]
    assert within_contract(client.patch(f"/shop/customers/{customer['customerId']}", json={"name": "x"})).status_code == 404


def test_pages_by_page_and_per_page_with_the_envelope_total(client: httpx.Client) -> None:
    ids = [within_contract(client.post("/orders/orders", json=ORDER)).json()["id"] for _ in range(5)]
    pages = [within_contract(client.get("/orders/orders", params={"page": n, "per_page": 2})).json() for n in (1, 2, 3)]
    assert [[o["id"] for o in p["items"]] for p in pages] == [ids[:2], ids[2:4], ids[4:]]
    assert [(p["page"], p["per_page"], p["total"]) for p in pages] == [(1, 2, 5), (2, 2, 5), (3, 2, 5)]


def test_pages_by_limit_and_offset(client: httpx.Client) -> None:
    created = [within_contract(client.post("/users/register", json={"username": f"user_{n}", "email": f"u{n}@example.com",
                                                                    "password": "correct-horse"})).json() for n in range(3)]
    page = within_contract(client.get("/users/users", params={"limit": 2, "offset": 1})).json()
    assert [u["username"] for u in page["items"]] == ["bob", "user_0"]  # the seed first, then what was created
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert created[0]["id"] == 3  # integer ids go on after the seed's


def test_pages_by_cursor_and_filters_on_item_fields(client: httpx.Client) -> None:
    for n, tier in enumerate(["gold", "silver", "gold", "gold", "silver"]):
        within_contract(client.post("/shop/customers", json={"name": f"c{n}", "tier": tier}))
    first = within_contract(client.get("/shop/customers")).json()  # limit defaults to 2, as the spec says
    assert [c["name"] for c in first["data"]] == ["c0", "c1"]
    assert first["has_more"] is True and first["meta"] == {"total_count": 5}
    seen = [c["name"] for c in first["data"]]
    page = first
    while page["has_more"]:
        page = within_contract(client.get("/shop/customers", params={"cursor": page["next_cursor"]})).json()
        seen += [c["name"] for c in page["data"]]
    assert seen == ["c0", "c1", "c2", "c3", "c4"] and page["next_cursor"] is None
    gold = within_contract(client.get("/shop/customers", params={"tier": "gold", "limit": 10})).json()
    assert [c["name"] for c in gold["data"]] == ["c0", "c2", "c3"] and gold["meta"]["total_count"] == 3


def test_lists_sort_as_the_query_asks(client: httpx.Client) -> None:
    for name, tier in (("bea", "gold"), ("al", "silver"), ("cid", "gold")):
        within_contract(client.post("/shop/customers", json={"name": name, "tier": tier}))

    def names(sort: str) -> list[str]:
        page = within_contract(client.get("/shop/customers", params={"sort": sort, "limit": 10})).json()
        return [c["name"] for c in page["data"]]
    assert names("name") == ["al", "bea", "cid"]
    assert names("-name") == ["cid", "bea", "al"]
    assert names("tier,-name") == ["cid", "bea", "al"]
    assert names("no_such_field") == ["bea", "al", "cid"]  # unknown fields leave the order as created


def test_a_cursor_the_api_never_handed_out_is_a_400(client: httpx.Client) -> None:
    response = client.get("/shop/customers", params={"cursor": "nonsense"})
    assert response.status_code == 400


def test_nested_collections_are_scoped_to_their_parent(client: httpx.Client) -> None:
    one, two = (within_contract(client.post("/shop/customers", json={"name": n})).json()["customerId"] for n in "ab")
    cart = within_contract(client.post(f"/shop/customers/{one}/carts", json={"label": "weekend"}))
    assert cart.status_code == 201
    body = cart.json()
    assert re.fullmatch(r"cart_[a-z0-9]{8}", body["id"]) and body["customerId"] == one
    assert cart.headers["location"] == f"/shop/customers/{one}/carts/{body['id']}"
    assert within_contract(client.get(f"/shop/customers/{one}/carts")).json() == [body]
    assert within_contract(client.get(f"/shop/customers/{two}/carts")).json() == []
    assert within_contract(client.get(f"/shop/customers/{two}/carts/{body['id']}")).status_code == 404


def test_a_bare_array_list_says_its_total_and_neighbours_in_headers(client: httpx.Client) -> None:
    owner = within_contract(client.post("/shop/customers", json={"name": "fay"})).json()["customerId"]
    for label in "abc":
        within_contract(client.post(f"/shop/customers/{owner}/carts", json={"label": label}))
    page = within_contract(client.get(f"/shop/customers/{owner}/carts", params={"offset": 1}))
    assert [c["label"] for c in page.json()] == ["b", "c"] and page.headers["x-total-count"] == "3"
    assert page.headers["link"] == (f'</shop/customers/{owner}/carts?offset=0&limit=2>; rel="prev", '
                                    f'</shop/customers/{owner}/carts?offset=0&limit=2>; rel="first"')
    first = within_contract(client.get(f"/shop/customers/{owner}/carts"))
    assert first.headers["link"].startswith(f'</shop/customers/{owner}/carts?offset=2&limit=2>; rel="next"')


def test_below_a_parent_that_does_not_exist_is_the_documented_404(client: httpx.Client) -> None:
    response = within_contract(client.get("/shop/customers/999/carts/cart_abcdefgh"))
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "no customers with id 999"


def test_two_sessions_do_not_see_each_others_resources(served: GatewayProcess) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as raw:
        one, two = {"X-GW-Session": "run-one"}, {"X-GW-Session": "run-two"}
        made = within_contract(raw.post("/orders/orders", json=ORDER, headers=one)).json()
        assert raw.get(f"/orders/orders/{made['id']}", headers=one).status_code == 200
        assert raw.get(f"/orders/orders/{made['id']}", headers=two).status_code == 404
        assert raw.get("/orders/orders", headers=two).json()["total"] == 0
        assert raw.get("/orders/orders", headers=one).json()["total"] == 1


def test_a_malformed_session_is_a_400(served: GatewayProcess) -> None:
    response = httpx.get(f"{served.url}/orders/orders", headers={"X-GW-Session": "no spaces"})
    assert response.status_code == 400


def test_seed_data_is_there_and_an_admin_reset_brings_it_back(served: GatewayProcess) -> None:
    session = {"X-GW-Session": "seeded"}
    with httpx.Client(base_url=served.url, timeout=10) as raw:
        assert within_contract(raw.get("/users/users/2", headers=session)).json()["username"] == "bob"
        carol = raw.post("/users/register", json={"username": "carol", "email": "c@example.com", "password": "12345678"},
                         headers=session).json()
        raw.delete("/users/users/1", headers=session)  # not an operation of users.yaml: the 405 changes nothing
        dump = raw.get("/_gw/api/services/users/state", params={"session": "seeded"}).json()
        names = [u["username"] for u in dump["sessions"]["seeded"][0]["items"]]
        assert names == ["alice", "bob", "carol"]
        assert dump["collections"][0]["operations"] == {"listUsers": "list", "getUser": "read", "updateUser": "update",
                                                        "registerUser": "create"}

        reset = raw.delete("/_gw/api/services/users/state", params={"session": "seeded"}, headers=ADMIN)
        assert reset.status_code == 200 and reset.json() == {"service": "users", "reset": ["seeded"]}
        assert raw.get(f"/users/users/{carol['id']}", headers=session).status_code == 404
        listed = raw.get("/users/users", headers=session).json()
        assert [u["username"] for u in listed["items"]] == ["alice", "bob"]


def test_a_service_without_state_has_no_state_to_dump(served: GatewayProcess) -> None:
    assert httpx.get(f"{served.url}/_gw/api/services/nope/state").status_code == 404


def test_a_bad_seed_file_is_one_line_naming_file_place_and_reason(served: GatewayProcess) -> None:
    line = eventually(lambda: next((json.loads(x) for x in served.log().splitlines() if "seed file skipped" in x), None))
    assert re.search(r"broken\.yaml: customers\[0\]\.tier: 'platinum' is not one of", line["msg"]), line["msg"]


def test_an_answer_that_breaks_the_contract_is_marked_and_counted(served: GatewayProcess) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as raw:
        response = raw.post("/shop/notes", json={"text": "longer than five"})
        assert response.status_code == 201
        assert response.headers["x-gw-contract"] == "violation"
        assert "body/text" in response.headers["x-gw-contract-reason"]
        metrics = raw.get("/_gw/metrics").text
    assert re.search(r'gw_contract_violations_total\{operation="createNote",service="shop"\} 1', metrics)


def test_a_stub_file_that_matches_still_answers_first(client: httpx.Client) -> None:
    response = within_contract(client.get("/shop/customers/77"))
    assert response.status_code == 200 and response.headers["x-gw-source"] == "recorded"
    assert response.json()["name"] == "stub"
    assert within_contract(client.get("/shop/customers/78")).status_code == 404


def test_prefer_still_reaches_the_mocker_for_error_screens(client: httpx.Client) -> None:
    response = client.get(f"/orders/orders/{uuid.uuid4()}", headers={"Prefer": "code=200"})
    assert response.status_code == 200 and response.headers["x-gw-source"] in ("example", "generated")


def test_the_collection_bound_refuses_one_more_create() -> None:
    config = gateway_config({"orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders",
                                        "state": {"max_resources": 2}}})
    with GatewayThread(config) as gateway, gateway.client() as c:
        assert [c.post("/orders/orders", json=ORDER).status_code for _ in range(2)] == [201, 201]
        refused = c.post("/orders/orders", json=ORDER)
        assert refused.status_code == 507 and refused.json()["type"].endswith("state-full")
        assert c.get("/orders/orders").json()["total"] == 2


def test_beyond_max_sessions_the_oldest_session_is_forgotten() -> None:
    config = gateway_config({"orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders",
                                        "state": {"max_sessions": 2}}})
    with GatewayThread(config) as gateway, gateway.client() as c:
        made = {s: c.post("/orders/orders", json=ORDER, headers={"X-GW-Session": s}).json()["id"] for s in ("a", "b", "c")}
        assert set(c.get("/_gw/api/services/orders/state").json()["sessions"]) == {"b", "c"}
        for session in ("b", "c"):
            assert c.get(f"/orders/orders/{made[session]}", headers={"X-GW-Session": session}).status_code == 200
        assert c.get(f"/orders/orders/{made['a']}", headers={"X-GW-Session": "a"}).status_code == 404


def test_state_is_shared_by_two_processes_through_redis(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)
    folder = tmp_path / "project"
    folder.mkdir()
    write_project(folder, redis_url=redis.url)
    first, second = GatewayProcess([], cwd=folder), GatewayProcess([], cwd=folder)
    try:
        first.wait_ready(), second.wait_ready()
        made = [within_contract(httpx.post(f"{gw.url}/orders/orders", json=ORDER)).json() for gw in (first, second, first)]
        for gw in (first, second):
            assert [o["id"] for o in httpx.get(f"{gw.url}/orders/orders").json()["items"]] == [o["id"] for o in made]
        users = [httpx.post(f"{gw.url}/users/register", json={"username": f"r_{n}", "email": f"r{n}@example.com",
                                                               "password": "12345678"}).json()["id"]
                 for n, gw in enumerate((first, second, first, second))]
        assert users == [3, 4, 5, 6]  # one counter for both: no id handed out twice
        customer = httpx.post(f"{first.url}/shop/customers", json={"name": "shared"}).json()
        patched = httpx.patch(f"{second.url}/shop/customers/{customer['customerId']}", json={"nickname": "both"})
        assert within_contract(patched).json()["nickname"] == "both"
        assert httpx.get(f"{first.url}/shop/customers/{customer['customerId']}").json()["nickname"] == "both"
        assert httpx.delete(f"{second.url}/orders/orders/{made[0]['id']}").status_code == 204
        assert httpx.get(f"{first.url}/orders/orders/{made[0]['id']}").status_code == 404
        assert httpx.delete(f"{first.url}/_gw/api/services/orders/state", headers=ADMIN).status_code == 200
        assert httpx.get(f"{second.url}/orders/orders").json()["total"] == 0
    finally:
        first.stop(), second.stop()
        redis.stop()


def test_gw_routes_shows_what_was_inferred(tmp_path: Path) -> None:
    write_project(tmp_path)
    listed = json.loads(run_cli("routes", "--json", cwd=tmp_path).stdout)
    by_operation = {row["operation"]: row["state"] for row in listed}
    assert by_operation["createOrder"] == "orders: create"
    assert by_operation["registerUser"] == "users: create"
    assert by_operation["listCarts"] == "carts: list"
    assert by_operation["GET /me"] == ""


def test_a_bad_state_setting_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text(yaml.safe_dump(
        {"services": {"orders": {"spec": str(SPECS / "orders.yaml"), "state": {"max_resources": 0}}}}))
    result = run_cli("routes", cwd=tmp_path)
    assert result.returncode != 0
    assert "services.orders.state.max_resources: expected a whole number of 1 or more" in result.stderr


def test_gw_init_writes_a_commented_state_example(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "orders.yaml").write_text((SPECS / "orders.yaml").read_text())
    target, _, _ = init([], tmp_path)
    text = target.read_text()
    assert "    # state: true" in text and "state: {max_resources: 1000, collections:" in text
    config = yaml.safe_load(text.replace("    # state: true ", "    state: true #"))
    assert build_config(config, str(target)).services["orders"].state is not None


def test_infer_false_keeps_only_the_collections_named(tmp_path: Path) -> None:
    config = gateway_config({"users": {"spec": str(SPECS / "users.yaml"), "state": {
        "infer": False, "collections": {"people": {"item": "/users/{user_id}", "id": "id"}}}}})
    catalog = state_catalogs(config.services, load_services(config).services)["users"]
    assert list(catalog.collections) == ["people"]
    assert catalog.operations.keys() == {"getUser", "updateUser"}


def test_tags_keep_only_those_operation_groups() -> None:
    config = gateway_config({"users": {"spec": str(SPECS / "users.yaml"), "state": {
        "tags": ["directory"], "collections": {"users": {"path": "/users", "item": "/users/{user_id}"}}}},
        "cameras": {"spec": str(SPECS / "cameras.yaml"), "state": {"tags": ["no-such-tag"]}}})
    catalogs = state_catalogs(config.services, load_services(config).services)
    assert list(catalogs["users"].collections) == ["users"] and catalogs["cameras"].collections == {}


@pytest.mark.parametrize(("target", "patch", "result"), [  # RFC 7396, appendix A
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ({"a": {"b": "c", "d": "e"}}, {"a": {"b": None, "f": "g"}}, {"a": {"d": "e", "f": "g"}}),
])
def test_merge_patch_follows_rfc_7396(target: dict, patch: dict, result: dict) -> None:
    assert merge_patch(target, patch) == result


@pytest.mark.parametrize(("document", "patch", "result"), [  # RFC 6902, appendix A
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"foo": "bar", "baz": "qux"}),
    ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
    ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}], {"foo": ["bar", ["abc", "def"]]}),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ({"foo": "bar"}, [{"op": "copy", "from": "/foo", "path": "/baz"}], {"foo": "bar", "baz": "bar"}),
])
def test_json_patch_follows_rfc_6902(document: dict, patch: list, result: dict) -> None:
    assert apply_patch(document, patch) == result


@pytest.mark.parametrize("patch", [
    [{"op": "test", "path": "/baz", "value": "bar"}],
    [{"op": "add", "path": "/baz/bat", "value": "qux"}],
    [{"op": "remove", "path": "/nope"}],
    [{"op": "add", "path": "/list/5", "value": 1}],
    [{"op": "frobnicate", "path": "/a"}],
    {"op": "add"},
])
def test_a_json_patch_that_cannot_apply_is_a_422(patch: object) -> None:
    with pytest.raises(Problem) as refused:
        apply_patch({"baz": "qux", "list": []}, patch)
    assert refused.value.status == 422


@pytest.mark.parametrize(("given", "offset", "size"), [
    ({"page": 3, "per_page": 5}, 10, 5),  # a page number, though an offset parameter is declared too
    ({"offset": 7, "per_page": 5}, 7, 5),
    ({}, 0, 20),  # the parameters' defaults
])
def test_the_page_asked_for_by_the_specs_own_parameters(given: dict, offset: int, size: int) -> None:
    declared = {"page": {"type": "integer", "minimum": 1, "default": 1}, "per_page": {"type": "integer", "default": 20},
                "offset": {"type": "integer", "default": 0}}
    page = page_of(declared, given)
    assert (page.offset, page.size) == (offset, size)


def test_a_zero_based_page_number_starts_at_the_first_item() -> None:
    page = page_of({"page": {"type": "integer", "minimum": 0}, "size": {"type": "integer", "default": 10}}, {"page": 0})
    assert (page.offset, page.first_page) == (0, 0)
