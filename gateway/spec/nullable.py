"""`nullable: true` in a 3.1 document: the 3.0 keyword its author meant as "null allowed".

JSON Schema 2020-12 ignores the word, so a strict reading refuses `null` where the author (and
clients such as schemathesis) send it. The served copy says it in 3.1's words instead: `type: X`
becomes `type: [X, "null"]`, an `enum` gains null, a schema built of references or unions is wrapped
in `anyOf: [it, {type: null}]`. One located warning per place, so the author can fix the source.
Requests, the mocker and the contract checker all read the same patched copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .plain_copy import plain_copy

REASON = "nullable is an OpenAPI 3.0 keyword; read as allowing null in 3.1"
_VALUES = frozenset({"example", "examples", "default", "enum", "const"})  # data, not schemas: never patched
_NAMES = frozenset({"properties", "patternProperties", "$defs", "definitions", "schemas", "dependentSchemas"})
_BUILT = ("$ref", "allOf", "oneOf", "anyOf", "not", "const", "if")  # a `type` beside these would not admit null


def nullable_as_31(raw: dict[str, Any], spec_file: Path, limit: int = 50) -> tuple[dict[str, Any], list[str]]:
    """The document with every 3.1 schema's `nullable: true` read as allowing null (`raw` itself when
    none is written or the document is not 3.1), and a warning per place (at most `limit`, then a count)."""
    if not str(raw.get("openapi", "")).startswith("3.1") or not _places(raw):
        return raw, []
    served = plain_copy(raw)
    places = _places(served)
    for _place, node in places:
        _admit_null(node)
    warnings = [f"{spec_file}: {place}: {REASON}" if place else f"{spec_file}: {REASON}" for place, _node in places[:limit]]
    if len(places) > limit:
        warnings.append(f"{spec_file}: {len(places) - limit} more schemas write nullable: {REASON}")
    return served, warnings


def _places(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(place, schema) for each mapping that says `nullable: true`, in document order."""
    found: list[tuple[str, dict[str, Any]]] = []
    stack: list[tuple[Any, str, bool]] = [(document, "", False)]
    seen: set[int] = set()
    while stack:
        node, place, named = stack.pop()  # named: a map of names to schemas (`properties`), where any key is a name
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            if node.get("nullable") is True and not named:
                found.append((place, node))
            stack.extend((v, f"{place}.{k}" if place else str(k), k in _NAMES and not named) for k, v in reversed(node.items())
                         if isinstance(v, (dict, list)) and (named or k not in _VALUES))
        elif isinstance(node, list):
            stack.extend((v, f"{place}[{i}]", False) for i, v in reversed(list(enumerate(node))) if isinstance(v, (dict, list)))
    return found


def _admit_null(node: dict[str, Any]) -> None:
    """Rewrite one schema in place so that null fits it, as 3.0's `nullable: true` meant."""
    del node["nullable"]
    if any(key in node for key in _BUILT):
        rest = dict(node)
        node.clear()
        node["anyOf"] = [rest, {"type": "null"}]
        return
    kind = node.get("type")
    if isinstance(kind, str) and kind != "null":
        node["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        node["type"] = [*kind, "null"]
    if isinstance(node.get("enum"), list) and None not in node["enum"]:
        node["enum"] = [*node["enum"], None]
