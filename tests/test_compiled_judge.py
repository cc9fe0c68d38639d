"""The judge's compiled fast path (jsonschema-rs over an exact translation) gives the verdicts of its
rules: on a table of the keywords the judge reads its own way (3.0's nullable, boolean
exclusiveMinimum, readOnly/writeOnly by direction, formats, ECMA patterns, discriminators and pinned
tags, unions, cycles), on every schema of a few corpus specs with generated and mutated values, and
through a real gateway, where a refusal is still explained by the rules. GW_JUDGE_CROSSCHECK catches
a fast path that accepts what the rules refuse."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gw.contract import compiled_schema, judge
from gw.contract.judge import JudgeDisagreement, checker_factory, compile_schema, learn_schema_names
from gw.mocker.generator import Options, generate
from gw.spec.load import Operation, load_service
from tests.conftest import GatewayThread, gateway_config

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def verdicts(schema: Any, openapi31: bool, direction: str, value: Any) -> tuple[bool, bool | None, bool]:
    """(the rules' verdict, the compiled validator's (None: none, or it cannot hold the value), the judge's)."""
    checker = compile_schema(schema, openapi31, direction)
    try:
        rules = not checker.rule_errors(value)
    except Exception:
        rules = False
    fast = compiled_schema.validator(schema, openapi31, direction)
    try:
        compiled = fast.is_valid(value) if fast is not None else None
    except Exception:
        compiled = None
    return rules, compiled, checker.is_valid(value)


CAT = {"type": "object", "required": ["petType"], "properties": {"petType": {"type": "string"}, "hunts": {"type": "boolean"}}}
DOG = {"type": "object", "required": ["petType"], "properties": {"petType": {"type": "string"}, "pack": {"type": "integer"}}}
learn_schema_names({"components": {"schemas": {"Cat": CAT, "Dog": DOG}}})
PETS = {"oneOf": [CAT, DOG], "discriminator": {"propertyName": "petType", "mapping": {"cat": "#/components/schemas/Cat"}}}
PINNED = {"anyOf": [{"type": "object", "properties": {"kind": {"enum": ["a"]}, "x": {"type": "integer"}}},
                    {"type": "object", "properties": {"kind": {"enum": ["b"]}, "x": {"type": "string"}}}]}
PINNED_BOOL = {"oneOf": [{"type": "object", "properties": {"on": {"enum": [True]}, "x": {"type": "integer"}}},
                         {"type": "object", "properties": {"on": {"enum": [False]}, "x": {"type": "string"}}}]}
PINNED_INT = {"oneOf": [{"type": "object", "properties": {"v": {"enum": [1]}, "x": {"type": "integer"}}},
                        {"type": "object", "properties": {"v": {"enum": [2]}, "x": {"type": "string"}}}]}
ACCOUNT = {"type": "object", "required": ["id", "password"],
           "properties": {"id": {"type": "integer", "readOnly": True}, "password": {"type": "string", "writeOnly": True}}}
TREE: dict[str, Any] = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}}
TREE["properties"]["children"] = {"type": "array", "items": TREE}
ACCOUNT_VALUES = [{}, {"id": 1}, {"password": "x"}, {"id": 1, "password": "x"}, {"id": "1", "password": 2}]
TAGGED = [{"petType": "cat", "hunts": True}, {"petType": "cat", "pack": "x"}, {"petType": "Dog", "pack": 3},
          {"petType": "Dog", "pack": "x"}, {"petType": "cow"}, {"petType": 7}, {}, None, "cat"]

