"""The one JSON parser for bodies from the network: bounded in nesting depth and number size.

`json.loads` recurses once per nesting level (a body of 100,000 `[` raises RecursionError) and
converts integers of any length (thousands of digits raise ValueError, or take quadratic time below
Python's cap). Every JSON body the gateway parses — requests, upstream answers, recordings, stub
matching — goes through `parse_json`, so a document deeper or with longer numbers than the limits is
refused before anything walks it: a client's is a 400 problem, an upstream's a 502. The walkers after it
(validation, redaction, matching, generation, the journal, YAML dumps) only ever see bounded documents.

A bomb nested deeper than the interpreter allows stops the C parser at its recursion guard (linear time,
nothing built), before any scan of ours; a document that parses is measured without recursion
(`json_depth`, only when it has more brackets than `max_depth`) and parsed again with counting number
hooks only when a run of number characters longer than `max_number_digits` appears in it, so nothing
deeper or longer than the limits reaches a walker, and ordinary bodies pay one regex scan.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .policy_settings import SettingsError

HIGHEST_DEPTH = 400  # validation, redaction and the recorder recurse per level: above ~500 Python's stack runs out


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


def parse_json(data: bytes | bytearray | str, settings: JsonSettings | None = None) -> Any:
    """`data` parsed as JSON, or ValueError: JSONDecodeError when malformed, JsonLimitError when nested
    deeper than `max_depth` or holding a number longer than `max_number_digits`, UnicodeDecodeError."""
    bounds = settings or _limits
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode(json.detect_encoding(data))
    if not isinstance(data, str):
        raise TypeError(f"JSON text must be str or bytes, not {type(data).__name__}")
    text = data
    try:
        document = json.loads(text)
    except RecursionError:  # the C parser stops a bomb at the interpreter's recursion limit, in linear time
        raise _too_deep(bounds.max_depth) from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # Python's own cap on integer conversion (4,300 digits), above any allowed limit
        raise _too_long(bounds.max_number_digits) from None
    if re.search(rf"[\d.eE+-]{{{bounds.max_number_digits + 1}}}", text):  # a literal that long may be there: count each
        bounded = _bounded(int, bounds.max_number_digits), _bounded(float, bounds.max_number_digits)
        document = json.loads(text, parse_int=bounded[0], parse_float=bounded[1])
    if text.count("[") + text.count("{") > bounds.max_depth and json_depth(document) > bounds.max_depth:
        raise _too_deep(bounds.max_depth)
    return document


def _too_deep(max_depth: int) -> JsonLimitError:
    return JsonLimitError(f"JSON nested deeper than {max_depth} levels (the gateway's json.max_depth)")


def _too_long(max_digits: int) -> JsonLimitError:
    return JsonLimitError(f"a JSON number of more than {max_digits} digits (the gateway's json.max_number_digits)")


def _bounded(convert: Any, max_digits: int) -> Any:
    def parse(literal: str) -> Any:
        if sum(c.isdigit() for c in literal) > max_digits:
            raise _too_long(max_digits)
        return convert(literal)
    return parse


def json_depth(value: Any) -> int:
    """How deeply a parsed document nests (a scalar: 0, `[]`: 1), counted without recursion."""
    deepest = 0
    if not isinstance(value, (dict, list)):
        return 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
        children = node.values() if isinstance(node, dict) else node
        stack.extend([(child, depth + 1) for child in children if isinstance(child, (dict, list))])
    return deepest
