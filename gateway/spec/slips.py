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
from pathlib import Path
from typing import Any

from .refs import SIBLINGS_30
from .walk import Found, schema_nodes, spelled, survey

LITERAL_MARK = "x-gw-pattern-literal"  # the pattern as written, kept beside the one read (see generator.py)
_LITERAL = re.compile(r"/(?P<inside>.+)/(?P<flags>[dgimsuvy]*)", re.DOTALL)


def schema_slips(document: dict[str, Any], spec_file: Path, marked: Found | None = None,
                 limit: int = 50) -> tuple[dict[str, Any], list[str]]:
    """The document with regex-literal patterns read as the regex they denote (`document` itself when
    none is written), and one `file: place: reason` line per slip, in document order: at most `limit`
    of each kind, then a count. `marked`: the document's marked mappings (`survey`), when the loader walked
    it already; only the schemas among them are read (`schema_nodes`)."""
    siblings_ignored = not str(document.get("openapi", "")).startswith(("3.1", "3.2"))
    slips: list[str] = []
    ignored: list[str] = []
    literals: list[tuple[str, dict[str, Any], str]] = []
    marked = survey(document).marked if marked is None else marked
    candidates = [(chain, node) for chain, node in marked if "pattern" in node or (siblings_ignored and "$ref" in node)]
    for chain, node in schema_nodes(document, candidates):
        if "pattern" in node:
            for key, reason in _slips(node):
                slips.append(f"{spec_file}: {spelled(chain, key)}: {reason}")
            read = _literal(node)
            if read is not None:
                literals.append((spelled(chain, "pattern"), node, read))
        if siblings_ignored and isinstance(node.get("$ref"), str):
            extra = [key for key in node if key != "$ref" and key not in SIBLINGS_30 and not key.startswith("x-")]
            if extra:
                ignored.append(f"{spec_file}: {spelled(chain) or '$ref'}: {', '.join(extra)} beside $ref "
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


def _slips(node: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as exc:
            found.append(("pattern", f"{pattern!r} is not a regular expression Python can compile ({exc})"))
    return found
