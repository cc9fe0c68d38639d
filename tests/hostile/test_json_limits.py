"""The bounded JSON parser (gateway/core/json_limits.py), the `json:` settings, and in-place schema loops
(gateway/spec/loops.py), without a server."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from gw.core.json_limits import JsonLimitError, JsonSettings, json_depth, parse_json
from gw.settings.config import ConfigError, build_config, load_config
from gw.spec.loops import break_schema_loops
from gw.spec.refs import resolve_in_place

TIGHT = JsonSettings(max_depth=4, max_number_digits=5)


@pytest.mark.parametrize("text", ["[[[[]]]]", '{"a":{"b":{"c":[1]}}}', "12345", "-12345", "1.2345", '"[[[[[[[[[["'])
def test_documents_within_the_bounds_parse_as_json_loads_would(text: str) -> None:
    assert parse_json(text, TIGHT) == json.loads(text)


@pytest.mark.parametrize("text", ["[[[[[]]]]]", '{"a":{"b":{"c":{"d":[]}}}}', '[{"a":[{"b":[1]}]}]'])
def test_one_level_past_max_depth_is_refused(text: str) -> None:
    with pytest.raises(JsonLimitError, match="nested deeper than 4"):
        parse_json(text, TIGHT)


@pytest.mark.parametrize("text", ["123456", "-123456", "[1, 2, 999999]", '{"a": [100000]}', "9" * 5_000])
def test_an_integer_with_more_digits_than_allowed_is_refused(text: str) -> None:
    with pytest.raises(JsonLimitError, match="more than 5 digits"):
        parse_json(text, TIGHT)


@pytest.mark.parametrize("text", ["1.23456", "-1.5e123", "[0." + "3" * 5_000 + "]"])
def test_floats_are_fixed_size_whatever_their_literal(text: str) -> None:
    assert parse_json(text, TIGHT) == json.loads(text)


def test_brackets_and_digits_inside_strings_do_not_count() -> None:
    text = json.dumps({"s": "[" * 50 + "\\\"{" + "9" * 50, "t": ["]]]]"]})
    assert parse_json(text, TIGHT) == json.loads(text)


def test_the_refusal_is_a_value_error_like_any_malformed_json() -> None:
    with pytest.raises(ValueError):
        parse_json("[" * 10, TIGHT)
    with pytest.raises(ValueError):
        parse_json("[1,", TIGHT)
    with pytest.raises(TypeError):
        parse_json(7)  # type: ignore[arg-type]


def test_bytes_in_any_json_encoding_parse() -> None:
    assert parse_json('{"a": [1]}'.encode("utf-16")) == {"a": [1]}
    assert parse_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


@pytest.mark.parametrize("bomb", ["[" * 1_000_000, '{"a":' * 300_000, "[" * 500_000 + "]" * 500_000, "9" * 1_000_000])
def test_a_megabyte_bomb_is_refused_in_well_under_a_second(bomb: str) -> None:
    started = time.process_time()
    with pytest.raises(JsonLimitError):
        parse_json(bomb)
    assert time.process_time() - started < 0.5


def test_the_defaults_are_256_levels_and_1000_digits() -> None:
    parse_json("[" * 256 + "]" * 256)
    parse_json("9" * 1000)
    with pytest.raises(JsonLimitError):
        parse_json("[" * 257 + "]" * 257)
    with pytest.raises(JsonLimitError):
        parse_json("9" * 1001)


def test_json_depth_counts_without_recursion() -> None:
    deep: Any = 1
    for _ in range(100_000):
        deep = [deep]
    assert json_depth(deep) == 100_000
    assert json_depth({"a": [1, {"b": {}}], "c": 2}) == 4
    assert json_depth("x") == 0


def test_limits_are_settings_in_gateway_yaml_and_the_environment(tmp_path: Any) -> None:
    config = build_config({"json": {"max_depth": 64, "max_number_digits": 20}}, "gateway.yaml")
    assert (config.json.max_depth, config.json.max_number_digits) == (64, 20)
    assert build_config({}, "gateway.yaml").json == JsonSettings(max_depth=256, max_number_digits=1000)
    (tmp_path / "gateway.yaml").write_text("json: {max_depth: 100}\n")
    assert load_config(tmp_path / "gateway.yaml", env={"GW_JSON__MAX_DEPTH": "32"}).json.max_depth == 32


@pytest.mark.parametrize(("raw", "key"), [({"max_depth": 0}, "json.max_depth"), ({"max_depth": 100_000}, "json.max_depth"),
                                          ({"max_number_digits": 5000}, "json.max_number_digits"),
                                          ({"depth": 3}, "json.depth")])
def test_a_limit_out_of_range_is_a_config_error_naming_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        build_config({"json": raw}, "gateway.yaml")
    assert f"gateway.yaml: {key}: " in str(error.value)


def _document(schemas: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.0.3", "paths": {}, "components": {"schemas": schemas}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def test_a_schema_containing_itself_through_allof_loses_only_the_looping_reference() -> None:
    document = _document({"A": {"allOf": [ref("A"), {"type": "object", "required": ["x"]}]}})
    warnings = break_schema_loops(document, "spec.yaml")
    assert len(warnings) == 1
    assert warnings[0].startswith("spec.yaml: components.schemas.A.allOf.0: ")
    assert document["components"]["schemas"]["A"]["allOf"] == [{}, {"type": "object", "required": ["x"]}]


def test_mutual_loops_through_anyof_and_oneof_become_branches_nothing_takes() -> None:
    document = _document({"B": {"anyOf": [ref("C"), {"type": "string"}]}, "C": {"oneOf": [ref("B"), {"type": "integer"}]}})
    assert len(break_schema_loops(document, "spec.yaml")) == 1
    resolved = resolve_in_place(document)  # no longer loops in place
    assert {"not": {}} in resolved["components"]["schemas"]["C"]["oneOf"]


def test_recursion_through_properties_and_items_is_a_tree_and_kept() -> None:
    tree = {"type": "object", "properties": {"children": {"type": "array", "items": ref("Node")}, "parent": ref("Node")}}
    document = _document({"Node": tree, "Leaf": {"allOf": [ref("Node")]}})
    before = json.dumps(document, sort_keys=True)
    assert break_schema_loops(document, "spec.yaml") == []
    assert json.dumps(document, sort_keys=True) == before
