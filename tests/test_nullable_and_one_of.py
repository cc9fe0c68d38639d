"""What real-world spec authors mean is what gw serves: 3.0's `nullable: true` in a 3.1 document
allows null (warned at its place), a form or multipart field sent as the text `null` is null where
its schema allows null, and a generated answer fits exactly one branch of each `oneOf`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.conftest import GatewayThread, gateway_config


def _spec(version: str, paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"openapi": version, "info": {"title": "t", "version": "1"}, "paths": paths,
            "components": {"schemas": schemas or {}}}


def _post(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"post": {"requestBody": {"required": True, "content": {media: {"schema": schema}}},
                     "responses": {"204": {"description": "ok"}}}}


NULLABLE_31 = _spec("3.1.0", {
    "/numbers": _post({"type": "object", "properties": {
        "count": {"type": "integer", "nullable": True},
        "status": {"type": "string", "enum": ["on", "off"], "nullable": True},
        "owner": {"$ref": "#/components/schemas/Owner", "nullable": True}}}),
}, {"Owner": {"type": "object", "properties": {"name": {"type": "string"}}}})

NULLABLE_FORM = _spec("3.0.3", {
    "/multipart": _post({"type": "object", "properties": {"n": {"type": "integer", "nullable": True},
                                                          "size": {"type": "integer"}}}, "multipart/form-data"),
    "/form": _post({"type": "object", "properties": {"n": {"anyOf": [{"type": "integer"}, {"type": "string", "enum": ["x"]}],
                                                           "nullable": True}}},
                   "application/x-www-form-urlencoded"),
})

# Every `kind: a` object is also "any object": a lenient judge accepts either, a strict one wants exactly one.
OVERLAP = {"oneOf": [{"type": "object", "properties": {"kind": {"type": "string"}}},
                     {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string", "enum": ["a"]}}}]}
# A discriminator over branches that pin nothing: every draw fits both, so no item can be sent.
PETS = {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
        "discriminator": {"propertyName": "petType"}}
ANIMAL = {"type": "object", "required": ["petType"], "properties": {"petType": {"type": "string"}, "name": {"type": "string"}}}


def _answer(schema: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}}}


ONE_OF = _spec("3.1.0", {"/things": _answer({"type": "array", "minItems": 3, "items": OVERLAP}),
                         "/pets": _answer({"type": "object", "properties": {"pets": {"type": "array", "items": PETS},
                                                                            "total": {"type": "integer"}}})},
               {"Cat": ANIMAL, "Dog": ANIMAL})


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    folder = tmp_path_factory.mktemp("specs")
    services = {}
    for name, spec in (("nullable", NULLABLE_31), ("forms", NULLABLE_FORM), ("unions", ONE_OF)):
        path = folder / f"{name}.json"
        path.write_text(json.dumps(spec))
        services[name] = {"spec": str(path), "base_path": f"/{name}"}
    with GatewayThread(gateway_config(services)) as running:
        yield running


@pytest.fixture(scope="module")
def client(gateway: GatewayThread) -> Iterator[httpx.Client]:
    with gateway.client() as client:
        yield client


def test_nullable_in_a_31_document_allows_null(client: httpx.Client) -> None:
    body = {"count": None, "status": None, "owner": None}
    assert client.post("/nullable/numbers", json=body).status_code == 204
    assert client.post("/nullable/numbers", json={"count": 3, "status": "on", "owner": {"name": "a"}}).status_code == 204
    refused = client.post("/nullable/numbers", json={"count": "three", "status": "maybe"})
    assert refused.status_code == 400


def test_nullable_in_a_31_document_is_warned_at_each_place(gateway: GatewayThread) -> None:
    warnings = [w for w in gateway.app.services["nullable"].warnings if "nullable is an OpenAPI 3.0 keyword" in w]
    places = sorted(w.split(": ")[1] for w in warnings)
    assert places == sorted(f"paths./numbers.post.requestBody.content.application/json.schema.properties.{name}"
                            for name in ("count", "status", "owner"))


def test_the_text_null_in_a_multipart_field_is_null_where_the_schema_allows_null(client: httpx.Client) -> None:
    assert client.post("/forms/multipart", files={"n": (None, "null")}).status_code == 204
    assert client.post("/forms/multipart", files={"n": (None, "2")}).status_code == 204
    refused = client.post("/forms/multipart", files={"size": (None, "null")})
    assert refused.status_code == 400 and "size" in refused.text


def test_the_text_null_in_a_form_field_is_null_for_a_nullable_union(client: httpx.Client) -> None:
    assert client.post("/forms/form", data={"n": "null"}).status_code == 204
    assert client.post("/forms/form", data={"n": "y"}).status_code == 400


def test_a_generated_answer_fits_exactly_one_branch_of_each_one_of(client: httpx.Client) -> None:
    strict = Draft202012Validator(ONE_OF["paths"]["/things"]["get"]["responses"]["200"]["content"]["application/json"]["schema"])
    for query in range(12):
        response = client.get(f"/unions/things?q={query}")
        assert response.status_code == 200
        assert not list(strict.iter_errors(response.json())), response.text


def test_array_items_that_fit_several_branches_are_left_out_of_a_generated_answer(client: httpx.Client) -> None:
    schema = {**ONE_OF["paths"]["/pets"]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
              "components": ONE_OF["components"]}
    strict = Draft202012Validator(schema)
    for query in range(6):
        response = client.get(f"/unions/pets?q={query}")
        assert response.status_code == 200
        body = response.json()
        assert not list(strict.iter_errors(body)), response.text
        assert body.get("pets", []) == [], response.text
