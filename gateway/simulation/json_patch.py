"""RFC 6902 JSON Patch (`application/json-patch+json`): add, remove, replace, move, copy, test.

The operations apply in order to a copy; a patch that cannot apply (a missing path, a failed `test`)
changes nothing and is the client's mistake: 422, as RFC 5789 suggests.
"""

from __future__ import annotations

import copy
from typing import Any

from ..core.problems import Problem

OPERATIONS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def apply_patch(document: Any, patch: Any) -> Any:
    """The document after every operation of `patch`; Problem 422 naming the failing one otherwise."""
    if not isinstance(patch, list):
        raise _refused(-1, "a JSON Patch is an array of operations")
    result = copy.deepcopy(document)
    for index, operation in enumerate(patch):
        if not isinstance(operation, dict) or operation.get("op") not in OPERATIONS or not isinstance(operation.get("path"), str):
            raise _refused(index, "each operation needs `op` (add, remove, replace, move, copy, test) and `path`")
        try:
            result = _apply(result, operation)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise _refused(index, str(exc) or type(exc).__name__) from None
    return result


def _apply(document: Any, operation: dict[str, Any]) -> Any:
    op, path = operation["op"], _tokens(operation["path"])
    if op == "test":
        if _get(document, path) != operation.get("value"):
            raise ValueError(f"test failed at {operation['path']}")
        return document
    if op in ("move", "copy"):
        source = _tokens(str(operation.get("from", "")))
        value = copy.deepcopy(_get(document, source))
        if op == "move":
            if path[:len(source)] == source and path != source:
                raise ValueError("cannot move a value into itself")
            document = _remove(document, source)
        return _add(document, path, value)
    if "value" not in operation and op in ("add", "replace"):
        raise ValueError(f"`{op}` needs a value")
    if op == "remove":
        return _remove(document, path)
    if op == "replace":
        _get(document, path)  # must exist
        document = _remove(document, path)
    return _add(document, path, copy.deepcopy(operation["value"]))


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"{pointer!r} is not a JSON pointer")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _get(document: Any, tokens: list[str]) -> Any:
    for token in tokens:
        document = document[_index(document, token)] if isinstance(document, list) else document[token]
    return document


def _index(array: list[Any], token: str, end_allowed: bool = False) -> int:
    if end_allowed and token == "-":
        return len(array)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise ValueError(f"{token!r} is not an array index")
    index = int(token)
    if index > len(array) or (index == len(array) and not end_allowed):
        raise IndexError(f"index {index} is out of range")
    return index


def _add(document: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _get(document, tokens[:-1])
    if isinstance(parent, list):
        parent.insert(_index(parent, tokens[-1], end_allowed=True), value)
    elif isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        raise ValueError(f"cannot add below a {type(parent).__name__}")
    return document


def _remove(document: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise ValueError("cannot remove the whole document")
    parent = _get(document, tokens[:-1])
    if isinstance(parent, list):
        del parent[_index(parent, tokens[-1])]
    else:
        del parent[tokens[-1]]
    return document


def _refused(index: int, reason: str) -> Problem:
    where = f"operation {index}: " if index >= 0 else ""
    return Problem(422, detail=f"the JSON Patch cannot be applied: {where}{reason}"[:300], slug="patch-not-applicable")