# name -> (schema, versions ("3.0", "3.1"), directions, values); every verdict must equal the rules'
TABLE: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...], list[Any]]] = {
    "nullable-type-enum": ({"type": "string", "nullable": True, "enum": ["a", None]}, ("3.0",), ("request",),
                           [None, "a", "b", 1]),
    "nullable-enum-without-null": ({"type": "string", "nullable": True, "enum": ["a"]}, ("3.0",), ("request",), [None, "a"]),
    "nullable-beside-all-of": ({"nullable": True, "allOf": [{"type": "object", "required": ["a"]}]}, ("3.0", "3.1"),
                               ("request",), [None, {}, {"a": 1}, 3]),
    "nullable-beside-one-of": ({"nullable": True, "oneOf": [{"type": "string"}, {"type": "integer"}]}, ("3.0", "3.1"),
                               ("response",), [None, "x", 1, 1.5, []]),
    "boolean-exclusive-minimum": ({"type": "number", "minimum": 1, "exclusiveMinimum": True, "maximum": 5,
                                   "exclusiveMaximum": False}, ("3.0",), ("request",), [1, 1.5, 5, 5.01, 0]),
    "exclusive-minimum-alone": ({"type": "number", "exclusiveMinimum": True}, ("3.0",), ("request",), [-1, 0]),
    "numeric-exclusive-minimum": ({"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 3}, ("3.1",),
                                  ("request",), [1, 1.01, 3, 2]),
    "read-only-write-only": (ACCOUNT, ("3.0", "3.1"), ("request", "response", "parameter"), ACCOUNT_VALUES),
    "integer": ({"type": "integer", "maximum": 2**63 - 1}, ("3.0", "3.1"), ("request",), [1, 1.0, True, 2**63, 2**63 - 1, "1"]),
    "int32": ({"type": "integer", "format": "int32"}, ("3.0", "3.1"), ("request",), [2**31 - 1, 2**31, -(2**31) - 1, 7]),
    "int64-number": ({"type": "number", "format": "int64"}, ("3.0",), ("request",), [2**64, 1e30, 1.5]),
    "formats": ({"type": "object", "properties": {
        "d": {"format": "date"}, "t": {"format": "date-time"}, "e": {"format": "email"}, "u": {"format": "uuid"},
        "r": {"format": "uri"}, "4": {"format": "ipv4"}, "6": {"format": "ipv6"}, "b": {"format": "byte"},
        "h": {"format": "hostname"}, "m": {"format": "decimal"}}}, ("3.0", "3.1"), ("response",), [
        {"d": "2024-02-29", "t": "2024-02-29T23:59:60Z", "e": "a@b", "u": "12345678-1234-1234-1234-1234567_9abc"},
        {"d": "2023-02-29"}, {"t": "2024-02-29 10:00:00+01:00"}, {"t": "2024-02-29T24:00:00Z"}, {"e": "nobody"},
        {"u": "12345678123412341234123456789abc"}, {"r": "no scheme"}, {"r": "urn:x"}, {"4": "1.2.3.256"},
        {"6": "::1"}, {"6": "1.2.3.4"}, {"b": "aGk="}, {"b": "a"}, {"h": "not a host!"}, {"m": "x"}, {"d": 20240229}]),
    "patterns": ({"type": "object", "properties": {
        "digits": {"pattern": "^\\d+$"}, "word": {"pattern": "^\\w+$"}, "letters": {"pattern": "^\\p{L}+$"},
        "end": {"pattern": "^abc$"}, "plain": {"pattern": "^[a-z]{2,3}(-[0-9]+)?$"}, "broken": {"pattern": "("},
        "space": {"pattern": "^\\S+\\s\\S+$"}, "slash": {"pattern": "^a\\/b\\.c$"}}}, ("3.0", "3.1"), ("request",), [
        {"digits": "123"}, {"digits": "\u0663"}, {"word": "\u00e9t\u00e9"}, {"word": "a b"}, {"letters": "\u00c9mile"},
        {"letters": "a1"}, {"end": "abc"}, {"end": "abc\n"}, {"plain": "ab-12"}, {"plain": "abcd"}, {"broken": "x"},
        {"space": "a b"}, {"space": "ab"}, {"slash": "a/b.c"}, {"slash": "a/bxc"}]),
    "pattern-properties": ({"type": "object", "properties": {"a": {}}, "patternProperties": {"^x-[a-z]+$": {"type": "string"}},
                            "additionalProperties": False}, ("3.0", "3.1"), ("request",),
                           [{"a": 1, "x-b": "s"}, {"x-b": 1}, {"c": 1}, {"x-B": "s"}, {}]),
    "pattern-properties-unicode": ({"type": "object", "patternProperties": {"^\\w+$": {"type": "string"}},
                                    "additionalProperties": {"type": "integer"}}, ("3.0", "3.1"), ("request",),
                                   [{"\u00e9": "s"}, {"\u00e9": 1}, {"a b": 1}, {"a b": "s"}]),
    "discriminator": (PETS, ("3.0", "3.1"), ("request", "response"), TAGGED),
    "pinned-tags": (PINNED, ("3.0", "3.1"), ("request", "response"),
                    [{"kind": "a", "x": 1}, {"kind": "a", "x": "s"}, {"kind": "b", "x": "s"}, {"kind": "c", "x": 1},
                     {"x": 1.5}, {"x": []}]),
    "pinned-booleans": (PINNED_BOOL, ("3.0", "3.1"), ("request",),
                        [{"on": True, "x": 1}, {"on": True, "x": "s"}, {"on": 1, "x": "s"}, {"on": False, "x": 2}]),
    "pinned-integers": (PINNED_INT, ("3.0", "3.1"), ("request",),
                        [{"v": 1, "x": 1}, {"v": 1, "x": "s"}, {"v": 1.0, "x": "s"}, {"v": True, "x": "s"}, {"v": 2, "x": 1}]),
    "overlapping-one-of": ({"oneOf": [{"type": "string"}, {"type": "string", "format": "uuid"}]}, ("3.0", "3.1"),
                           ("response",), ["x", "12345678-1234-1234-1234-123456789abc", 1]),
    "multiple-of": ({"type": "object", "properties": {"f": {"multipleOf": 0.1}, "i": {"multipleOf": 2}}}, ("3.0", "3.1"),
                    ("request",), [{"f": 0.3}, {"f": 0.2}, {"f": 3}, {"i": 4.0}, {"i": 5}, {"i": 10**30 + 1}]),
    "unique-items": ({"type": "array", "uniqueItems": True}, ("3.0", "3.1"), ("request",),
                     [[1, 1.0], [1, True], [[1], [True]], [{"a": 1}, {"a": 1.0}], ["a", 1, "a"], []]),
    "enum-and-const": ({"enum": [1, "a", [1], {"b": False}], "const": 1}, ("3.0", "3.1"), ("request",),
                       [1, 1.0, True, "a", [True], [1.0], {"b": 0}, {"b": False}]),
    "cycle": (TREE, ("3.0", "3.1"), ("response",), [
        {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]},
        {"name": "a", "children": [{"name": "b", "children": [{"name": ""}]}]}, {"children": []}]),
    "lone-surrogate": ({"type": "string", "maxLength": 3}, ("3.0", "3.1"), ("request",), ["\ud800", "\ud800abc"]),
    "unresolved-ref": ({"type": "object", "properties": {"a": {"$ref": "#/x-gw-unresolved/0"}}}, ("3.0", "3.1"),
                       ("request",), [{}, {"a": 1}]),
    "type-null-in-3.0": ({"type": "object", "properties": {"a": {"type": "null"}}}, ("3.0",), ("request",),
                         [{}, {"a": None}, {"a": 1}]),
    "list-items": ({"type": "array", "items": [{"type": "string"}]}, ("3.0", "3.1"), ("request",), [[], ["a"], [1]]),
    "keywords-2020": ({"type": "object", "prefixItems": [{"type": "string"}], "properties": {
        "l": {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"},
              "contains": {"const": 3}, "maxContains": 1},
        "c": {"if": {"properties": {"k": {"const": "x"}}, "required": ["k"]}, "then": {"required": ["v"]},
              "else": {"not": {"required": ["v"]}}}},
        "propertyNames": {"pattern": "^[a-z]$"}, "dependentRequired": {"l": ["c"]}}, ("3.1",), ("request",), [
        {"l": ["a", 3], "c": {"k": "x", "v": 1}}, {"l": ["a", 3, 7], "c": {"k": "y"}},
        {"l": ["a", 3, 3], "c": {}}, {"l": ["a", 2], "c": {}},
        {"l": ["a", 3], "c": {"k": "x"}}, {"l": ["a", 3], "c": {"v": 1}}, {"l": ["a", 3]}, {"L": 1}]),
    "integer-format-under-not": ({"not": {"type": "integer", "format": "int32"}}, ("3.0", "3.1"), ("request",),
                                 [1, 2**40, 2.0**40, "x"]),
    "type-list-3.1": ({"type": ["string", "null"], "minLength": 2}, ("3.1",), ("request",), [None, "a", "ab", 1]),
}

