"""JSONPath for stub body matchers: RFC 9535, through jsonpath-rfc9535, compiled once when a stub file loads.

Everything RFC 9535 defines works: `$.a.b`, `$['a b']`, `[0]`, `[-1]`, `[*]`, slices `[0:2]`, unions `[0,2]`,
descendants `$..sku`, filters `[?@.qty > 1]`, `[?@.sku == 'A']`, `[?match(@.id, 'cus_.*')]`, `length()`, `count()`.
A path that is not JSONPath is a load-time error with the reason and column, never a matcher that silently
matches nothing. The names earlier versions took after a dot that RFC 9535 writes in brackets (`$.x-request-id`,
`$.$ref`) still work: such a path is read as `$['x-request-id']`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import jsonpath_rfc9535 as rfc9535

Query = rfc9535.JSONPathQuery


class JsonPathError(ValueError):
    """Not a JSONPath: the reason, with the column (`unbalanced brackets, line 1, column 8`)."""


@lru_cache(maxsize=4096)
def compile_path(path: str) -> Query:
    """The compiled query (immutable: stubs naming the same path share it, as recorded stubs' `$.field` paths do);
    JsonPathError when `path` is not RFC 9535 JSONPath (nor one of the older dotted names)."""
    try:
        return rfc9535.compile(path)
    except rfc9535.JSONPathError as exc:
        legacy = _bracketed(path)
        if legacy is None:
            raise JsonPathError(str(exc)) from None
        return rfc9535.compile(legacy)


def values(query: Query, document: Any) -> list[Any]:
    """The values the query selects in a parsed JSON document (none when evaluation fails: a miss, never an error)."""
    try:
        return query.find(document).values()
    except rfc9535.JSONPathError:
        return []


def json_path(document: Any, path: str) -> list[Any]:
    """The values at `path` (compiled once per distinct path); nothing for a path that is not JSONPath."""
    try:
        return values(compile_path(path), document)
    except JsonPathError:
        return []


# The dotted form stub files used before RFC 9535 (`[\w$-]` names after a dot); rewritten step by step into brackets.
_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[\*\]|\.\*|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def _bracketed(path: str) -> str | None:
    """`$.x-id[0]` as `$['x-id'][0]`: the same steps, each in a form RFC 9535 reads; None when `path` is not of that form."""
    if not path.startswith("$"):
        return None
    steps, position = ["$"], 1
    while position < len(path):
        step = _STEP.match(path, position)
        if step is None:
            return None
        position = step.end()
        name, index, quoted, double = step.groups()
        key = name if name is not None else quoted if quoted is not None else double
        if key is not None:
            steps.append("[" + _quoted(key) + "]")
        else:
            steps.append(f"[{index}]" if index is not None else "[*]")
    return "".join(steps)


def _quoted(name: str) -> str:
    """A name as an RFC 9535 string literal (single quotes, backslash escapes)."""
    escaped = "".join(_ESCAPES.get(char) or (f"\\u{ord(char):04x}" if ord(char) < 0x20 else char) for char in name)
    return f"'{escaped}'"


_ESCAPES = {"\\": "\\\\", "'": "\\'", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
