"""One verdict for one value: request validation, the mocker's check of its own answers and the
contract checker (validation proxy, `gw stubs verify`) agree on every case of a table of unions,
allOf intersections, formats and ECMA patterns, in OpenAPI 3.0 and 3.1; generated answers pass."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gw.contract.judge import compile_schema, schema_errors
from gw.contract.responses import check_response
from gw.mocker.mocker import body_validator
from gw.spec.load import Service, load_service
from tests.conftest import GatewayThread, gateway_config

CARD = {"type": "object", "required": ["type", "number"],
        "properties": {"type": {"type": "string", "enum": ["card"]}, "number": {"type": "string"}}}
BANK = {"type": "object", "required": ["type", "iban"],
        "properties": {"type": {"type": "string", "enum": ["bank"]}, "iban": {"type": "string"}}}


# A discriminator whose branches do not pin the tag: the mapping (or the component name) says which branch.
CAT = {"type": "object", "required": ["petType", "hunts"],
       "properties": {"petType": {"type": "string"}, "hunts": {"type": "boolean"}}}
DOG = {"type": "object", "required": ["petType", "packSize"],
       "properties": {"petType": {"type": "string"}, "packSize": {"type": "integer"}}}
NULL = {"type": "null"}
NULL_30 = {"type": "string", "nullable": True, "enum": [None]}


def _holder(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["source"], "properties": {"source": schema}}


# name -> (schema, valid values, invalid values)
CASES: dict[str, tuple[dict[str, Any], list[Any], list[Any]]] = {
    "tagged-union-or-null": (
        _holder({"anyOf": [{"oneOf": [CARD, BANK]}, NULL]}),
        [{"source": {"type": "bank", "iban": "DE89"}}, {"source": {"type": "card", "number": "4242"}}, {"source": None}],
        [{"source": {"type": "bank", "number": "4242"}}, {"source": {"type": "cash"}}, {"source": 7}]),
    "discriminated-union-or-null": (
        _holder({"anyOf": [{"oneOf": [{"$ref": "#/components/schemas/Card"}, {"$ref": "#/components/schemas/Bank"}],
                            "discriminator": {"propertyName": "type", "mapping": {"card": "#/components/schemas/Card",
                                                                                  "bank": "#/components/schemas/Bank"}}},
                           NULL]}),
        [{"source": {"type": "bank", "iban": "DE89"}}, {"source": None}],
        [{"source": {"type": "bank"}}, {"source": {"type": "card", "iban": "DE89"}}]),
    "discriminator-mapping": (
        _holder({"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
                 "discriminator": {"propertyName": "petType", "mapping": {"cat": "#/components/schemas/Cat"}}}),
        [{"source": {"petType": "cat", "hunts": True}}, {"source": {"petType": "Dog", "packSize": 3}}],
        [{"source": {"petType": "cat", "packSize": 3}}, {"source": {"petType": "Dog", "hunts": True}}]),
    "overlapping-one-of": (
        _holder({"oneOf": [{"type": "string", "format": "uuid"}, {"type": "string"}]}),
        [{"source": "9c9de5e8-0a1e-484a-b099-e80766180a6d"}, {"source": "anything"}],
        [{"source": 3}]),
    "all-of-enums": (
        _holder({"allOf": [{"type": "string", "enum": ["red", "green", "blue"]}, {"enum": ["green", "blue", "black"]}]}),
        [{"source": "green"}, {"source": "blue"}],
        [{"source": "red"}, {"source": "black"}]),
    "all-of-enum-and-range": (
        _holder({"allOf": [{"type": "integer", "minimum": 5}, {"enum": [1, 5, 7, "x"]}]}),
        [{"source": 5}, {"source": 7}],
        [{"source": 1}, {"source": "x"}]),
    "all-of-ranges": (
        _holder({"allOf": [{"type": "integer", "minimum": 10}, {"maximum": 14}, {"multipleOf": 3}]}),
        [{"source": 12}],
        [{"source": 9}, {"source": 15}, {"source": 13}]),
    "formats": (
        {"type": "object", "properties": {"fx_rate": {"type": "string", "format": "decimal"},
                                          "id": {"type": "string", "format": "int64"},
                                          "vendor": {"type": "string", "format": "x-acme-money"},
                                          "small": {"type": "integer", "format": "int8"},
                                          "when": {"type": "string", "format": "date-time"}}},
        [{"fx_rate": "12.50", "id": "9007199254740993", "vendor": "3 EUR", "small": 127, "when": "2024-01-01T10:00:00Z"}],
        [{"when": "yesterday"}, {"small": 128}]),
    "ecma-patterns": (
        {"type": "object", "properties": {"name": {"type": "string", "pattern": "^\\p{Lu}\\p{Ll}+$"},
                                          "twice": {"type": "string", "pattern": "^(?<c>[a-z])\\k<c>$"},
                                          "unreadable": {"type": "string", "pattern": "^\\p{NoSuchProperty}$"}}},
        [{"name": "Zoë", "twice": "aa", "unreadable": "anything"}],
        [{"name": "zoë"}, {"twice": "ab"}]),
}
TABLE = [(name, value, True) for name, (_, good, _) in CASES.items() for value in good] + \
        [(name, value, False) for name, (_, _, bad) in CASES.items() for value in bad]


def _spec(version: str) -> dict[str, Any]:
    paths = {}
    for name, (schema, _, _) in CASES.items():
        content = {"application/json": {"schema": schema}}
        paths[f"/cases/{name}"] = {
            "get": {"operationId": f"get-{name}", "responses": {"200": {"description": "ok", "content": content}}},
            "post": {"operationId": f"post-{name}", "requestBody": {"required": True, "content": content},
                     "responses": {"200": {"description": "ok", "content": content}, "400": {"description": "refused"}}}}
    paths["/impossible"] = {"get": {"operationId": "impossible", "responses": {"200": {"description": "ok", "content": {
        "application/json": {"schema": {"type": "object", "required": ["color"], "properties": {
            "color": {"allOf": [{"type": "string", "enum": ["red"]}, {"enum": ["blue"]}]}}}}}}}}}
    document = {"openapi": version, "info": {"title": "judge", "version": "1"}, "paths": paths,
                "components": {"schemas": {"Card": CARD, "Bank": BANK, "Cat": CAT, "Dog": DOG}}}
    if version.startswith("3.0"):  # 3.0 has no `type: null`: its null is a nullable enum of null
        return json.loads(json.dumps(document).replace(json.dumps(NULL), json.dumps(NULL_30)))
    return document


@pytest.fixture(scope="module", params=["3.0.3", "3.1.0"])
def judged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, httpx.Client]]:
    spec = tmp_path_factory.mktemp("judge") / "judge.yaml"
    spec.write_text(yaml.safe_dump(_spec(request.param)))
    service = load_service("judge", Path(spec), "/")
    with GatewayThread(gateway_config({"judge": {"spec": str(spec), "base_path": "/"}})) as gateway, \
            gateway.client() as client:
        yield service, client


@pytest.mark.parametrize(("name", "value", "valid"), TABLE, ids=[f"{n}-{'ok' if v else 'bad'}{i}" for i, (n, _, v) in
                                                                 enumerate(TABLE)])
def test_request_validation_mocker_and_contract_give_one_verdict(judged: tuple[Service, httpx.Client], name: str,
                                                                 value: Any, valid: bool) -> None:
    service, client = judged
    operation = service.operations[f"get-{name}"]
    request = client.post(f"/cases/{name}", json=value)
    mocker = body_validator(service, operation, "200", "application/json").is_valid(value)
    contract = check_response(service, operation, 200, "application/json", json.dumps(value).encode())
    assert (request.status_code == 200, mocker, not contract) == (valid, valid, valid), (request.text, contract)


@pytest.mark.parametrize("name", list(CASES))
def test_generated_answers_pass_the_same_judge(judged: tuple[Service, httpx.Client], name: str) -> None:
    service, client = judged
    response = client.get(f"/cases/{name}")
    assert response.status_code == 200
    assert check_response(service, service.operations[f"get-{name}"], 200, "application/json", response.content) == []


def test_an_all_of_of_enums_is_answered_from_their_intersection(judged: tuple[Service, httpx.Client]) -> None:
    _, client = judged
    answers = {client.get(f"/cases/all-of-enums?n={n}").json()["source"] for n in range(12)}
    assert answers <= {"green", "blue"}


def test_a_refused_union_is_explained_by_the_branch_its_tag_names(judged: tuple[Service, httpx.Client]) -> None:
    _, client = judged
    refused = client.post("/cases/tagged-union-or-null", json={"source": {"type": "bank", "number": "4242"}})
    assert refused.status_code == 400
    assert refused.json()["errors"] == [{"in": "body", "name": "", "pointer": "/source",
                                         "message": "'iban' is a required property"}]


def test_an_unsatisfiable_answer_is_a_500_problem_naming_the_schema_place(judged: tuple[Service, httpx.Client]) -> None:
    _, client = judged
    response = client.get("/impossible")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["schema_place"].startswith("responses/200/content/application~1json/schema/properties/color/allOf/")
    assert problem["schema_place"] in problem["detail"]


def test_a_union_error_without_a_tag_points_at_the_closest_branch() -> None:
    validator = compile_schema({"oneOf": [{"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
                                          {"type": "string"}]}, openapi31=True)
    assert schema_errors(validator, {"a": "x"}, "body", "") == [
        {"in": "body", "name": "", "pointer": "/a", "message": "'x' is not of type 'integer'"}]


def test_a_3_0_nullable_beside_all_of_accepts_null() -> None:
    validator = compile_schema({"nullable": True, "allOf": [CARD]}, openapi31=False, direction="response")
    assert validator.is_valid(None) and not validator.is_valid({"type": "card"})


def test_response_headers_are_typed_and_judged_like_parameters(tmp_path: Path) -> None:
    spec = tmp_path / "headers.yaml"
    spec.write_text(yaml.safe_dump({"openapi": "3.0.3", "info": {"title": "h", "version": "1"}, "paths": {"/": {"get": {
        "operationId": "page", "responses": {"200": {"description": "ok", "headers": {
            "X-Total": {"required": True, "schema": {"type": "integer", "format": "int32"}},
            "X-Ids": {"schema": {"type": "array", "items": {"type": "integer"}}}}}}}}}}))
    service = load_service("h", spec, "/")
    operation = service.operations["page"]
    assert check_response(service, operation, 200, "", b"", {"x-total": "12", "X-Ids": "1, 2"}) == []
    refused = {str(v) for v in check_response(service, operation, 200, "", b"", {"X-Total": "many", "X-Ids": "1,x"})}
    assert refused == {"header X-Total: 'many' is not of type 'integer'", "header X-Ids: 'x' is not of type 'integer'"}


def test_a_tag_no_branch_takes_is_refused_listing_the_tags_there_are(judged: tuple[Service, httpx.Client]) -> None:
    _, client = judged
    refused = client.post("/cases/tagged-union-or-null", json={"source": {"type": "cash"}})
    assert refused.json()["errors"] == [{"in": "body", "name": "", "pointer": "/source/type",
                                         "message": "'cash' is not one of ['card', 'bank']"}]


def test_answers_are_held_to_the_schemas_a_discriminator_names_requests_are_not(tmp_path: Path) -> None:
    """Spotify's shape: the discriminator has no mapping, so its values are component names
    (`TrackObject`), while each branch pins `type` to `track`: SDKs dispatch on the name."""
    track = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string", "enum": ["track"]}}}
    episode = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string", "enum": ["episode"]}}}
    item = {"type": "object", "properties": {"item": {
        "nullable": True, "oneOf": [{"$ref": "#/components/schemas/TrackObject"}, {"$ref": "#/components/schemas/EpisodeObject"}],
        "discriminator": {"propertyName": "type"}}}}
    content = {"application/json": {"schema": item}}
    spec = tmp_path / "player.yaml"
    spec.write_text(yaml.safe_dump({"openapi": "3.0.3", "info": {"title": "player", "version": "1"}, "paths": {"/player": {
        "get": {"operationId": "player", "responses": {"200": {"description": "ok", "content": content}}},
        "put": {"operationId": "play", "requestBody": {"content": content}, "responses": {"204": {"description": "ok"}}}}},
        "components": {"schemas": {"TrackObject": track, "EpisodeObject": episode}}}))
    service = load_service("player", spec, "/")
    answer = json.dumps({"item": {"type": "track"}}).encode()
    assert [str(v) for v in check_response(service, service.operations["player"], 200, "application/json", answer)] == [
        "body/item/type: discriminator value 'track' names no schema (known: 'TrackObject', 'EpisodeObject')"]
    with GatewayThread(gateway_config({"player": {"spec": str(spec), "base_path": "/"}})) as gateway, gateway.client() as client:
        assert client.put("/player", json={"item": {"type": "track"}}).status_code == 204
        mocked = client.get("/player")
        assert mocked.status_code == 200 and mocked.json()["item"] is None


def test_a_json_answer_is_judged_by_a_media_range_schema_and_broken_json_is_a_violation(tmp_path: Path) -> None:
    spec = tmp_path / "range.yaml"
    spec.write_text(yaml.safe_dump({"openapi": "3.1.0", "info": {"title": "r", "version": "1"}, "paths": {"/": {"get": {
        "operationId": "any", "responses": {"200": {"description": "ok", "content": {"*/*": {"schema": {
            "type": "object", "required": ["a"]}}}}}}}}}))
    service = load_service("r", spec, "/")
    operation = service.operations["any"]
    assert check_response(service, operation, 200, "application/json", b'{"a": 1}') == []
    assert [str(v) for v in check_response(service, operation, 200, "application/json", b"{}")] == [
        "body: 'a' is a required property"]
    assert str(check_response(service, operation, 200, "application/json", b"{oops")[0]).startswith("body: not valid JSON")