CASES = [(name, version, direction, index) for name, (_, versions, directions, values) in TABLE.items()
         for version in versions for direction in directions for index in range(len(values))]
# no exact translation: the rules alone judge these
PYTHON_ONLY = {("unresolved-ref", "3.0"), ("unresolved-ref", "3.1"), ("type-null-in-3.0", "3.0"), ("list-items", "3.0"),
               ("list-items", "3.1"), ("pattern-properties-unicode", "3.0"), ("pattern-properties-unicode", "3.1"),
               ("pinned-integers", "3.1"), ("integer-format-under-not", "3.1")}
# the native format patterns (native_formats.py) refuse unusual forms formats.py accepts: a uuid with an underscore
STRICTER = {("formats", 0)}


@pytest.mark.parametrize(("name", "version", "direction", "index"), CASES,
                         ids=[f"{n}-{v}-{d}-{i}" for n, v, d, i in CASES])
def test_the_compiled_judge_gives_the_rules_verdict(name: str, version: str, direction: str, index: int) -> None:
    schema, _, _, values = TABLE[name]
    rules, compiled, verdict = verdicts(schema, version == "3.1", direction, values[index])
    assert verdict == rules
    if (name, version) in PYTHON_ONLY:
        assert compiled_schema.validator(schema, version == "3.1", direction) is None
    elif (name, index) in STRICTER:
        assert compiled is False and rules is True  # refused natively, accepted (and so judged) by the rules
    elif compiled is not None:
        assert compiled == rules, f"compiled {compiled}, rules {rules}: {values[index]!r}"
    else:
        assert name == "lone-surrogate"  # Rust cannot hold the value: the rules judge it


