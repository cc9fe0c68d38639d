"""Formats: known ones are checked, unknown ones never refuse a value, and every format of the
OpenAPI Format Registry is generated as text a client's parser for it reads."""

from __future__ import annotations

import base64
import ipaddress
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from decimal import Decimal
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import yaml

from gw.contract.formats import INT_RANGES
from gw.contract.judge import compile_schema
from gw.mocker.generator import generate
from tests.conftest import GatewayThread, gateway_config


def _html(text: str) -> bool:
    tags: list[str] = []
    parser = HTMLParser()
    parser.handle_starttag = lambda tag, attrs: tags.append(tag)  # type: ignore[method-assign]
    parser.feed(text)
    return bool(tags)


def _in_range(fmt: str) -> Callable[[str], bool]:
    return lambda text: INT_RANGES[fmt][0] <= int(text) <= INT_RANGES[fmt][1]


_ISO_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")

# The OpenAPI Format Registry (spec.openapis.org/registry/format), each with how a client reads it.
REGISTRY: dict[str, Callable[[str], Any]] = {
    "base64url": lambda t: base64.urlsafe_b64decode(t.encode()),
    "binary": lambda t: t.encode(),
    "byte": lambda t: base64.b64decode(t.encode(), validate=True),
    "char": lambda t: len(t) == 1,
    "commonmark": lambda t: bool(t.strip()),
    "date-time": lambda t: datetime.fromisoformat(t).tzinfo is not None,
    "date": date.fromisoformat,
    "decimal": Decimal,
    "decimal128": Decimal,
    "double-int": lambda t: abs(int(t)) < 2**53,
    "duration": lambda t: bool(_ISO_DURATION.match(t)),
    "email": lambda t: re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", t) is not None,
    "float": float,
    "hostname": lambda t: re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", t) is not None,
    "html": _html,
    "http-date": parsedate_to_datetime,
    "idn-email": lambda t: "@" in t,
    "idn-hostname": lambda t: bool(t.encode("idna")),
    "int8": _in_range("int8"),
    "int16": _in_range("int16"),
    "int32": _in_range("int32"),
    "int64": _in_range("int64"),
    "ipv4": ipaddress.IPv4Address,
    "ipv6": ipaddress.IPv6Address,
    "iri-reference": lambda t: urlparse(t).path.startswith("/"),
    "iri": lambda t: bool(urlparse(t).scheme and urlparse(t).netloc),
    "json-pointer": lambda t: t.startswith("/"),
    "media-range": lambda t: re.fullmatch(r"(\*|[a-z]+)/(\*|[a-z0-9.+-]+)", t) is not None,
    "password": lambda t: bool(t),
    "regex": re.compile,
    "relative-json-pointer": lambda t: re.fullmatch(r"\d+(#|(/.*)?)", t) is not None,
    "sf-binary": lambda t: t[0] == t[-1] == ":" and base64.b64decode(t[1:-1], validate=True) is not None,
    "sf-boolean": lambda t: t in ("?0", "?1"),
    "sf-decimal": lambda t: re.fullmatch(r"-?\d{1,12}\.\d{1,3}", t) is not None,
    "sf-integer": lambda t: re.fullmatch(r"-?\d{1,15}", t) is not None,
    "sf-string": lambda t: t[0] == t[-1] == '"' and len(t) >= 2,
    "sf-token": lambda t: re.fullmatch(r"[A-Za-z*][A-Za-z0-9!#$%&'*+.^_`|~:/-]*", t) is not None,
    "time": time.fromisoformat,
    "uint8": _in_range("uint8"),
    "uri-reference": lambda t: urlparse(t).path.startswith("/"),
    "uri-template": lambda t: re.search(r"\{[a-z_]+\}", t) is not None,
    "uri": lambda t: bool(urlparse(t).scheme and urlparse(t).netloc),
    "uuid": uuid.UUID,
}


