"""The decoders of gateway/validation/serialization.py, one style at a time: the OpenAPI specification's own
examples (`role=admin,firstName=Alex`, `;id=3;id=4;id=5`...) read back into values."""

from __future__ import annotations

import pytest

from gw.validation.serialization import (
    DecodeError,
    Repeated,
    RequestText,
    Style,
    bracket_path,
    cookie_pairs,
    decode_content,
    decode_form,
    decode_header,
    decode_label,
    decode_matrix,
    decode_pairs,
    decode_parameter,
    decode_path,
    decode_simple,
    nest,
    style_of,
    typed,
)

OBJECT = {"type": "object", "properties": {"role": {"type": "string"}, "firstName": {"type": "string"}}}
INTS = {"type": "array", "items": {"type": "integer"}}


@pytest.mark.parametrize(("text", "shape", "explode", "expected"), [
    ("5", "scalar", False, "5"),
    ("3,4,5", "array", False, ["3", "4", "5"]),
    ("3,4,5", "array", True, ["3", "4", "5"]),
    ("role,admin,firstName,Alex", "object", False, {"role": "admin", "firstName": "Alex"}),
    ("role=admin,firstName=Alex", "object", True, {"role": "admin", "firstName": "Alex"}),
    ("role,admin,firstName", "object", False, "role,admin,firstName"),  # not an object: left for the validator
])
def test_simple(text: str, shape: str, explode: bool, expected: object) -> None:
    assert decode_simple(text, shape, explode) == expected


@pytest.mark.parametrize(("text", "shape", "explode", "expected"), [
    (".5", "scalar", False, "5"),
    (".3,4,5", "array", False, ["3", "4", "5"]),
    (".3.4.5", "array", True, ["3", "4", "5"]),
    (".role,admin,firstName,Alex", "object", False, {"role": "admin", "firstName": "Alex"}),
    (".role=admin.firstName=Alex", "object", True, {"role": "admin", "firstName": "Alex"}),
])
def test_label(text: str, shape: str, explode: bool, expected: object) -> None:
    assert decode_label(text, shape, explode) == expected


@pytest.mark.parametrize(("text", "shape", "explode", "expected"), [
    (";id=5", "scalar", False, "5"),
    (";id=3,4,5", "array", False, ["3", "4", "5"]),
    (";id=3;id=4;id=5", "array", True, ["3", "4", "5"]),
    (";id=role,admin,firstName,Alex", "object", False, {"role": "admin", "firstName": "Alex"}),
    (";role=admin;firstName=Alex", "object", True, {"role": "admin", "firstName": "Alex"}),
    (";id", "scalar", False, ""),
])
def test_matrix(text: str, shape: str, explode: bool, expected: object) -> None:
    assert decode_matrix(text, "id", shape, explode) == expected


def test_swagger2_path_and_header_split_at_their_collection_format() -> None:
    assert decode_path("1|2", "ids", style_of({"in": "path", "type": "array", "collectionFormat": "pipes"}, "path"),
                       "array") == ["1", "2"]
    assert decode_header(["a b", "c"], "array", style_of({"in": "header", "type": "array", "collectionFormat": "ssv"},
                                                          "header")) == ["a", "b", "c"]


def test_header_lines_are_one_list() -> None:
    assert decode_header(["1, 2", "3"], "array", Style("simple", False)) == ["1", "2", "3"]


FORM_EXPLODED = Style("form", True)


@pytest.mark.parametrize(("pairs", "style", "shape", "expected"), [
    ([("id", "5")], FORM_EXPLODED, "scalar", "5"),
    ([("id", "3"), ("id", "4")], FORM_EXPLODED, "array", ["3", "4"]),
    ([("id", "3,4,5")], Style("form", False), "array", ["3", "4", "5"]),
    ([("id", "3 4 5")], Style("spaceDelimited", False), "array", ["3", "4", "5"]),
    ([("id", "3|4|5")], Style("pipeDelimited", False), "array", ["3", "4", "5"]),
    ([("id", "3\t4")], Style("tabDelimited", False), "array", ["3", "4"]),
    ([("id", "role,admin,firstName,Alex")], Style("form", False), "object", {"role": "admin", "firstName": "Alex"}),
    ([("id[role]", "admin"), ("id[firstName]", "Alex")], Style("deepObject", True), "object",
     {"role": ("admin",), "firstName": ("Alex",)}),
    ([("other", "1")], FORM_EXPLODED, "scalar", None),
])
def test_query_pairs(pairs: list, style: Style, shape: str, expected: object) -> None:
    assert decode_pairs(pairs, "id", style, shape) == expected


def test_an_exploded_form_object_takes_its_properties_not_other_parameters() -> None:
    pairs = [("role", "admin"), ("firstName", "Alex"), ("limit", "5")]
    assert decode_pairs(pairs, "id", FORM_EXPLODED, "object", OBJECT, frozenset({"limit"})) == {
        "role": ("admin",), "firstName": ("Alex",)}
    free_form = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert decode_pairs(pairs, "id", FORM_EXPLODED, "object", free_form, frozenset({"limit"})) == {
        "role": ("admin",), "firstName": ("Alex",)}
    assert decode_pairs([("limit", "5")], "id", FORM_EXPLODED, "object", OBJECT, frozenset({"limit"})) is None


def test_bracket_paths() -> None:
    assert bracket_path("a[b][0][c]") == ["a", "b", "0", "c"]
    assert bracket_path("a[]") == ["a", ""]
    assert bracket_path("a") is None
    assert bracket_path("a[b") is None
    assert bracket_path("[b]") is None
    assert bracket_path("a" + "[x]" * 40) is None


