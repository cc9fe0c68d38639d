"""Schema slips no meta-schema names precisely, each served all the same with a located warning so
the author can fix it:
- a `pattern` Python's regex engine cannot compile (ECMA syntax such as `\\p{L}`);
- words beside a `$ref` in OpenAPI 3.0 / Swagger 2.0 that constrain values (`required`, `minimum`...):
  those versions say they are ignored, and spec_refs ignores them as clients do;
- a `pattern` written as a JavaScript regex literal (`'/^[a-z]+$/'`, `'/x/i'`): as written no value
  can match the slashes, so every request would be refused and no answer generated. The author meant
  the inside, and the served copy reads it so (`i` as case-insensitive, other flags dropped). Only a
  pattern that both starts with `/` and ends with `/` plus optional flags, and whose inside compiles,
  is read so: `/users/[0-9]+` is a real pattern and stays as written.
(An `enum` listing a value twice is the semantic check's.)"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .refs import SIBLINGS_30

LITERAL_MARK = "x-gw-pattern-literal"  # the pattern as written, kept beside the one read (see generator.py)
_LITERAL = re.compile(r"/(?P<inside>.+)/(?P<flags>[dgimsuvy]*)", re.DOTALL)
_VALUES = frozenset({"example", "examples", "default", "enum", "const"})  # data, not schemas
_NAMES = frozenset({"properties", "patternProperties", "$defs", "definitions", "schemas", "dependentSchemas"})


def schema_slips(document: dict[str, Any], spec_file: Path, limit: int = 50) -> tuple[dict[str, Any], list[str]]:
    """The document with regex-literal patterns read as the regex they denote (`document` itself when
    none is written), and one `file: place: reason` line per slip, in document order: at most `limit`
    of each kind, then a count. One walk over the schemas."""
    siblings_ignored = not str(document.get("openapi", "")).startswith(("3.1", "3.2"))
    slips: list[str] = []
    ignored: list[str] = []
    literals: list[tuple[str, dict[str, Any], str]] = []
    for chain, node in _schemas(document):
        if "pattern" in node:  # most schemas have none: no calls for them
            for key, reason in _slips(node):
                slips.append(f"{spec_file}: {_place(chain, key)}: {reason}")
            read = _literal(node)
            if read is not None:
                literals.append((_place(chain, "pattern"), node, read))
        if siblings_ignored and isinstance(node.get("$ref"), str):
            extra = [key for key in node if key != "$ref" and key not in SIBLINGS_30 and not key.startswith("x-")]
            if extra:
                ignored.append(f"{spec_file}: {_place(chain) or '$ref'}: {', '.join(extra)} beside $ref "
                               f"{'is' if len(extra) == 1 else 'are'} ignored in OpenAPI 3.0 and Swagger 2.0")
    warnings = slips[:limit] + _counted(ignored, limit, f"{spec_file}: {{}} more $refs have siblings that are ignored")
    if not literals:
        return document, warnings
    copies: dict[int, Any] = {}
    served = copy.deepcopy(document, copies)  # `copies` maps each original node to its copy
    for _place_text, node, read in literals:
        patched = copies[id(node)]
        patched[LITERAL_MARK], patched["pattern"] = patched["pattern"], read
    lines = [f"{spec_file}: {place}: pattern is written as a JavaScript regex literal; read as {read}"
             for place, _node, read in literals]
    return served, warnings + _counted(lines, limit, f"{spec_file}: {{}} more patterns are written as JavaScript regex literals")


def _counted(lines: list[str], limit: int, more: str) -> list[str]:
    return lines if len(lines) <= limit else [*lines[:limit], more.format(len(lines) - limit)]


def _place(chain: Any, last: str = "") -> str:
    """`paths./a.get.parameters[0]` from the walk's (parent, key) chain, with `last` appended."""
    parts: list[str] = []
    while chain:
        chain, key = chain
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    text = "".join(reversed(parts)).lstrip(".")
    return f"{text}.{last}".lstrip(".") if last else text


def inside_of(pattern: str) -> str | None:
    """The regex a JavaScript literal `/inside/flags` denotes, or None when `pattern` is not one."""
    found = _LITERAL.fullmatch(pattern)
    if found is None:
        return None
    read = f"(?i){found['inside']}" if "i" in found["flags"] else found["inside"]
    try:
        re.compile(read)
    except re.error:
        return None
    return read


def _literal(node: dict[str, Any]) -> str | None:
    pattern = node.get("pattern")
    return inside_of(pattern) if isinstance(pattern, str) and LITERAL_MARK not in node else None


def _schemas(document: dict[str, Any]) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(place chain, mapping) for each mapping that may be a schema, in document order: data (examples,
    defaults, enums) is not walked, and under `properties` and the like every key is a name. The
    place is a (parent chain, key) pair, spelled out by `_place` only where a warning needs it."""
    stack: list[tuple[Any, Any, bool]] = [(document, None, False)]
    seen: set[int] = set()
    while stack:
        node, chain, named = stack.pop()  # named: a map of names to schemas (`properties`)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            if not named:
                yield chain, node
            stack.extend((v, (chain, k), k in _NAMES and not named) for k, v in reversed(node.items())
                         if isinstance(v, (dict, list)) and (named or k not in _VALUES))
        elif isinstance(node, list):
            stack.extend((v, (chain, i), False) for i, v in reversed(list(enumerate(node))) if isinstance(v, (dict, list)))


def _slips(node: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as exc:
            found.append(("pattern", f"{pattern!r} is not a regular expression Python can compile ({exc})"))
    return found