@pytest.mark.parametrize("fmt", sorted(REGISTRY))
@pytest.mark.parametrize("openapi31", [False, True])
def test_every_registry_format_is_generated_as_text_its_parser_reads(fmt: str, openapi31: bool) -> None:
    schema = {"type": "string", "format": fmt}
    validator = compile_schema(schema, openapi31, direction="response")
    for seed in range(5):
        value = generate(schema, seed)
        assert isinstance(value, str) and validator.is_valid(value), value
        assert REGISTRY[fmt](value) not in (False, None), value


@pytest.mark.parametrize("fmt", sorted(INT_RANGES))
def test_integer_formats_are_generated_inside_their_range(fmt: str) -> None:
    schema = {"type": "integer", "format": fmt, "minimum": 100}
    low, high = INT_RANGES[fmt]
    assert all(low <= generate(schema, seed) <= high for seed in range(10))


@pytest.mark.parametrize("fmt", ["decimal", "int64", "x-acme-money", "currency", "unix-time", "phone"])
def test_an_unknown_or_string_numeric_format_never_refuses_a_string(fmt: str) -> None:
    for openapi31 in (False, True):
        validator = compile_schema({"type": "string", "format": fmt}, openapi31)
        assert validator.is_valid("not what the format says")


@pytest.mark.parametrize(("fmt", "bad"), [("date", "2024-13-45"), ("date-time", "2024-01-01"), ("uuid", "not-a-uuid"),
                                          ("email", "nobody"), ("ipv4", "300.1.1.1"), ("ipv6", "::zz"), ("uri", "no scheme"),
                                          ("byte", "%%%")])
def test_known_formats_are_checked(fmt: str, bad: str) -> None:
    for openapi31 in (False, True):
        assert not compile_schema({"type": "string", "format": fmt}, openapi31).is_valid(bad)


def test_integer_format_ranges_are_checked() -> None:
    validator = compile_schema({"type": "integer", "format": "int32"}, openapi31=False)
    assert validator.is_valid(2**31 - 1) and not validator.is_valid(2**31)


LIST_SPEC = {
    "openapi": "3.0.3", "info": {"title": "list objects", "version": "1"},
    "paths": {"/v1/charges": {"get": {"responses": {"200": {"description": "a Stripe-style list", "content": {
        "application/json": {"schema": {
            "type": "object", "required": ["object", "url", "data", "has_more"],
            "properties": {
                "object": {"type": "string", "enum": ["list"]}, "url": {"type": "string"}, "has_more": {"type": "boolean"},
                "data": {"type": "array", "items": {"type": "object", "required": ["fx_rate", "amount", "url"], "properties": {
                    "fx_rate": {"type": "string", "format": "decimal"}, "amount": {"type": "string", "format": "int64"},
                    "url": {"type": "string"}}}}}}}}}}}},
        "/v1/refunds": {"get": {"responses": {"200": {"description": "a list whose url says it is absolute", "content": {
            "application/json": {"schema": {"type": "object", "properties": {
                "object": {"type": "string"}, "url": {"type": "string", "format": "uri"},
                "data": {"type": "array", "items": {"type": "string"}}}}}}}}}},
    },
}


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    spec = Path(tmp_path_factory.mktemp("formats")) / "lists.yaml"
    spec.write_text(yaml.safe_dump(LIST_SPEC))
    with GatewayThread(gateway_config({"stripe": {"spec": str(spec), "base_path": "/stripe"}})) as gateway, \
            gateway.client() as client:
        yield client


def test_a_decimal_string_is_answered_as_a_decimal_and_an_int64_string_as_digits(lists: httpx.Client) -> None:
    item = lists.get("/stripe/v1/charges").json()["data"][0]
    assert Decimal(item["fx_rate"]) > 0 and int(item["amount"]) > 0


def test_a_list_objects_url_is_the_requests_path_below_the_base(lists: httpx.Client) -> None:
    body = lists.get("/stripe/v1/charges").json()
    assert body["object"] == "list" and body["url"] == "/v1/charges"
    assert body["data"][0]["url"].startswith("https://")  # the items are no list objects: their url stays a URL


def test_a_list_objects_url_with_a_format_follows_the_format(lists: httpx.Client) -> None:
    assert urlparse(lists.get("/stripe/v1/refunds").json()["url"]).scheme == "https"