def test_a_one_of_and_an_any_of_both_reading_a_discriminator_are_left_to_the_rules() -> None:
    schema = {"oneOf": [CAT, DOG], "anyOf": [CAT, DOG], "discriminator": {"propertyName": "petType"}}
    assert compiled_schema.validator(schema, False, "response") is None


def test_shared_and_cyclic_schemas_are_written_once() -> None:
    document = compiled_schema.translate({"type": "object", "properties": {"a": TREE, "b": TREE}}, True, "response")
    assert document is not None and len(document["$defs"]) == 1
    assert json.dumps(document).count('"minLength": 1') == 1


def test_portable_patterns_are_those_both_engines_read_alike() -> None:
    assert compiled_schema.portable_pattern("^\\d{3}-[a-z]+$") == "^[0-9]{3}-[a-z]+$"
    for pattern in ("^\\w+$", "(?<y>\\d)", "[\\d]", "a{,3}", "[[:alpha:]]", "[a-z&&[^x]]", "\\1", "a*+", "x}"):
        assert compiled_schema.portable_pattern(pattern) is None, pattern


def test_the_crosscheck_raises_when_the_fast_path_accepts_what_the_rules_refuse(monkeypatch: pytest.MonkeyPatch,
                                                                                 tmp_path: Path) -> None:
    class AcceptsAll:
        def is_valid(self, value: Any) -> bool:
            return True

    log = tmp_path / "disagreements.log"
    monkeypatch.setattr(judge, "_CROSSCHECK", True)
    monkeypatch.setenv("GW_JUDGE_CROSSCHECK", str(log))
    checker = compile_schema({"type": "integer"}, openapi31=True)
    checker._fast = AcceptsAll()
    assert checker.iter_errors(3) == []
    with pytest.raises(JudgeDisagreement):
        judge.accepts(checker, "three")
    assert "compiled accepts, rules refuse" in log.read_text()


# --- every schema of a few corpus specs, with generated and mutated values ---

CORPUS_SPECS = ["readme30-discriminators.json", "readme31-schema-types.json", "swagger2-petstore.json", "spotify.com.json",
                "openai.com.json", "cpy.re-peertube.json", "discourse.local.json"]


def _schemas(operation: Operation) -> Iterator[tuple[str, Any]]:
    for response in operation.responses.values():
        for media, entry in (response.get("content") or {}).items():
            if "json" in media and isinstance(entry, dict) and isinstance(entry.get("schema"), dict):
                yield "response", entry["schema"]
    for media, entry in ((operation.definition.get("requestBody") or {}).get("content") or {}).items():
        if "json" in media and isinstance(entry, dict) and isinstance(entry.get("schema"), dict):
            yield "request", entry["schema"]
    for parameter in operation.definition.get("parameters") or []:
        if isinstance(parameter, dict) and isinstance(parameter.get("schema"), dict):
            yield "request" if parameter.get("in") == "body" else "parameter", parameter["schema"]


