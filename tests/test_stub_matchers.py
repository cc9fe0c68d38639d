"""Stub matching as a function: which stub answers a request, and why the others did not. No gateway.

tests/test_stub_store.py keeps the walks through a running gateway (a stub answering, near misses in the
`X-GW-Near-Miss` header, JSONPath bodies, spy mode); the choice rules are pinned here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gw.stubs import StubStore
from gw.stubs.format import Stub, stub_from_data
from gw.stubs.matchers import RequestView, judge, specificity

ANSWER = {"status": 200, "headers": {"Content-Type": "application/json"}, "body": {"ok": True}}


def stub(request: dict[str, Any], name: str = "s", **extra: Any) -> Stub:
    return stub_from_data({"request": request, "response": ANSWER, **extra}, Path(f"{name}.yaml"), "users")


def view(method: str = "GET", path: str = "/users/1", query: dict[str, list[str]] | None = None,
         headers: dict[str, str] | None = None, body: bytes = b"") -> RequestView:
    return RequestView(method, path, query or {}, headers or {}, body)


def test_method_and_exact_path_match_and_a_miss_says_what_differed() -> None:
    exact = stub({"method": "GET", "path": "/users/1"})
    assert judge(exact, view()).matched
    missed = judge(exact, view("POST", "/users/2"))
    assert not missed.matched
    assert missed.reasons == ["method: expected GET, got POST", 'path: expected "/users/1", got /users/2']
    assert (missed.score, missed.total) == (0, 2)


def test_a_regex_path_matches_by_search_and_shows_as_slashes() -> None:
    any_user = stub({"method": "GET", "path": {"regex": "^/users/[0-9]+$"}})
    assert judge(any_user, view(path="/users/42")).matched
    assert judge(any_user, view(path="/users/me")).reasons == ["path: expected /^/users/[0-9]+$/, got /users/me"]


def test_a_query_value_matches_when_any_of_its_values_does_and_missing_reads_nothing() -> None:
    admins = stub({"method": "GET", "path": "/users", "query": {"role": "admin"}})
    assert judge(admins, view(path="/users", query={"role": ["viewer", "admin"]})).matched
    assert judge(admins, view(path="/users")).reasons == ['query role: expected "admin", got nothing']
    assert judge(admins, view(path="/users", query={"role": ["viewer"]})).reasons == \
        ['query role: expected "admin", got "viewer"']


def test_header_names_are_matched_case_insensitively_and_values_exactly() -> None:
    tenant = stub({"method": "GET", "path": "/users", "headers": {"X-Tenant": "acme"}})
    assert judge(tenant, view(path="/users", headers={"x-tenant": "acme"})).matched
    assert judge(tenant, view(path="/users", headers={"x-tenant": "ACME"})).reasons == \
        ['header x-tenant: expected "acme", got "ACME"']


def test_body_fields_match_by_jsonpath_equals_or_regex_on_any_selected_value() -> None:
    order = stub({"method": "POST", "path": "/orders",
                  "body": {"$.customer_id": "cus_1", "$.items[*].sku": {"regex": "^ABC-"}}})
    body = b'{"customer_id": "cus_1", "items": [{"sku": "XYZ-1"}, {"sku": "ABC-2"}]}'
    assert judge(order, view("POST", "/orders", body=body)).matched
    wrong = judge(order, view("POST", "/orders", body=b'{"customer_id": "cus_2", "items": [{"sku": "XYZ-1"}]}'))
    assert wrong.reasons == ['body $.customer_id: expected "cus_1", got "cus_2"',
                             'body $.items[*].sku: expected /^ABC-/, got "XYZ-1"']
    assert judge(order, view("POST", "/orders", body=b"not json")).reasons[0] == \
        'body $.customer_id: expected "cus_1", got nothing'


def test_exact_constraints_weigh_more_than_regexes() -> None:
    exact = stub({"method": "GET", "path": "/users/1"})
    regex = stub({"method": "GET", "path": {"regex": "^/users/"}})
    with_header = stub({"method": "GET", "path": {"regex": "^/users/"}, "headers": {"X-Tenant": {"regex": "."}}})
    assert (specificity(regex), specificity(with_header), specificity(exact)) == (2, 3, 3)
    assert judge(exact, view()).score == specificity(exact)


def test_a_scenario_state_is_an_exact_constraint() -> None:
    started = stub({"method": "GET", "path": "/users/1"}, scenario="signup", state="Started")
    later = stub({"method": "GET", "path": "/users/1"}, scenario="signup", state="confirmed")
    assert judge(started, view()).matched
    assert judge(later, view()).reasons == ["scenario signup: in state Started, this stub answers in confirmed"]
    assert judge(later, RequestView("GET", "/users/1", {}, {}, scenarios={"signup": "confirmed"})).matched
    assert specificity(started) == specificity(stub({"method": "GET", "path": "/users/1"})) + 2


def store_of(root: Path, files: dict[str, dict[str, Any]]) -> StubStore:
    for name, request in files.items():
        target = root / "users" / f"{name}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump({"request": request, "response": ANSWER}))
    return StubStore(root, ["users"])


def test_the_most_specific_match_wins_whatever_the_file_order(tmp_path: Path) -> None:
    store = store_of(tmp_path, {"a-any": {"method": "GET", "path": {"regex": "^/users/[0-9]+$"}},
                                "b-alice": {"method": "GET", "path": "/users/1"}})
    assert store.lookup("users", view(path="/users/1")).stub.id == "b-alice"  # type: ignore[union-attr]
    assert store.lookup("users", view(path="/users/7")).stub.id == "a-any"  # type: ignore[union-attr]


def test_equally_specific_matches_go_to_the_first_file(tmp_path: Path) -> None:
    store = store_of(tmp_path, {"a-first": {"method": "GET", "path": "/users/1"},
                                "b-second": {"method": "GET", "path": "/users/1"}})
    assert store.lookup("users", view()).stub.id == "a-first"  # type: ignore[union-attr]


def test_near_misses_come_nearest_first_and_at_most_three(tmp_path: Path) -> None:
    admins = {"method": "GET", "path": "/users", "query": {"role": "admin"}, "headers": {"X-Tenant": "acme"}}
    store = store_of(tmp_path, {
        "a-far": {**admins, "path": "/people"},
        "b-near": admins,
        "c-other-method": {"method": "DELETE", "path": "/elsewhere"},
        "d-far-too": {**admins, "path": "/people", "query": {"role": "owner"}},
        "e-farther": {**admins, "path": "/people", "query": {"role": "owner"}, "headers": {"X-Tenant": "else"}},
    })
    match = store.lookup("users", view(path="/users", query={"role": ["viewer"]}, headers={"x-tenant": "acme"}))
    assert match.stub is None
    assert [miss.line() for miss in match.near_misses] == [
        'b-near: query role: expected "admin", got "viewer"',
        'a-far: path: expected "/people", got /users; query role: expected "admin", got "viewer"',
        'd-far-too: path: expected "/people", got /users; query role: expected "owner", got "viewer"',
    ]
