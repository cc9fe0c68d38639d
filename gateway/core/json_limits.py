"""The one JSON parser for bodies from the network: bounded in nesting depth and number size.

`json.loads` recurses once per nesting level (a body of 100,000 `[` raises RecursionError) and
converts integers of any length (thousands of digits raise ValueError, or take quadratic time below
Python's cap). Every JSON body the gateway parses — requests, upstream answers, recordings, stub
matching — goes through `parse_json`, so a document deeper or with longer numbers than the limits is
refused before anything walks it: a client's is a 400 problem, an upstream's a 502. The walkers after it
(validation, redaction, matching, generation, the journal, YAML dumps) only ever see bounded documents.

A bomb nested deeper than the interpreter allows stops the C parser at its recursion guard (linear time,
nothing built), before any scan of ours; a document that parses is measured without recursion
level by level with C-level iterators (`measure`: its depth and its largest integer), so nothing deeper or
longer than the limits reaches a walker. Integers are bounded because Python converts them in quadratic
time (and refuses above 4,300 digits); a float's literal is parsed in linear time into a fixed-size value.

The parser is orjson (several times faster than the stdlib's on the bodies a gateway sees), with the
stdlib's for what orjson reads differently or refuses, so every document that parsed before parses to the
same value: integers beyond 64 bits (orjson reads them as floats: a text holding a run of 19 digits goes
to the stdlib), NaN and Infinity, numbers too large for a double, lone surrogates, UTF-16/32 and BOMs
(json.detect_encoding), nesting beyond orjson's own 1,024 levels, and every malformed text (so the error
says what the stdlib's said). Each body is parsed once per exchange (json_once.py).
"""

from __future__ import annotations

import codecs
import json
import re
from itertools import chain, compress
from typing import Any

import orjson

from ..settings.types import Block, SettingsError

HIGHEST_DEPTH = 400  # validation, redaction and the recorder recurse per level: above ~500 Python's stack runs out


class JsonSettings(Block):
    """`json:` in gateway.yaml: how deep and how long-numbered a JSON body may be (requests, upstream answers)."""

    max_depth: int = 256  # nested arrays/objects; deeper is a 400 (request) or 502 (upstream answer)
    max_number_digits: int = 1000  # digits of one integer (Python converts long integers in quadratic time)

    def rules(self) -> None:
        if not 1 <= self.max_depth <= HIGHEST_DEPTH:
            raise SettingsError("max_depth", f"expected 1 to {HIGHEST_DEPTH}, got {self.max_depth}")
        if not 1 <= self.max_number_digits <= 4000:  # Python refuses to convert integers above 4300 digits
            raise SettingsError("max_number_digits", f"expected 1 to 4000, got {self.max_number_digits}")


class JsonLimitError(ValueError):
    """A JSON document beyond the configured bounds (a ValueError, like any other malformed JSON)."""


_limits = JsonSettings()


def configure(settings: JsonSettings) -> None:
    """The limits for this process (the app applies gateway.yaml's `json:` when it starts)."""
    global _limits
    _limits = settings


def limits() -> JsonSettings:
    return _limits


def parse_json(data: bytes | bytearray | str, settings: JsonSettings | None = None, encoding: str | None = None) -> Any:
    """`data` parsed as JSON, or ValueError: JSONDecodeError when malformed, JsonLimitError when nested
    deeper than `max_depth` or holding an integer longer than `max_number_digits`, UnicodeDecodeError.
    Bytes are read in `encoding` (a request's declared charset) when given, else in the one JSON's RFC
    detects (UTF-8, -16 or -32); LookupError for an unknown `encoding`."""
    bounds = settings or _limits
    if not isinstance(data, (bytes, bytearray, str)):
        raise TypeError(f"JSON text must be str or bytes, not {type(data).__name__}")
    if encoding is not None and not isinstance(data, str) and _codec(encoding) != "utf-8":
        data = bytes(data).decode(encoding)
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:  # refused: malformed, or one of the readings only the stdlib has
        return _parse_stdlib(data, bounds, encoding)
    size = len(data)
    if size >= _LONG_RUN and _long_number(data):  # orjson read an integer beyond 64 bits as a float
        return _parse_stdlib(data, bounds, encoding)
    deep = size > bounds.max_depth * 2 and _openers(data) > bounds.max_depth
    long = bounds.max_number_digits < _LONG_RUN and size > bounds.max_number_digits  # else no integer can be that long
    if deep or long:
        _check(document, bounds)
    return document


