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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import chain, compress
from typing import Any

from .policy_settings import SettingsError

HIGHEST_DEPTH = 400  # validation, redaction and the recorder recurse per level: above ~500 Python's stack runs out


@dataclass
class JsonSettings:
    """`json:` in gateway.yaml: how deep and how long-numbered a JSON body may be (requests, upstream answers)."""

    max_depth: int = 256  # nested arrays/objects; deeper is a 400 (request) or 502 (upstream answer)
    max_number_digits: int = 1000  # digits of one integer (Python converts long integers in quadratic time)

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
    deeper than `max_depth` or holding an integer longer than `max_number_digits`, UnicodeDecodeError."""
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
    if len(text) > min(bounds.max_depth * 2, bounds.max_number_digits):  # else neither limit can be reached
        depth, biggest = measure(document)
        if depth > bounds.max_depth:
            raise _too_deep(bounds.max_depth)
        if biggest >= 10 ** bounds.max_number_digits:
            raise _too_long(bounds.max_number_digits)
    return document


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