def _mutated(value: Any, rng: random.Random, count: int = 6) -> list[Any]:
    """The value with one place changed each: another type, an edge value, a key dropped or added."""
    places: list[tuple[tuple[Any, ...], Any]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        places.append((path, node))
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, child in children:
            walk(child, (*path, key))

    def put(path: tuple[Any, ...], new: Any) -> Any:
        if not path:
            return new
        root = copy.deepcopy(value)
        node = root
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = new
        return root

    walk(value, ())
    found = []
    for _ in range(count):
        path, node = rng.choice(places)
        found.append(put(path, rng.choice(_OTHERS.get(type(node), [None, 0, ""]))))
        if isinstance(node, dict) and node:
            fewer = dict(node)
            fewer.pop(rng.choice(list(node)))
            found += [put(path, fewer), put(path, {**node, "zz-extra": 1})]
    return found


_OTHERS: dict[type, list[Any]] = {
    bool: [1, "true", None], int: [1.0, "1", 0.5, -(2**40), 2**70, True, None], float: [1, "1.5", None, 1e300],
    str: [7, "", "x" * 300, "not-a-date", "2020-13-45", "\u00e9\u0663", None, "UPPER", "two words"],
    type(None): [0, "", {}], dict: [[], "x", None, {}], list: [{}, None, [None], []]}


@pytest.mark.parametrize("spec", CORPUS_SPECS)
def test_corpus_schemas_get_the_same_verdict_compiled(spec: str) -> None:
    path = CORPUS / spec
    if not path.is_file():
        pytest.skip(f"{path} is not here (the shared corpus is optional)")
    service = load_service(spec, path, "/", deep_check="later")
    seen: set[tuple[int, str]] = set()
    compared = 0
    for operation in service.operations.values():
        for direction, schema in _schemas(operation):
            if (id(schema), direction) in seen:
                continue
            seen.add((id(schema), direction))
            rng = random.Random(f"{operation.key}:{direction}")
            options = Options(response=direction != "request", validator=checker_factory(service.openapi31, "response"))
            values = [generate(schema, seed, options) for seed in range(2)]
            for value in list(values):
                values += _mutated(value, rng)
            for value in values:
                rules, compiled, verdict = verdicts(schema, service.openapi31, direction, value)
                assert verdict == rules, (operation.key, direction, value)
                assert compiled in (None, rules), (operation.key, direction, value)
                compared += compiled is not None
    assert compared > 0


# --- through a gateway: the fast path answers, the rules explain ---

SPEC = {"openapi": "3.0.3", "info": {"title": "compiled", "version": "1"},
        "paths": {"/accounts": {"post": {"operationId": "create", "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Account"}}}},
            "responses": {"201": {"description": "made", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Account"}}}}, "400": {"description": "refused"}}}}},
        "components": {"schemas": {"Account": {
            "type": "object", "required": ["id", "email", "kind"], "properties": {
                "id": {"type": "integer", "format": "int64", "readOnly": True},
                "email": {"type": "string", "format": "email"},
                "kind": {"type": "string", "enum": ["person", "company"]},
                "vat": {"type": "string", "nullable": True, "pattern": "^[A-Z]{2}[0-9]+$"}}}}}}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    spec = tmp_path_factory.mktemp("compiled") / "accounts.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    with GatewayThread(gateway_config({"accounts": {"spec": str(spec), "base_path": "/"}})) as running, \
            running.client() as client:
        yield client


def test_a_valid_request_passes_and_the_answer_fits(gateway: httpx.Client) -> None:
    response = gateway.post("/accounts", json={"email": "a@b.example", "kind": "person", "vat": None})
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json()["id"], int)
    assert response.headers.get("x-gw-contract") != "violation"


def test_a_refused_request_is_explained_by_the_rules(gateway: httpx.Client) -> None:
    response = gateway.post("/accounts", json={"id": 3, "email": "nobody", "kind": "robot", "vat": "de12"})
    assert response.status_code == 400
    errors = {(e["pointer"], e["message"]) for e in response.json()["errors"]}
    assert errors == {("/email", "'nobody' is not a valid 'email'"),
                      ("/id", "Tried to write read-only property with 3"),
                      ("/kind", "'robot' is not one of ['person', 'company']"),
                      ("/vat", "'de12' does not match '^[A-Z]{2}[0-9]+$'")}
