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

from .spec_refs import SIBLINGS_30

LITERAL_MARK = "x-gw-pattern-literal"  # the pattern as written, kept beside the one read (see generator.py)
_LITERAL = re.compile(r"/(?P<inside>.+)/(?P<flags>[dgimsuvy]*)", re.DOTALL)
_VALUES = frozenset({"example", "examples", "default", "enum", "const"})  # data, not schemas
_NAMES = frozenset({"properties", "patternProperties", "$defs", "definitions", "schemas", "dependentSchemas"})


def schema_slips(document: dict[str, Any], spec_file: Path, limit: int = 50) -> list[str]:
    """One `file: place: reason` line per slip, in document order, at most `limit`."""
    warnings: list[str] = []
    for place, node in _schemas(document):
        warnings += [f"{spec_file}: {place}.{key}: {reason}" if place else f"{spec_file}: {key}: {reason}"
                     for key, reason in _slips(node)]
        if len(warnings) >= limit:
            break
    return warnings[:limit]


def ref_siblings(document: dict[str, Any], spec_file: Path, limit: int = 50) -> list[str]:
    """One warning per `$ref` whose 3.0 / 2.0 siblings constrain values, which that version ignores."""
    if str(document.get("openapi", "")).startswith(("3.1", "3.2")):
        return []
    warnings = []
    for place, node in _schemas(document):
        ignored = [key for key in node if isinstance(node.get("$ref"), str) and key != "$ref"
                   and key not in SIBLINGS_30 and not key.startswith("x-")]
        if ignored:
            warnings.append(f"{spec_file}: {place or '$ref'}: {', '.join(ignored)} beside $ref "
                            f"{'is' if len(ignored) == 1 else 'are'} ignored in OpenAPI 3.0 and Swagger 2.0")
    if len(warnings) > limit:
        warnings = [*warnings[:limit], f"{spec_file}: {len(warnings) - limit} more $refs have siblings that are ignored"]
    return warnings


def js_regex_literals(document: dict[str, Any], spec_file: Path, limit: int = 50) -> tuple[dict[str, Any], list[str]]:
    """The document with every regex-literal `pattern` read as the regex it denotes (`document` itself
    when none is written), and a warning per place (at most `limit`, then a count)."""
    if not any(_literal(node) for _place, node in _schemas(document)):
        return document, []
    served = copy.deepcopy(document)
    warnings = []
    for place, node in list(_schemas(served)):
        read = _literal(node)
        if read is not None:
            node[LITERAL_MARK], node["pattern"] = node["pattern"], read
            where = f"{place}.pattern" if place else "pattern"
            warnings.append(f"{spec_file}: {where}: pattern is written as a JavaScript regex literal; read as {read}")
    if len(warnings) > limit:
        more = f"{spec_file}: {len(warnings) - limit} more patterns are written as JavaScript regex literals"
        warnings = [*warnings[:limit], more]
    return served, warnings


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


def _schemas(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(place, mapping) for each mapping that may be a schema, in document order: data (examples,
    defaults, enums) is not walked, and under `properties` and the like every key is a name."""
    stack: list[tuple[Any, str, bool]] = [(document, "", False)]
    seen: set[int] = set()
    while stack:
        node, place, named = stack.pop()  # named: a map of names to schemas (`properties`)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            if not named:
                yield place, node
            stack.extend((v, f"{place}.{k}" if place else str(k), k in _NAMES and not named) for k, v in reversed(node.items())
                         if isinstance(v, (dict, list)) and (named or k not in _VALUES))
        elif isinstance(node, list):
            stack.extend((v, f"{place}[{i}]", False) for i, v in reversed(list(enumerate(node))) if isinstance(v, (dict, list)))


def _slips(node: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as exc:
            found.append(("pattern", f"{pattern!r} is not a regular expression Python can compile ({exc})"))
    return found