def _parse_stdlib(data: bytes | bytearray | str, bounds: JsonSettings, encoding: str | None = None) -> Any:
    """The stdlib's reading: every encoding json.detect_encoding knows, NaN, integers of any length (bounded)."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode(encoding or json.detect_encoding(data))
    text = data
    try:
        document = json.loads(text)
    except RecursionError:  # the C parser stops a bomb at the interpreter's recursion limit, in linear time
        raise _too_deep(bounds.max_depth) from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # Python's own cap on integer conversion (4,300 digits), above any allowed limit
        raise _too_long(bounds.max_number_digits) from None
    if len(text) > min(bounds.max_depth * 2, bounds.max_number_digits):  # else neither limit can be reached
        _check(document, bounds)
    return document


def _codec(encoding: str) -> str:
    """The codec's own name (`UTF8`, `utf_8`: utf-8); LookupError for one Python does not know."""
    return codecs.lookup(encoding).name


def _check(document: Any, bounds: JsonSettings) -> None:
    depth, biggest = measure(document)
    if depth > bounds.max_depth:
        raise _too_deep(bounds.max_depth)
    if biggest >= 10 ** bounds.max_number_digits:
        raise _too_long(bounds.max_number_digits)


_LONG_RUN = 19  # digits: every integer orjson cannot hold (beyond -2**63 .. 2**64 - 1) has at least this many
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))  # each digit as "0", the rest as " "
_RUN = b"0" * _LONG_RUN
_RUN_TEXT = re.compile(f"[0-9]{{{_LONG_RUN}}}")


def _long_number(data: bytes | bytearray | str) -> bool:
    """Whether the text holds a run of 19 digits (an integer orjson would read as a float; or a long
    fraction, or digits in a string: those are read by the stdlib too, to the same value). Linear, in C."""
    if isinstance(data, str):
        return _RUN_TEXT.search(data) is not None
    return _RUN in data.translate(_DIGITS_ONLY)


def _openers(data: bytes | bytearray | str) -> int:
    """How many arrays and objects the text opens at most (brackets in strings counted too): a bound on its depth."""
    if isinstance(data, str):
        return data.count("[") + data.count("{")
    return data.count(b"[") + data.count(b"{")


def _too_deep(max_depth: int) -> JsonLimitError:
    return JsonLimitError(f"JSON nested deeper than {max_depth} levels (the gateway's json.max_depth)")


def _too_long(max_digits: int) -> JsonLimitError:
    return JsonLimitError(f"a JSON integer of more than {max_digits} digits (the gateway's json.max_number_digits)")


def json_depth(value: Any) -> int:
    """How deeply a parsed document nests (a scalar: 0, `[]`: 1), counted without recursion."""
    return measure(value)[0]


def measure(value: Any) -> tuple[int, int]:
    """A parsed document's depth and its largest integer (absolute), counted level by level without
    recursion, each level's children picked out by C-level iterators (a few tens of ms per MB)."""
    level = [value] if type(value) in _CONTAINERS else []
    biggest = abs(value) if type(value) is int else 0
    depth = 0
    while level:
        depth += 1
        children = list(chain.from_iterable(node.values() if type(node) is dict else node for node in level))
        kinds = list(map(type, children))
        biggest = max(biggest, max(map(abs, compress(children, map(_INTEGER.__contains__, kinds))), default=0))
        level = list(compress(children, map(_CONTAINERS.__contains__, kinds)))
    return depth, biggest


_CONTAINERS = frozenset({dict, list})
_INTEGER = frozenset({int})
