"""Where an error body says its HTTP status: `status`, `statusCode`, an HTTP-like integer `code`, also inside
an `{"error": {...}}` object. A generated error body must say the status it is sent with (a random integer in
100..599 misleads the client that reads it), and every change is kept only while the schema accepts the body.
"""

from __future__ import annotations

from typing import Any

from ..contract.judge import accepts
from ..validation.serialization import declared_types

STATUS_NAMES = frozenset({"status", "statuscode", "httpstatus", "httpstatuscode", "httpcode"})  # field_name() spelling
CODE_NAMES = frozenset({"code", "errorcode"})
NESTED_NAMES = frozenset({"error", "err", "fault", "problem"})  # an object holding the failure ({"error": {...}})

Edit = tuple[tuple[str, ...], Any]  # (path of property names, new value)


class Alternatives(list):
    """An edit's values, best first: the first the schema accepts is kept."""


def stamp_status(value: Any, schema: Any, status: int, checker: Any, generated: bool = True) -> Any:
    """`value` with its HTTP status fields (`status`, `statusCode`, an HTTP-like integer `code`, also inside an
    `error` object) saying `status`, where the schema still accepts it: an error body says the status it is sent with.
    In a documented example, an integer `code` is an HTTP status only when it reads as one."""
    if not isinstance(value, dict) or not isinstance(schema, dict):
        return value
    edits = list(status_edits(value, schema, status, (), generated))
    return apply_edits(value, edits, checker)


def status_edits(value: dict[str, Any], schema: dict[str, Any], status: int, path: tuple[str, ...],
                 generated: bool = True) -> list[Edit]:
    edits: list[Edit] = []
    for name, sub in properties(schema).items():
        norm, types = field_name(name), set(declared_types(sub))
        current = value.get(name)
        numeric = bool(types & {"integer", "number"}) or is_int(current)
        if numeric and (norm in STATUS_NAMES or (norm in CODE_NAMES and _http_like(current, sub, generated))):
            edits.append(((*path, name), status))
        elif norm in NESTED_NAMES and isinstance(current, dict) and isinstance(sub, dict):
            edits += status_edits(current, sub, status, (*path, name), generated)
    return edits


def _http_like(current: Any, schema: Any, generated: bool) -> bool:
    """An integer `code` that can be an HTTP status: its schema's bounds allow one and, in an example, the
    documented value is one (an application error number such as 1001 stays)."""
    if not generated:
        return is_int(current) and 100 <= current <= 599
    if isinstance(schema, dict):
        return schema.get("minimum", 100) <= 599 and schema.get("maximum", 599) >= 100
    return False


def apply_edits(value: dict[str, Any], edits: list[Edit], checker: Any) -> dict[str, Any]:
    """The edits, one at a time, each kept only while the body still passes the schema."""
    result = value
    for path, new in edits:
        for choice in new if isinstance(new, Alternatives) else [new]:
            candidate = set_at(result, path, choice)
            if candidate is not result and passes(checker, candidate):
                result = candidate
                break
    return result


def set_at(value: dict[str, Any], path: tuple[str, ...], new: Any) -> dict[str, Any]:
    """A copy of `value` with `new` at `path` (the copies go down the path only)."""
    head, rest = path[0], path[1:]
    if not rest:
        if value.get(head, object()) == new and head in value:
            return value
        return {**value, head: new}
    inner = value.get(head)
    if not isinstance(inner, dict):
        return value
    changed = set_at(inner, rest, new)
    return value if changed is inner else {**value, head: changed}


def properties(schema: Any, depth: int = 0) -> dict[str, Any]:
    """A schema's properties, its allOf/oneOf/anyOf branches' included."""
    if not isinstance(schema, dict) or depth > 8:
        return {}
    found: dict[str, Any] = {}
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key) or []:
            for name, sub in properties(part, depth + 1).items():
                found.setdefault(name, sub)
    props = schema.get("properties")
    if isinstance(props, dict):
        found.update({k: v for k, v in props.items() if isinstance(v, dict)})
    return found


def field_name(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def passes(checker: Any, value: Any) -> bool:
    return checker is None or accepts(checker, value)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
