"""The schema generator: values valid for every keyword OpenAPI 3.0 and 3.1 use, deterministic per seed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_schema_validator import OAS30ReadValidator, OAS31Validator, oas30_format_checker, oas31_format_checker

from gw.mocker.generator import Options, generate
from gw.mocker.mocker import generate_valid  # noqa: F401  (imported to pin the public seam)
from gw.spec.refs import resolve_in_place


def valid31(schema: Any, value: Any) -> list[str]:
    return [e.message for e in OAS31Validator(schema, format_checker=oas31_format_checker).iter_errors(value)]


def valid30(schema: Any, value: Any) -> list[str]:
    return [e.message for e in OAS30ReadValidator(schema, format_checker=oas30_format_checker).iter_errors(value)]


SCHEMAS_31: list[dict[str, Any]] = [
    {"type": ["string", "null"], "minLength": 3},
    {"type": "null"},
    {"enum": ["a", "b", None]},
    {"const": {"fixed": [1, 2]}},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "email"},
    {"type": "string", "format": "uuid"},
    {"type": "string", "format": "uri"},
    {"type": "string", "format": "ipv4"},
    {"type": "string", "format": "ipv6"},
    {"type": "string", "format": "byte"},
    {"type": "string", "pattern": "^[A-Z]{2}-\\d{3,5}(-[a-z]+)?$"},
    {"type": "string", "pattern": "^(red|green|blue)$"},
    {"type": "string", "minLength": 40, "maxLength": 41},
    {"type": "string", "maxLength": 2},
    {"type": "integer", "minimum": 10, "maximum": 12},
    {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
    {"type": "integer", "multipleOf": 7, "minimum": 8},
    {"type": "number", "multipleOf": 0.25, "minimum": 1, "maximum": 2},
    {"type": "number", "exclusiveMaximum": 0},
    {"type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 3, "uniqueItems": True},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "minItems": 2},
    {"type": "object", "required": ["a", "b"], "properties": {"a": {"type": "integer"}},
     "additionalProperties": {"type": "boolean"}},
    {"type": "object", "minProperties": 3, "additionalProperties": {"type": "string"}},
    {"type": "object", "patternProperties": {"^x-[a-z]+$": {"type": "integer"}}, "additionalProperties": False},
    {"type": "object", "maxProperties": 1, "properties": {"a": {"type": "string"}, "b": {"type": "string"}}},
    {"allOf": [{"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
               {"required": ["b"], "properties": {"b": {"type": "integer", "minimum": 5}}}]},
    {"oneOf": [{"type": "integer"}, {"type": "number"}]},
    {"oneOf": [{"type": "string", "maxLength": 5}, {"type": "string", "minLength": 3}]},
    {"anyOf": [{"type": "string", "format": "email"}, {"type": "integer"}]},
    {"type": "object", "properties": {"name": {"type": "string", "examples": ["Ada"]}}, "required": ["name"]},
]


@pytest.mark.parametrize("schema", SCHEMAS_31, ids=lambda s: str(s)[:60])
def test_generated_values_are_valid_openapi_31(schema: dict[str, Any]) -> None:
    checker = OAS31Validator(schema, format_checker=oas31_format_checker)
    value = _first_valid(schema, checker)
    assert valid31(schema, value) == []


def _first_valid(schema: Any, checker: Any) -> Any:
    value = None
    for attempt in range(8):
        value = generate(schema, "seed", Options(attempt=attempt))
        if checker.is_valid(value):
            return value
    return value


def test_first_attempt_is_valid_for_plain_keywords() -> None:
    plain = [s for s in SCHEMAS_31 if "oneOf" not in s]
    failures = [(s, v) for s in plain if valid31(s, v := generate(s, "seed"))]
    assert failures == []


def test_openapi_30_nullable_and_boolean_exclusives() -> None:
    schema = {"type": "object", "required": ["n", "c"], "properties": {
        "n": {"type": "string", "nullable": True},
        "c": {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "maximum": 2, "exclusiveMaximum": True}}}
    value = generate(schema, 1)
    assert valid30(schema, value) == []
    assert value["c"] == 1


def test_write_only_fields_never_appear_in_responses() -> None:
    schema = {"type": "object", "required": ["password", "name"], "properties": {
        "password": {"type": "string", "writeOnly": True}, "name": {"type": "string"}}}
    assert "password" not in generate(schema, 1)
    assert "password" in generate(schema, 1, Options(response=False))


def test_circular_schema_is_bounded_and_keeps_required_fields() -> None:
    document = {"components": {"schemas": {"Node": {
        "type": "object", "required": ["id", "children"],
        "properties": {"id": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                       "parent": {"$ref": "#/components/schemas/Node"}}}}}}
    node = resolve_in_place(document)["components"]["schemas"]["Node"]
    value = generate(node, 1)
    assert valid30(node, value) == []

    def depth(v: Any) -> int:
        children = [depth(c) for c in v.get("children", [])] + ([depth(v["parent"])] if "parent" in v else [])
        return 1 + max(children, default=0)

    assert depth(value) <= 13


def test_discriminator_mapping_is_honoured() -> None:
    document = {"components": {"schemas": {
        "Cat": {"type": "object", "required": ["kind", "meows"], "properties": {"kind": {"type": "string"},
                                                                              "meows": {"type": "boolean"}}},
        "Dog": {"type": "object", "required": ["kind", "barks"], "properties": {"kind": {"type": "string"},
                                                                              "barks": {"type": "boolean"}}},
        "Pet": {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
                "discriminator": {"propertyName": "kind", "mapping": {"cat": "#/components/schemas/Cat",
                                                                      "dog": "#/components/schemas/Dog"}}}}}}
    schemas = resolve_in_place(document)["components"]["schemas"]
    names = {id(s): n for n, s in schemas.items()}
    first = generate(schemas["Pet"], 1, Options(names=names))
    second = generate(schemas["Pet"], 1, Options(names=names, attempt=1))
    assert (first["kind"], "meows" in first) == ("cat", True)
    assert (second["kind"], "barks" in second) == ("dog", True)


def test_same_seed_same_value_other_seed_other_value() -> None:
    schema = {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "n": {"type": "integer"}}}
    assert generate(schema, "a") == generate(schema, "a")
    assert generate(schema, "a") != generate(schema, "b")


def test_property_names_make_values_realistic() -> None:
    schema = {"type": "object", "properties": {"email": {"type": "string"}, "full_name": {"type": "string"},
                                               "city": {"type": "string"}, "website_url": {"type": "string"}}}
    value = generate(schema, 3)
    assert re.fullmatch(r"[a-z]+\.[a-z]+@example\.com", value["email"])
    assert " " in value["full_name"]
    assert value["website_url"].startswith("https://")