def test_nest_appends_for_empty_brackets_and_keeps_repeats() -> None:
    tree = nest([(["a", ""], "x"), (["a", ""], "y"), (["b", "k"], "1"), (["b", "k"], "2")])
    assert tree == {"a": {"0": ("x",), "1": ("y",)}, "b": {"k": ("1", "2")}}


def test_empty_brackets_fill_one_item_until_a_key_repeats() -> None:
    tree = nest([(["a", "", "x"], "1"), (["a", "", "y"], "2"), (["a", "", "x"], "3")])
    assert tree == {"a": {"0": {"x": ("1",), "y": ("2",)}, "1": {"x": ("3",)}}}


def test_typed_reads_bracket_trees_as_the_schema_says() -> None:
    schema = {"type": "object", "properties": {
        "items": {"type": "array", "items": {"type": "object", "properties": {"quantity": {"type": "integer"}}}},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "flags": {"type": "array", "items": {"type": "boolean"}}}}
    raw = {"items": {"1": {"quantity": Repeated(("3",))}, "0": {"quantity": Repeated(("2",))}},
           "metadata": {"0": Repeated(("7",))}, "flags": Repeated(("true", "false"))}
    assert typed(raw, schema) == {"items": [{"quantity": 2}, {"quantity": 3}], "metadata": {"0": "7"},
                                  "flags": [True, False]}


def test_only_ascii_indexes_make_a_list() -> None:
    assert typed({"²": Repeated(("1",)), "0": Repeated(("2",))}, INTS) == {"²": "1", "0": "2"}


def test_typed_keeps_a_single_value_where_a_union_allows_one() -> None:
    union = {"oneOf": [{"type": "integer"}, INTS]}
    assert typed(Repeated(("5",)), union) == 5
    assert typed(Repeated(("5", "6")), union) == [5, 6]
    assert typed(Repeated(("5",)), INTS) == [5]


def test_content_parameters_hold_json() -> None:
    assert typed(decode_content('{"a": [1]}', "application/json"), {"type": "string"}) == {"a": [1]}
    assert decode_content("plain", "text/plain") == "plain"
    with pytest.raises(DecodeError):
        decode_content("{nope", "application/json")


def test_cookies_keep_repeats() -> None:
    assert cookie_pairs('a=1; b="x y"; a=2') == [("a", "1"), ("b", "x y"), ("a", "2")]


def test_form_fields_follow_their_encoding() -> None:
    schema = {"type": "object", "properties": {
        "meta": {"type": "object", "properties": {"pages": {"type": "integer"}}},
        "codes": INTS, "tags": {"type": "array", "items": {"type": "string"}}, "filter": {"type": "object"}}}
    encoding = {"codes": {"style": "pipeDelimited", "explode": False}, "filter": {"style": "deepObject", "explode": True}}
    pairs = [("meta", '{"pages": 3}'), ("codes", "1|2"), ("tags", "a"), ("tags", "b"), ("filter[x]", "1"), ("other[y]", "2")]
    assert typed(decode_form(pairs, schema, encoding), schema) == {
        "meta": {"pages": 3}, "codes": [1, 2], "tags": ["a", "b"], "filter": {"x": "1"}, "other[y]": "2"}
    assert typed(decode_form(pairs, schema, encoding, brackets=True), schema)["other"] == {"y": "2"}


@pytest.mark.parametrize(("definition", "where", "expected"), [
    ({"in": "query", "name": "a", "schema": {}}, "query", Style("form", True)),
    ({"in": "path", "name": "a", "schema": {}}, "path", Style("simple", False)),
    ({"in": "header", "name": "a", "explode": True, "schema": {}}, "header", Style("simple", True)),
    ({"in": "query", "name": "a", "style": "deepObject", "schema": {}}, "query", Style("deepObject", False)),
    ({"in": "query", "name": "a", "content": {"application/json": {}}}, "query", Style("content", False, "application/json")),
    ({"in": "query", "name": "a", "type": "array"}, "query", Style("form", False)),
    ({"in": "query", "name": "a", "type": "array", "collectionFormat": "multi"}, "query", Style("form", True)),
    ({"in": "query", "name": "a", "type": "array", "collectionFormat": "tsv"}, "query", Style("tabDelimited", False)),
    ({"in": "path", "name": "a", "type": "array", "collectionFormat": "csv"}, "path", Style("simple", False)),
])
def test_style_of(definition: dict, where: str, expected: Style) -> None:
    assert style_of(definition, where) == expected


def test_a_request_s_parameters_by_location() -> None:
    request = RequestText({"query_string": b"ids=1&ids=2&f[a]=x", "path_params": {"user_id": ".7"},
                           "headers": [(b"x-ids", b"1, 2"), (b"cookie", b"s=1; s=2")]})
    assert decode_parameter(request, "query", "ids", Style("form", True), "array") == ["1", "2"]
    assert decode_parameter(request, "query", "f", Style("deepObject", True), "object") == {"a": ("x",)}
    assert decode_parameter(request, "path", "user-id", Style("label", False), "scalar") == "7"
    assert decode_parameter(request, "header", "X-Ids", Style("simple", False), "array") == ["1", "2"]
    assert decode_parameter(request, "cookie", "s", Style("form", True), "array") == ["1", "2"]
    assert decode_parameter(request, "header", "X-None", Style("simple", False), "array") is None
