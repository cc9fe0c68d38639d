"""Every OpenAPI serialization a real client sends is read as the spec says: accepted when valid,
a 400 naming the parameter and its place when not, never a 500; and echoed into mock answers
as the decoded value."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from gw.settings.config import ConfigError
from tests.conftest import TEST_SPECS, GatewayThread, gateway_config

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    spec = str(TEST_SPECS / "undeclared_brackets.yaml")
    config = gateway_config({
        "styles": {"spec": str(TEST_SPECS / "serialization.yaml"), "base_path": "/"},
        "swagger": {"spec": str(TEST_SPECS / "serialization_swagger2.yaml"), "base_path": "/swagger"},
        "sdk": {"spec": spec, "base_path": "/sdk", "brackets": True},
        "plain": {"spec": spec, "base_path": "/plain"},
    })
    with GatewayThread(config) as gateway, gateway.client() as client:
        yield client


def errors(response: httpx.Response) -> set[tuple[str, str, str]]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {(e["in"], e["name"], e["pointer"]) for e in response.json()["errors"]}


# --- form bodies, as Stripe-style SDKs send them ---

def test_a_deep_object_form_body_is_accepted(client: httpx.Client) -> None:
    body = ("email=a%40b.c&balance=-5&metadata[order]=6735&metadata[note]=x&expand[]=customer&expand[]=invoice"
            "&items[0][price]=price_1&items[0][quantity]=2&items[1][price]=price_2&codes=1|2")
    assert client.post("/customers", content=body, headers=FORM).status_code == 200


def test_a_wrong_type_deep_in_a_form_body_is_named_by_its_pointer(client: httpx.Client) -> None:
    response = client.post("/customers", content="items[0][price]=p&items[0][quantity]=x&codes=1|y", headers=FORM)
    assert errors(response) == {("body", "", "/items/0/quantity"), ("body", "", "/codes/1")}


def test_a_missing_property_of_an_array_item_in_a_form_body_is_named(client: httpx.Client) -> None:
    assert errors(client.post("/customers", content="items[0][quantity]=1", headers=FORM)) == {("body", "", "/items/0")}


def test_a_union_of_object_and_empty_string_reads_either(client: httpx.Client) -> None:
    assert client.post("/customers", content="shipping[name]=Jenny", headers=FORM).status_code == 200
    assert client.post("/customers", content="shipping=", headers=FORM).status_code == 200
    assert errors(client.post("/customers", content="shipping=home", headers=FORM)) == {("body", "", "/shipping")}
    assert client.get("/invoices?created[gte]=5&created[lt]=9").status_code == 200
    assert client.get("/invoices?created=5").status_code == 200
    assert errors(client.get("/invoices?created[gte]=soon")) == {("query", "created", "/gte")}  # the closest branch


def test_multipart_json_part_is_parsed_and_validated(client: httpx.Client) -> None:
    ok = client.post("/uploads", files={"meta": (None, json.dumps({"title": "t", "pages": 3}), "application/json"),
                                        "file": ("f.bin", b"\x00\x01"), "file_link_data[create]": (None, "true")},
                     data={"tags": ["a", "b"]})
    assert ok.status_code == 201, ok.text
    as_file = client.post("/uploads", files={"meta": ("meta.json", json.dumps({"title": "t"}), "application/json")})
    assert as_file.status_code == 201, as_file.text
    bad = client.post("/uploads", files={"meta": (None, json.dumps({"pages": "x"}), "application/json"),
                                         "notes": (None, "{not json")})
    assert errors(bad) == {("body", "", "/meta"), ("body", "", "/meta/pages"), ("body", "", "/notes")}


# --- query ---

def test_every_query_style_is_decoded_and_echoed(client: httpx.Client) -> None:
    where = json.dumps({"name": "x"})
    response = client.get(f"/invoices?offset=1&limit=2&filter[status]=paid&filter[amount][gte]=5"
                          f"&lines[0][type]=invoice_line_item&lines[0][amount]=5&ids=1%202&tags=a|b&colors=red,blue"
                          f"&point=x,1,y,2&next=/a/b?c=d&archived=&where={where}&sel=1,2")
    assert response.status_code == 200, response.text
    assert response.json() == {"offset": 1, "limit": 2, "filter": {"status": "paid", "amount": {"gte": 5}},
                               "lines": [{"type": "invoice_line_item", "amount": 5}], "ids": [1, 2], "tags": ["a", "b"],
                               "colors": ["red", "blue"], "point": {"x": 1, "y": 2}, "where": {"name": "x"}, "sel": [1, 2]}


def test_a_union_of_value_and_list_takes_the_reading_its_schema_accepts(client: httpx.Client) -> None:
    assert client.get("/invoices?sel=3").json()["sel"] == 3
    assert client.get("/invoices?sel=3,4").json()["sel"] == [3, 4]


def test_bad_query_values_are_named_with_their_place(client: httpx.Client) -> None:
    response = client.get("/invoices?limit=500&lines[0][amount]=x&colors=pink&ids=1%20b&filter[status]=void&where=nope")
    assert errors(response) == {("query", "pagination", "/limit"), ("query", "lines", "/0"), ("query", "lines", "/0/amount"),
                                ("query", "colors", "/0"), ("query", "ids", "/1"), ("query", "filter", "/status"),
                                ("query", "where", "")}
    assert "not valid JSON" in next(e["message"] for e in response.json()["errors"] if e["name"] == "where")


def test_an_array_of_objects_in_brackets_is_never_a_500(client: httpx.Client) -> None:
    assert errors(client.get("/invoices?lines[]=x")) == {("query", "lines", "/0")}
    assert errors(client.get("/invoices?lines[0][type]=a&lines[x]=1")) == {("query", "lines", "")}
    assert client.get("/invoices?lines[0]=1&lines[0][type]=a&lines[0][type][deeper]=2&lines[").status_code == 400


def test_allow_empty_value_accepts_an_empty_flag(client: httpx.Client) -> None:
    assert client.get("/invoices?archived").status_code == 200
    assert errors(client.get("/invoices?archived=maybe")) == {("query", "archived", "")}


# --- path ---

def test_label_and_matrix_path_parameters(client: httpx.Client) -> None:
    assert client.get("/labels/.1.2.3").json()["ids"] == [1, 2, 3]
    assert client.get("/matrix/;ids=1;ids=2").json()["ids"] == [1, 2]
    assert client.get("/matrix-objects/;shape=x,1,y,2").json()["shape"] == {"x": 1, "y": 2}
    assert client.get("/label-objects/.x,1,y,2").json()["shape"] == {"x": 1, "y": 2}
    assert client.get("/points/x=1,y=2").json()["shape"] == {"x": 1, "y": 2}
    assert errors(client.get("/labels/.1.x")) == {("path", "ids", "/1")}
    assert errors(client.get("/matrix/;ids=1;ids=y")) == {("path", "ids", "/1")}


# --- header, cookie ---

def test_header_arrays_and_objects(client: httpx.Client) -> None:
    assert client.get("/headers", headers={"X-Ids": "1, 2", "X-Shape": "x=1,y=2", "X-Pair": "x,1,y,2"}).status_code == 204
    response = client.get("/headers", headers={"X-Ids": "1,x", "X-Shape": "x=a,y=2", "X-Pair": "x,1,y"})
    assert errors(response) == {("header", "X-Ids", "/1"), ("header", "X-Shape", "/x"), ("header", "X-Pair", "")}


def test_cookie_values_arrays_and_objects(client: httpx.Client) -> None:
    assert client.get("/cookies", headers={"Cookie": "session=5; ids=1,2; prefs=theme,dark,size,3"}).status_code == 204
    response = client.get("/cookies", headers={"Cookie": "session=x; ids=1,b; prefs=theme,dark,size,big"})
    assert errors(response) == {("cookie", "session", ""), ("cookie", "ids", "/1"), ("cookie", "prefs", "/size")}
    assert errors(client.get("/cookies")) == {("cookie", "session", "")}


# --- Swagger 2.0 ---

def test_swagger2_collection_formats(client: httpx.Client) -> None:
    response = client.get("/swagger/items?csv=1,2&ssv=1%202&tsv=1%092&pipes=1|2&multi=1&multi=2", headers={"X-Tags": "a|b"})
    assert response.status_code == 200, response.text
    assert response.json() == {"csv": [1, 2], "ssv": [1, 2], "tsv": [1, 2], "pipes": [1, 2], "multi": [1, 2]}
    assert client.get("/swagger/items/1,2").json() == {"ids": [1, 2]}
    bad = client.get("/swagger/items?csv=1,x&ssv=1,2&pipes=1,2&multi=1,2", headers={"X-Tags": "a|c"})
    assert errors(bad) == {("query", "csv", "/1"), ("query", "ssv", "/0"), ("query", "pipes", "/0"), ("query", "multi", "/0"),
                           ("header", "X-Tags", "/1")}


def test_swagger2_form_data_keeps_every_schema_word(client: httpx.Client) -> None:
    assert client.post("/swagger/items", data={"tags": "1\t2", "kind": "book", "count": "2"}).status_code == 201
    bad = client.post("/swagger/items", data={"tags": "1\tz", "kind": "cd", "count": "0"})
    assert errors(bad) == {("body", "", "/tags/1"), ("body", "", "/kind"), ("body", "", "/count")}


# --- the per-service bracket switch ---

def test_the_brackets_setting_is_true_or_false() -> None:
    with pytest.raises(ConfigError, match=r"services\.sdk\.brackets: expected true or false"):
        gateway_config({"sdk": {"spec": "x.yaml", "brackets": "sometimes"}})


def test_the_brackets_setting_reads_undeclared_bracket_keys(client: httpx.Client) -> None:
    listed = client.get("/sdk/charges?created[gte]=5&expand[]=a&expand[]=b")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"created": {"gte": 5}, "expand": ["a", "b"]}
    created = client.post("/sdk/charges", content="amount=5&metadata[k]=v&expand[0]=x", headers=FORM)
    assert created.status_code == 200, created.text
    assert errors(client.post("/sdk/charges", content="amount=5&metadata[k][deep]=v", headers=FORM)) == {
        ("body", "", "/metadata/k")}


def test_without_the_brackets_setting_bracket_keys_are_literal_names(client: httpx.Client) -> None:
    missing = client.get("/plain/charges?created[gte]=5")
    assert errors(missing) == {("query", "created", "")}
    assert "'created[gte]' was read as a literal name" in missing.json()["errors"][0]["message"]
    unexpected = client.post("/plain/charges", content="amount=5&metadata[k]=v", headers=FORM)
    assert errors(unexpected) == {("body", "", "")}
    assert "`brackets: true` on the service" in unexpected.json()["errors"][0]["message"]


def test_swagger2_required_form_fields_are_named_when_the_form_is_empty(client: httpx.Client) -> None:
    assert errors(client.post("/swagger/items", headers=FORM)) == {("body", "", "")}
    assert "'kind' is a required property" in client.post("/swagger/items", headers=FORM).text


def test_deeply_nested_json_in_a_query_parameter_is_a_400(client: httpx.Client) -> None:
    assert errors(client.get("/invoices", params={"where": "[" * 2000 + "]" * 2000})) == {("query", "where", "")}
