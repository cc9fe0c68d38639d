"""Each JSON body from the network is parsed once, through json_limits.parse_json (orjson, with the stdlib
for what orjson reads differently), and its value shared: request validation, stub matching, recording,
the validation proxy and the journal's verification read the same parse. The parser gives the value the
stdlib gave for every document; the writer (json_text.dump_json) writes what the stdlib meant."""

from __future__ import annotations

import collections
import datetime
import json
import math
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
import yaml

import gw.core.json_limits
from gw.contract.conformance import free_port
from gw.core.json_limits import JsonLimitError, JsonSettings, parse_json
from gw.core.json_text import dump_json
from tests.conftest import GatewayThread, gateway_config
from tests.upstream import UpstreamServer

# -- the parser ------------------------------------------------------------------------------------------

SAME_AS_STDLIB = [
    b'{"id": 123456789012345678901234567890}',  # 30 digits: beyond orjson's 64 bits, an exact int as before
    b"[-9223372036854775809, 18446744073709551616, 18446744073709551615, -9223372036854775808]",
    b'{"snowflake": "1234567890123456789012", "n": 0.12345678901234567890123}',  # long digit runs, not integers
    b'{"a": 1, "a": 2}',  # the last of duplicate keys, as the stdlib
    b"[1.0, -0.0, 0.1, 1e16, 1e-400, 5e-324, 1.7976931348623157e308]",
    b'"\\ud83d\\ude00 and a lone \\ud800 and \\udc00\\ud800"',  # lone surrogates, escaped
    b'{"text": "caf\xc3\xa9 \\u00e9 \\u0000"}',
    b"  [ ] ",
    b"-0",
]


@pytest.mark.parametrize("text", SAME_AS_STDLIB)
def test_every_document_parses_to_the_value_the_stdlib_gave(text: bytes) -> None:
    value = parse_json(text)
    assert value == json.loads(text) and repr(value) == repr(json.loads(text))


def test_an_integer_of_30_digits_stays_an_exact_integer() -> None:
    value = parse_json(b'{"big": 123456789012345678901234567890, "small": -12345678901234567890}')
    assert value == {"big": 123456789012345678901234567890, "small": -12345678901234567890}
    assert all(type(v) is int for v in value.values())


def test_nan_and_infinity_parse_as_they_did() -> None:
    value = parse_json(b'[NaN, Infinity, -Infinity, 1e400]')
    assert math.isnan(value[0]) and value[1:] == [math.inf, -math.inf, math.inf]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_bodies_in_every_encoding_json_detects_parse(encoding: str) -> None:
    document = {"name": "Zoë", "n": [1, 2.5, None, True]}
    assert parse_json(json.dumps(document, ensure_ascii=False).encode(encoding)) == document


def test_a_declared_charset_is_honoured_and_utf8_stays_strict() -> None:
    assert parse_json('{"x": "Ã©"}'.encode("latin-1"), encoding="ISO-8859-1") == {"x": "Ã©"}
    assert parse_json('{"x": "é"}'.encode(), encoding="UTF8") == {"x": "é"}
    with pytest.raises(ValueError, match="BOM"):
        parse_json(b'\xef\xbb\xbf{"x": 1}', encoding="utf-8")  # a declared utf-8 body is read as utf-8, as validation did
    with pytest.raises(UnicodeDecodeError):
        parse_json(b'{"x": "\xe9"}', encoding="utf-8")
    with pytest.raises(LookupError):
        parse_json(b"{}", encoding="no-such-charset")


def test_a_str_with_a_lone_surrogate_parses() -> None:
    assert parse_json('{"x": "\ud800"}') == {"x": "\ud800"}


def nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def test_deep_but_allowed_nesting_parses_and_one_level_more_is_refused() -> None:
    bounds = JsonSettings(max_depth=400)
    value = parse_json(nested(400), bounds)
    for _ in range(400):
        value = value[0]
    assert value == 1
    with pytest.raises(JsonLimitError, match="deeper than 400"):
        parse_json(nested(401), bounds)
    with pytest.raises(JsonLimitError, match="deeper than 256"):
        parse_json(nested(5000))  # beyond orjson's own 1,024 levels too


def test_integer_limits_hold_on_the_fast_path_too() -> None:
    bounds = JsonSettings(max_number_digits=5)
    assert parse_json(b"[12345, 1.5e300]", bounds) == [12345, 1.5e300]
    with pytest.raises(JsonLimitError, match="more than 5 digits"):
        parse_json(b'{"padding": "' + b"x" * 10 + b'", "n": 123456}', bounds)
    with pytest.raises(JsonLimitError, match="more than 1000 digits"):
        parse_json(b"1" * 1001)


@pytest.mark.parametrize("text", [b"", b"  ", b"{", b'{"a": 1,}', b"[1] [2]", b"01", b'"\t"', b"nul"])
def test_malformed_text_is_refused_with_the_stdlibs_words(text: bytes) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        parse_json(text)
    with pytest.raises(json.JSONDecodeError) as stdlib:
        json.loads(text)
    assert str(ours.value) == str(stdlib.value)


# -- the writer ------------------------------------------------------------------------------------------


