"""A generated answer fits exactly one branch of each `oneOf`, as strict clients check.

The judge forgives a value that fits several `oneOf` branches (published specs overlap them); the
mocker holds its own answers to the strict reading, since schemathesis and SDKs that pick a branch
by trying each refuse such an answer. Where a draw fits several branches, the array items that do
are dropped (the rest of the answer kept) before the mocker draws again.
"""

from __future__ import annotations

import copy
from typing import Any

from ..judge import accepts, compile_schema
from ..specs import Operation

MAX_DROPS = 32


def exclusive_checker(operation: Operation, schema: Any, openapi31: bool) -> Any:
    """The strict judge of generated answers to `schema`, compiled once per operation; None when
    the schema has no oneOf to hold an answer to."""
    key = ("validator", "exclusive", id(schema))
    if key not in operation.cache:
        operation.cache[key] = compile_schema(schema, openapi31, "exclusive") if _has_one_of(schema) else None
    return operation.cache[key]


def exclusive(value: Any, strict: Any, checker: Any) -> tuple[Any] | None:
    """`(value,)` when it fits strictly, else `(a copy without the array items that fit several branches,)`
    when that still fits the schema, else None."""
    if strict is None or accepts(strict, value):
        return (value,)
    current = copy.deepcopy(value)
    for _ in range(MAX_DROPS):
        try:
            errors = strict.iter_errors(current)
        except Exception:  # the strict reading cannot judge this schema: the lenient verdict stands
            return (value,)
        if not errors:
            return (current,) if accepts(checker, current) else None
        if not _drop_item(current, list(errors[0].absolute_path)):
            return None
    return None


def _drop_item(value: Any, path: list[Any]) -> bool:
    """Delete the innermost array item on `path`; False when the path crosses no array."""
    nodes = [value]
    for part in path:
        node = nodes[-1]
        if (isinstance(node, dict) and part in node) or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            nodes.append(node[part])
        else:
            break
    for depth in range(len(nodes) - 2, -1, -1):
        if isinstance(nodes[depth], list):
            del nodes[depth][path[depth]]
            return True
    return False



def _has_one_of(schema: Any) -> bool:
    seen: set[int] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, (dict, list)) and id(node) not in seen:
            seen.add(id(node))
            if isinstance(node, dict) and isinstance(node.get("oneOf"), list):
                return True
            stack.extend(node.values() if isinstance(node, dict) else node)
    return False
