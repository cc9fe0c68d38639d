"""Requests real clients send and specs real authors write, served as meant: numbers with a zero
fraction are integers, JavaScript regex literal patterns read as the regex they denote, overlapping
`oneOf` branches told apart in answers, form arrays sent as `name[]=a`, media types a spec lists
only in Content-Type/Accept header parameters, and query objects whose values are arrays of objects."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.conftest import GatewayThread, gateway_config


def _spec(paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths,
            "components": {"schemas": schemas or {}}}


def _get(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"get": {"parameters": parameters, "responses": {"204": {"description": "ok"}}}}


def _answer(schema: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}}}


NUMBERS = _spec({
    "/count": _get([{"name": "n", "in": "query", "required": True, "schema": {"type": "integer"}},
                    {"name": "X-Size", "in": "header", "schema": {"type": "integer", "maximum": 10}},
                    {"name": "ratio", "in": "query", "schema": {"type": "number"}}]),
})

ID_OR_UUID = {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "format": "uuid"},
                        {"type": "string", "minLength": 1}]}
TASK = {"type": "object", "properties": {"name": {"type": "string", "enum": ["cut", "add"]}, "start": {"type": "integer"}}}
FORMS = _spec({
    "/videos/{id}": {"delete": {"parameters": [{"name": "id", "in": "path", "required": True, "schema": ID_OR_UUID}],
                                "responses": {"204": {"description": "ok"}}}},
    "/search": _get([{"name": "ids", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}}]),
    "/tags": {"post": {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["tags"], "properties": {"tags": {"type": "array", "items": {"type": "string"}},
                                                               "title": {"type": "string"}}}}}},
        "responses": {"204": {"description": "ok"}}}},
    "/edit": {"post": {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "array", "items": TASK}}}}, "responses": {"204": {"description": "ok"}}}},
})

APP = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "size": {"type": "integer"}}}
MEDIA_HEADER = {"in": "header", "schema": {"type": "string", "enum": ["application/json", "application/yaml"]}}
MEDIA = _spec({
    "/apps": {"post": {"parameters": [{**MEDIA_HEADER, "name": "Content-Type"}, {**MEDIA_HEADER, "name": "Accept"}],
                       "requestBody": {"required": True, "content": {"application/json": {"schema": APP}}},
                       "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": APP}}}}}},
    "/configs": {"get": {"responses": {"200": {"description": "ok", "content": {"application/yaml": {"schema": APP}}}}}},
    "/members": {"post": {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/Members", "required": ["ids"], "minProperties": 1, "description": "members"}}}},
        "responses": {"204": {"description": "ok"}}}},
}, {"Members": {"type": "object", "properties": {"ids": {"type": "array", "items": {"type": "integer"}}}}})
MEMBERS_31 = {**MEDIA, "openapi": "3.1.0"}

DETAIL = {"type": "object", "properties": {"code": {"type": "string", "enum": ["late", "missing"]},
                                           "description": {"type": "string"}}}
STATUS = {"type": "object", "properties": {"value": {"type": "string", "enum": ["draft", "ported"]},
                                           "details": {"type": "array", "items": DETAIL}}}
ORDERS = _spec({
    "/orders": _get([{"name": "filter[status]", "in": "query", "schema": STATUS},
                     {"name": "filter[customer_reference]", "in": "query", "schema": {"type": "string"}},
                     {"name": "page", "in": "query", "style": "deepObject", "explode": True, "schema": {
                         "type": "object", "properties": {"size": {"type": "integer"},
                                                          "cursors": {"type": "array", "items": DETAIL}}}}]),
})

USER = {"type": "object", "properties": {
    "name": {"type": "string", "pattern": "/^[a-z0-9._]+$/"},
    "link": {"type": "string", "pattern": "/magnet:\\?xt=urn:[a-z0-9]+/i"},
    "path": {"type": "string", "pattern": "/users/[0-9]+"},
    "alias": {"allOf": [{"type": "string", "pattern": "/^[a-z]+$/"}]},
    "owner": {"type": "object", "required": ["handle"], "properties": {"handle": {"type": "string", "pattern": "/^@.+$/"}}}},
    "required": ["link"]}
STATS = {"allOf": [{"$ref": "#/components/schemas/User"},
                   {"type": "object", "properties": {"videosCount": {"type": "integer"}, "abuses": {"type": "integer"}}}]}
USERS = _spec({
    "/users": {"post": {"requestBody": {"required": True, "content": {"application/json": {"schema": USER}}},
                        "responses": {"204": {"description": "ok"}}}},
    "/users/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                                "oneOf": [{"$ref": "#/components/schemas/User"},
                                          {"$ref": "#/components/schemas/UserWithStats"}]}}}}}}},
}, {"User": USER, "UserWithStats": STATS})


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    folder = tmp_path_factory.mktemp("specs")
    services = {}
    for name, spec in (("numbers", NUMBERS), ("users", USERS), ("forms", FORMS), ("media", MEDIA), ("media31", MEMBERS_31),
                       ("orders", ORDERS)):
        path = folder / f"{name}.json"
        path.write_text(json.dumps(spec))
        services[name] = {"spec": str(path), "base_path": f"/{name}"}
    with GatewayThread(gateway_config(services)) as running:
        yield running


@pytest.fixture(scope="module")
def client(gateway: GatewayThread) -> Iterator[httpx.Client]:
    with gateway.client() as client:
        yield client


# --- numbers --------------------------------------------------------------------------------------

def test_an_integer_parameter_takes_a_number_with_a_zero_fraction(client: httpx.Client) -> None:
    assert client.get("/numbers/count", params={"n": "0.0"}).status_code == 204
    assert client.get("/numbers/count", params={"n": "2e3"}).status_code == 204
    assert client.get("/numbers/count", params={"n": "3"}, headers={"X-Size": "4.0"}).status_code == 204


def test_an_integer_parameter_refuses_fractions_and_words_python_would_read(client: httpx.Client) -> None:
    for text in ("1.5", "1_000", " 7", "nan"):
        refused = client.get("/numbers/count", params={"n": text})
        assert refused.status_code == 400, text
        assert "query n" in refused.json()["detail"]
    assert client.get("/numbers/count", params={"n": "1", "ratio": "inf"}).status_code == 400
    assert client.get("/numbers/count", params={"n": "9" * 5000}).status_code == 400  # more digits than int() reads
    assert client.get("/numbers/count", params={"n": "1"}, headers={"X-Size": "11.0"}).status_code == 400


# --- JavaScript regex literal patterns ------------------------------------------------------------

def test_a_javascript_regex_literal_pattern_is_read_as_the_regex_it_denotes(client: httpx.Client) -> None:
    assert client.post("/users/users", json={"name": "chocobozzz", "link": "MAGNET:?xt=urn:btih"}).status_code == 204
    assert client.post("/users/users", json={"name": "No Spaces", "link": "magnet:?xt=urn:a"}).status_code == 400


def test_a_pattern_that_only_starts_with_a_slash_stays_as_written(client: httpx.Client) -> None:
    sent = {"link": "magnet:?xt=urn:a", "path": "/users/12"}
    assert client.post("/users/users", json=sent).status_code == 204
    assert client.post("/users/users", json={**sent, "path": "users12"}).status_code == 400


def test_a_javascript_regex_literal_pattern_is_warned_at_its_place(gateway: GatewayThread) -> None:
    warnings = [w for w in gateway.app.services["users"].warnings if "JavaScript regex literal" in w]
    assert any(w.endswith("components.schemas.User.properties.name.pattern: pattern is written as a JavaScript "
                          "regex literal; read as ^[a-z0-9._]+$") for w in warnings), warnings
    assert not any("properties.path" in w for w in warnings)


# --- overlapping oneOf branches in answers ----------------------------------------------------------

def test_an_answer_fits_one_branch_where_one_branch_extends_the_other(client: httpx.Client) -> None:
    denoted = {**USER, "properties": {**USER["properties"], "name": {"type": "string", "pattern": "^[a-z0-9._]+$"},
                                      "link": {"type": "string", "pattern": "(?i)magnet:\\?xt=urn:[a-z0-9]+"}}}
    schema = {"oneOf": [{"$ref": "#/components/schemas/User"}, {"$ref": "#/components/schemas/UserWithStats"}],
              "components": {"schemas": {"User": denoted, "UserWithStats": STATS}}}
    strict = Draft202012Validator(schema)
    for user in range(1, 7):
        answer = client.get(f"/users/users/{user}")
        assert answer.status_code == 200
        body = answer.json()
        assert not list(strict.iter_errors(body)), answer.text
        assert re.search("(?i)magnet:\\?xt=urn:[a-z0-9]+", body["link"]), answer.text
        # optional, and held to a literal that no value matches as written: left out
        assert not {"name", "alias", "owner"} & set(body), answer.text


# --- scalar readings, form arrays ------------------------------------------------------------------

def test_a_path_parameter_that_is_an_id_or_a_text_takes_either_reading(client: httpx.Client) -> None:
    assert client.delete("/forms/videos/12").status_code == 204
    assert client.delete("/forms/videos/0").status_code == 204  # not an id >= 1, but a non-empty text
    assert client.delete("/forms/videos/9c9de5e8-0a1e-484a-b099-e80766180a6d").status_code == 204


def test_an_array_query_parameter_takes_the_bracket_suffix(client: httpx.Client) -> None:
    assert client.get("/forms/search?ids[]=1&ids[]=2").status_code == 204
    assert client.get("/forms/search?ids=1&ids=2").status_code == 204
    refused = client.get("/forms/search?ids[]=1&ids[]=two")
    assert refused.status_code == 400 and "query ids" in refused.json()["detail"]


def test_a_form_array_field_takes_the_bracket_suffix_and_repeated_keys(client: httpx.Client) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/forms/tags", content="tags[]=a&tags[]=b&title=x", headers=form).status_code == 204
    assert client.post("/forms/tags", content="tags=a&tags=b", headers=form).status_code == 204
    assert client.post("/forms/tags", content="title=x", headers=form).status_code == 400


def test_a_form_body_whose_schema_is_an_array_is_read_as_items(client: httpx.Client) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/forms/edit", content="[]", headers=form).status_code == 204
    assert client.post("/forms/edit", content="0[name]=cut&0[start]=2&1[name]=add", headers=form).status_code == 204
    assert client.post("/forms/edit", content="name=cut&start=2&name=add", headers=form).status_code == 204
    refused = client.post("/forms/edit", content="name=cut&name=trim", headers=form)
    assert refused.status_code == 400 and "/1/name" in refused.text


# --- media types listed by header parameters, YAML answers, $ref siblings -------------------------------

def test_a_media_type_listed_by_a_content_type_header_parameter_is_accepted(client: httpx.Client) -> None:
    sent = client.post("/media/apps", content=b"name: web\n", headers={"Content-Type": "application/yaml"})
    assert sent.status_code == 200
    assert sent.headers["content-type"].startswith("application/json")


def test_a_media_type_listed_by_an_accept_header_parameter_is_answered_in_the_documented_type(client: httpx.Client) -> None:
    answer = client.post("/media/apps", json={"name": "web"}, headers={"Accept": "application/yaml"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert not list(Draft202012Validator(APP).iter_errors(answer.json()))
    assert client.post("/media/apps", json={"name": "web"}, headers={"Accept": "text/csv"}).status_code == 406


def test_media_types_listed_by_header_parameters_are_warned_at_their_place(gateway: GatewayThread) -> None:
    warnings = gateway.app.services["media"].warnings
    assert any("paths./apps.post.parameters[0]: OpenAPI ignores the Content-Type header parameter" in w for w in warnings)
    assert any("paths./apps.post.parameters[1]: OpenAPI ignores the Accept header parameter" in w for w in warnings)


def test_a_response_declared_as_yaml_is_yaml(client: httpx.Client) -> None:
    answer = client.get("/media/configs")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/yaml")
    assert not list(Draft202012Validator(APP).iter_errors(yaml.safe_load(answer.text)))


def test_constraints_beside_a_ref_are_ignored_in_30_as_the_version_says(client: httpx.Client) -> None:
    assert client.post("/media/members", json={}).status_code == 204
    assert client.post("/media/members", json={"ids": ["x"]}).status_code == 400


def test_constraints_beside_a_ref_apply_in_31(client: httpx.Client) -> None:
    assert client.post("/media31/members", json={}).status_code == 400
    assert client.post("/media31/members", json={"ids": [1]}).status_code == 204


def test_constraints_beside_a_ref_in_30_are_warned_at_their_place(gateway: GatewayThread) -> None:
    warnings = [w for w in gateway.app.services["media"].warnings if "beside $ref" in w]
    assert any("paths./members.post.requestBody.content.application/json.schema: required, minProperties beside $ref are "
               "ignored" in w for w in warnings), warnings
    assert not gateway.app.services["media31"].warnings or not any("beside $ref" in w
                                                                   for w in gateway.app.services["media31"].warnings)


# --- query objects whose values are arrays of objects ---------------------------------------------------

def test_a_query_object_named_with_brackets_takes_the_keys_that_continue_its_name(client: httpx.Client) -> None:
    sent = "filter[status][value]=ported&filter[status][details][0][code]=late&filter[status][details][1][code]=missing"
    assert client.get(f"/orders/orders?{sent}&filter[customer_reference]=abc").status_code == 204
    refused = client.get("/orders/orders?filter[status][details][0][code]=early")
    assert refused.status_code == 400 and "filter[status]" in refused.json()["detail"]


def test_a_form_object_property_that_is_an_array_of_objects_reads_brackets_and_json(client: httpx.Client) -> None:
    assert client.get("/orders/orders?value=ported&details[0][code]=late&details[0][description]=x").status_code == 204
    assert client.get("/orders/orders", params={"value": "draft", "details": '[{"code": "late"}]'}).status_code == 204
    refused = client.get("/orders/orders", params={"details": '[{"code": "early"}]'})
    assert refused.status_code == 400 and "filter[status]" in refused.json()["detail"]


def test_a_form_object_property_sent_as_flat_text_where_openapi_defines_no_form_is_unjudged(client: httpx.Client) -> None:
    # what a client that iterates a dict sends for details=[{"code": ..., "description": ...}]
    assert client.get("/orders/orders?details=code&details=description&value=ported").status_code == 204
    assert client.get("/orders/orders?details=code&value=lost").status_code == 400  # the rest is still judged


def test_a_deep_object_property_that_is_an_array_of_objects_is_read_from_indexed_brackets(client: httpx.Client) -> None:
    sent = "page[size]=2&page[cursors][0][code]=late&page[cursors][1][code]=missing"
    assert client.get(f"/orders/orders?{sent}").status_code == 204
    refused = client.get("/orders/orders?page[size]=2&page[cursors][0][code]=early")
    assert refused.status_code == 400 and "query page" in refused.json()["detail"]