def stdlib_text(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


WRITTEN = [
    {"a": 1, "é": ["ü", 1.5, None, True, False], "nested": {"list": [[], {}]}},
    {1: "int key", None: "null key", 2.5: "float key", False: "bool key"},  # keys JSON cannot hold: the stdlib's strings
    {"big": 10**30, "neg": -(10**25)},
    {"date": datetime.date(2024, 1, 2), "at": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)},
    ["\ud800 lone", "\U0001f600"],
    [1e16, 1e-7, 0.1, -0.0, 12345678901234567890],
]


@pytest.mark.parametrize("value", WRITTEN, ids=range(len(WRITTEN)))
def test_json_written_means_what_the_stdlib_wrote(value: Any) -> None:
    assert json.loads(dump_json(value)) == json.loads(stdlib_text(value))


def test_nesting_beyond_orjsons_254_levels_is_written() -> None:
    value: list[Any] = []
    inner = value
    for _ in range(300):
        inner.append([])
        inner = inner[0]
    assert dump_json(value) == stdlib_text(value)


# -- one parse per body, through real HTTP ------------------------------------------------------------------

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "parse once", "version": "1"},
    "paths": {
        "/items": {"post": {
            "operationId": "addItem",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}},
            "responses": {"200": {"description": "the echo", "content": {"application/json": {"schema": {
                "type": "object", "required": ["method"], "properties": {"method": {"type": "string"}}}}}}},
        }},
        "/items/{item_id}": {"get": {
            "operationId": "getItem",
            "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "the echo", "content": {"application/json": {"schema": {
                "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}}},
        }},
    },
}
STUB = {"request": {"method": "POST", "path": "/items", "body": {"$.name": "stubbed"}},
        "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": {"method": "stub"}}}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayThread, Path]]:
    root = tmp_path_factory.mktemp("parse-once")
    spec = root / "parse.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    (root / "stubs" / "stubbed").mkdir(parents=True)
    (root / "stubs" / "stubbed" / "by-name.yaml").write_text(yaml.safe_dump(STUB))
    upstream = UpstreamServer(free_port()).start()
    services = {
        "rec": {"spec": str(spec), "base_path": "/rec", "mode": "record", "upstream": upstream.url, "retries": 0},
        "live": {"spec": str(spec), "base_path": "/live", "mode": "live", "upstream": upstream.url, "retries": 0},
        "stubbed": {"spec": str(spec), "base_path": "/stubbed"},
    }
    try:
        with GatewayThread(gateway_config(services, stubs=str(root / "stubs"))) as gateway:
            yield gateway, root
    finally:
        upstream.stop()


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[bytes]:
    """How often each body was parsed, by whichever reader, counted by its bytes where every parse starts."""
    seen: collections.Counter[bytes] = collections.Counter()

    def counting(data: Any) -> Any:
        seen[bytes(data) if not isinstance(data, str) else data.encode()] += 1
        return orjson.loads(data)

    monkeypatch.setattr(gw.core.json_limits, "orjson", SimpleNamespace(loads=counting, JSONDecodeError=orjson.JSONDecodeError))
    return seen


def test_a_recorded_exchange_parses_its_request_and_its_answer_once_each(setup, parses) -> None:
    gateway, root = setup
    sent = json.dumps({"name": "recorded-once", "password": "hunter2-secret"}).encode()
    with gateway.client() as client:
        response = client.post("/rec/items", content=sent, headers={"content-type": "application/json"})
        assert response.status_code == 200 and response.headers["x-gw-source"] == "live-recorded"
        assert "x-gw-contract" not in response.headers  # the answer was judged: it has its `method`
        answer = response.content
        # validation, the recorder's redaction and body matcher: one parse of the request; the contract
        # check and the recording: one parse of the answer
        assert parses[sent] == 1 and parses[answer] == 1
        counted = client.post("/_gw/api/requests/count", json={"service": "rec", "request": {
            "method": "POST", "path": "/items", "body": {"$.name": "recorded-once"}}})
    assert counted.status_code == 200 and counted.json() == {"count": 1}
    assert parses[sent] == 1  # the journal kept the parse: verification's body matcher read it
    stub = yaml.safe_load(next((root / "stubs" / "rec").glob("addItem-*.yaml")).read_text())
    assert stub["request"]["body"] == {"$.name": "recorded-once"}  # the secret field is left out, as before


def test_a_live_answer_is_parsed_once_and_still_judged(setup, parses) -> None:
    gateway, _ = setup
    with gateway.client() as client:
        response = client.get("/live/items/7")
    assert response.status_code == 200 and response.headers["x-gw-source"] == "live"
    assert response.headers["x-gw-contract"] == "violation"  # the echo has no `name`
    assert "'name' is a required property" in response.headers["x-gw-contract-reason"]
    assert parses[response.content] == 1


def test_a_stub_matched_on_its_body_reads_the_validated_parse(setup, parses) -> None:
    gateway, _ = setup
    sent = b'{"name": "stubbed"}'
    with gateway.client() as client:
        response = client.post("/stubbed/items", content=sent, headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json() == {"method": "stub"}
    assert response.headers["x-gw-stub"] == "stubbed/by-name"
    assert parses[sent] == 1  # request validation's parse, shared with the stub matcher


def test_a_body_that_is_not_json_is_refused_once_with_the_reason(setup, parses) -> None:
    gateway, _ = setup
    sent = b'{"name": "unfinished"'
    with gateway.client() as client:
        response = client.post("/stubbed/items", content=sent, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.text
    assert parses[sent] == 1
