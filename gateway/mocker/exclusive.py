"""A generated answer fits exactly one branch of each `oneOf`, as strict clients check.

The judge forgives a value that fits several `oneOf` branches (published specs overlap them); the
mocker holds its own answers to the strict reading, since schemathesis and SDKs that pick a branch
by trying each refuse such an answer. Where a draw fits several branches, it is told apart: an object
that fits branch A and B gets a property only B describes, with a value B refuses (null, or a value
of another type), so that it fits A alone (`User` beside `UserWithStats = allOf[User, stats]`: only a
User whose stats are not numbers is a User and not a UserWithStats). Where that cannot be done, the
array items that fit several are dropped (the rest of the answer kept) before the mocker draws again.
"""

from __future__ import annotations

import copy
from typing import Any

from ..contract.judge import accepts, compile_schema
from ..spec.load import Operation
from ..validation.serialization import branches, declared_types, merged_properties

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
        if not _told_apart(current, errors[0]) and not _drop_item(current, list(errors[0].absolute_path)):
            return None
    return None


def _told_apart(value: Any, error: Any) -> bool:
    """Make the object at the error's place fit one of the oneOf branches it fits several of, by giving
    it, for each other branch, a property only that branch describes with a value it refuses. False
    when the error is not such an overlap or no branch can be singled out so."""
    fitting, options = getattr(error, "fitting", None), error.validator_value
    node = _at(value, list(error.absolute_path))
    if not fitting or not isinstance(node, dict) or not isinstance(options, list):
        return False
    for target in fitting:
        own = merged_properties(options[target])
        if any(part.get("additionalProperties") is False for part in branches(options[target])):
            continue
        changes: dict[str, Any] = {}
        for other in (index for index in fitting if index != target):
            found = next(((key, off) for key, sub in merged_properties(options[other]).items()
                          if key not in own and key not in changes and (off := _refused(sub)) is not None), None)
            if found is None:
                break
            changes[found[0]] = found[1][0]
        else:
            if all(node.get(key, _ABSENT) != change for key, change in changes.items()):
                node.update(changes)
                return True
    return False


_ABSENT = object()
_OFF_TYPE = ((None, "null"), ("", "string"), (False, "boolean"), (0, "integer"), ([], "array"), ({}, "object"))


def _refused(schema: Any) -> tuple[Any] | None:
    """`(a value of a type the schema does not allow,)`: null first; None when it allows every type."""
    types = set(declared_types(schema))
    if not types:
        return None
    if any(part.get("nullable") is True for part in branches(schema)):
        types.add("null")
    if "number" in types:
        types.add("integer")
    return next(((value,) for value, kind in _OFF_TYPE if kind not in types), None)


def _at(value: Any, path: list[Any]) -> Any:
    """The node at `path`, or None where the path leads nowhere."""
    nodes = _nodes(value, path)
    return nodes[-1] if len(nodes) == len(path) + 1 else None


def _nodes(value: Any, path: list[Any]) -> list[Any]:
    """The nodes along `path` from `value`, as far as it leads."""
    nodes = [value]
    for part in path:
        node = nodes[-1]
        if (isinstance(node, dict) and part in node) or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            nodes.append(node[part])
        else:
            break
    return nodes


def _drop_item(value: Any, path: list[Any]) -> bool:
    """Delete the innermost array item on `path`; False when the path crosses no array."""
    nodes = _nodes(value, path)
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
