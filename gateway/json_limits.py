"""The one JSON parser for bodies from the network: bounded in nesting depth and number size.

`json.loads` recurses once per nesting level (a body of 100,000 `[` raises RecursionError) and
converts integers of any length (thousands of digits raise ValueError, or take quadratic time below
Python's cap). Every JSON body the gateway parses — requests, upstream answers, recordings, stub
matching — goes through `parse_json`, so a document deeper or with longer numbers than the limits is
refused before anything walks it: a client's is a 400 problem, an upstream's a 502. The walkers after it
(validation, redaction, matching, generation, the journal, YAML dumps) only ever see bounded documents.

The depth is measured before parsing by counting brackets outside strings (regex and C-level counting,
linear time), so a bomb costs one scan, never a deep recursion.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from .policy_settings import SettingsError

HIGHEST_DEPTH = 512  # the walkers recurse per level: above this a Python stack is at risk


@dataclass
class JsonSettings:
    """`json:` in gateway.yaml: how deep and how long-numbered a JSON body may be (requests, upstream answers)."""

    max_depth: int = 256  # nested arrays/objects; deeper is a 400 (request) or 502 (upstream answer)
    max_number_digits: int = 1000  # digits of one number literal

    def check(self) -> None:
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


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEPS = {"[": 1, "{": 1, "]": -1, "}": -1}


def parse_json(data: bytes | bytearray | str, settings: JsonSettings | None = None) -> Any:
    """`data` parsed as JSON, or ValueError: JSONDecodeError when malformed, JsonLimitError when nested
    deeper than `max_depth` or holding a number longer than `max_number_digits`, UnicodeDecodeError."""
    bounds = settings or _limits
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode(json.detect_encoding(data))
    if not isinstance(data, str):
        raise TypeError(f"JSON text must be str or bytes, not {type(data).__name__}")
    text = data
    check_depth(text, bounds.max_depth)
    hooks: dict[str, Any] = {}
    if re.search(rf"\d{{{bounds.max_number_digits + 1}}}", text):  # a run that long (in strings too): check each number
        hooks = {"parse_int": _bounded(int, bounds.max_number_digits), "parse_float": _bounded(float, bounds.max_number_digits)}
    try:
        return json.loads(text, **hooks)
    except RecursionError:  # cannot happen below HIGHEST_DEPTH, kept so no path ever raises past a handler
        raise JsonLimitError(f"JSON nested deeper than {bounds.max_depth} levels") from None


def check_depth(text: str, max_depth: int) -> None:
    """JsonLimitError when the brackets outside strings nest deeper than `max_depth`."""
    if text.count("[") + text.count("{") <= max_depth:  # the common case: cannot be that deep
        return
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if brackets and max(accumulate(map(_STEPS.__getitem__, brackets))) > max_depth:
        raise JsonLimitError(f"JSON nested deeper than {max_depth} levels (the gateway's json.max_depth)")


def _bounded(convert: Any, max_digits: int) -> Any:
    def parse(literal: str) -> Any:
        if sum(c.isdigit() for c in literal) > max_digits:
            raise JsonLimitError(f"a JSON number of more than {max_digits} digits (the gateway's json.max_number_digits)")
        return convert(literal)
    return parse


def json_depth(value: Any) -> int:
    """How deeply a parsed document nests (a scalar: 0, `[]`: 1), counted without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            depth += 1
            deepest = max(deepest, depth)
            stack.extend((child, depth) for child in (node.values() if isinstance(node, dict) else node)
                         if isinstance(child, (dict, list)))
    return deepest
