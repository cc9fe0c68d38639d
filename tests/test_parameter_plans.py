"""Per-parameter plans (validation/request.py): a scalar path or query parameter read straight from its place
gives what the style decoders give, and the query is split as `parse_qsl` splits it (serialization.query_pairs)."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import parse_qsl

import pytest

from gw.contract.judge import compile_schema, fast_accepts
from gw.validation.request import MISSING, _Parameter
from gw.validation.serialization import RequestText, query_pairs


def test_query_pairs_reads_every_query_as_parse_qsl_does() -> None:
    rng = random.Random(15)
    alphabet = "ab=&+%2G0Fé\u00ff;[] "
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert query_pairs(text) == parse_qsl(text, keep_blank_values=True), text
    pieces = ["%", "C3", "A9", "E2", "82", "AC", "F0", "9F", "98", "ZZ", "2", "a", "é", "\xc3", "\x82", "\xff", "+", "=", "&"]
    for _ in range(20000):  # escapes of partial and whole UTF-8 sequences beside characters of the text itself
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert query_pairs(text) == parse_qsl(text, keep_blank_values=True), text


@pytest.mark.parametrize("query", ["", "limit=5", "limit=5&limit=7", "limit=", "limit", "limit=%35", "limit=+5",
                                   "limit=5.0", "limit=abc", "limit=1e3", "other=1", "limit[]=3", "a=1&&limit=2"])
@pytest.mark.parametrize("schema", [{"type": "integer"}, {"type": "number"}, {"type": "boolean"}, {"type": "string"},
                                    {"type": "integer", "nullable": True}, {}])
def test_a_scalar_query_parameter_reads_as_its_style_decoder_reads_it(query: str, schema: dict[str, Any]) -> None:
    param = _Parameter({"name": "limit", "in": "query", "schema": schema}, openapi31=False)
    assert param.reader != param.read
    scope = {"query_string": query.encode(), "headers": []}
    assert _same(param.reader(RequestText(scope), frozenset(), False), param.read(RequestText(scope), frozenset(), False))


@pytest.mark.parametrize("value", ["5", "0", "abc", "5.0", "", "%20", 7, None])
@pytest.mark.parametrize("schema", [{"type": "integer", "minimum": 1}, {"type": "string"}, {"type": "number"}])
def test_a_scalar_path_parameter_reads_as_its_style_decoder_reads_it(value: Any, schema: dict[str, Any]) -> None:
    param = _Parameter({"name": "user-id", "in": "path", "required": True, "schema": schema}, openapi31=False)
    assert param.reader != param.read
    scope = {"path_params": {} if value is None else {"user_id": value}, "headers": []}
    read = param.reader(RequestText(scope), frozenset(), False)
    assert _same(read, param.read(RequestText(scope), frozenset(), False))
    assert (read is MISSING) == (value is None)


@pytest.mark.parametrize("definition", [
    {"name": "ids", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}},
    {"name": "id", "in": "path", "style": "label", "schema": {"type": "integer"}},
    {"name": "id", "in": "query", "schema": {"oneOf": [{"type": "integer"}, {"type": "string"}]}},
    {"name": "id", "in": "query", "content": {"application/json": {"schema": {"type": "object"}}}},
    {"name": "X-Ids", "in": "header", "schema": {"type": "array", "items": {"type": "integer"}}},
])
def test_other_parameters_keep_their_style_decoders(definition: dict[str, Any]) -> None:
    param = _Parameter(definition, openapi31=False)
    assert param.reader == param.read


def test_the_fast_check_is_the_compiled_judge_once_it_is_made() -> None:
    validator = compile_schema({"type": "integer", "minimum": 1}, False, direction="parameter")
    assert not fast_accepts(validator, 5)  # not compiled yet: the full judge is asked (and compiles it)
    assert validator.is_valid(5)
    assert fast_accepts(validator, 5)
    assert not fast_accepts(validator, 0)
    assert not validator.is_valid(0)
    assert not fast_accepts(validator, "\ud800")  # a value Rust cannot hold: left to the rules


def _same(a: Any, b: Any) -> bool:
    return a is b or (type(a) is type(b) and a == b)


@pytest.mark.parametrize("headers", [[], [(b"x-id", b"5")], [(b"X-Id", b" 5 ")], [(b"x-id", b"5"), (b"x-id", b"6")],
                                     [(b"x-id", b"abc")], [(b"x-id", b"")], [(b"x-other", b"1")]])
@pytest.mark.parametrize("schema", [{"type": "integer"}, {"type": "string"}, {"type": "boolean", "nullable": True}])
def test_a_scalar_header_reads_as_its_style_decoder_reads_it(headers: list[tuple[bytes, bytes]],
                                                             schema: dict[str, Any]) -> None:
    param = _Parameter({"name": "X-Id", "in": "header", "schema": schema}, openapi31=False)
    assert param.reader != param.read
    scope = {"headers": headers}
    assert _same(param.reader(RequestText(scope), frozenset(), False), param.read(RequestText(scope), frozenset(), False))


@pytest.mark.parametrize("name", ["X-Id", "x-id", "Accept", "Größe", "x-\u00c0"])
def test_a_header_is_found_among_the_pairs_case_blind_in_the_order_sent(name: str) -> None:
    pairs = [(b"x-id", b"1"), (b"Accept", b"*/*"), (b"X-ID", b"2"), (b"gr\xd6\xdfe", b"3"), (b"GR\xf6\xdfE", b"4"),
             (b"x-\xe0", b"5"), (b"x-\xc0", b"6"), (b"other", b"7")]
    indexed: dict[str, list[str]] = {}  # what an index of every header (lowered as text) would give
    for key, value in pairs:
        indexed.setdefault(key.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    assert RequestText({"headers": pairs}).header(name) == indexed.get(name.lower(), [])


def test_an_integer_beyond_a_floats_range_is_read_as_an_integer() -> None:
    param = _Parameter({"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}, openapi31=False)
    huge = "9" * 400  # float(int) raises OverflowError here: it was a 500
    assert param.reader(RequestText({"path_params": {"id": huge}, "headers": []}), frozenset(), False) == int(huge)
