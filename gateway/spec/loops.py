"""Schemas that contain themselves in place: `A: {allOf: [{$ref: A}, ...]}`, or A -> B -> A through
allOf / anyOf / oneOf / not.

Recursion through `properties` or `items` is a tree type and fine: each level consumes one level of the
value. Recursion in place consumes nothing, so a validator, the generator or allOf merging would loop
until the stack runs out, on every request. Such a loop adds no constraint (`A = A and X` is just X;
`A = A or X` is just X), so the reference that closes it is dropped, with a warning naming its place,
before the document is resolved: the spec loads and its operations answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .refs import RefError, pointer_target
from .walk import LocalRefs, survey

_TRUE_IN = ("allOf", "if", "then", "else")  # a dropped branch here is `{}`: it allows anything
_FALSE_IN = ("anyOf", "oneOf", "not")  # here `{not: {}}`: a branch nothing takes (under `not`: no constraint)

Edge = tuple[dict[str, Any], str, str, str]  # the {$ref} object, its keyword, its place, the target pointer


def break_schema_loops(document: dict[str, Any], spec_file: Path | str, refs: LocalRefs | None = None) -> list[str]:
    """Drop each `$ref` that closes an in-place loop (in `document`, not yet resolved); a warning for each.
    `refs`: the document's local references (`survey`), when the loader found them already."""
    edges: dict[str, list[Edge]] = {}
    for pointer in _local_targets(survey(document).refs if refs is None else refs):
        try:
            edges[pointer] = _in_place_refs(pointer_target(document, pointer), pointer)
        except RefError:
            continue  # reported where references are resolved
    warnings: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in edges:
        if start in state:
            continue
        state[start] = 1
        path = [(start, iter(edges[start]))]
        while path:
            pointer, pending = path[-1]
            edge = next(pending, None)
            if edge is None:
                state[pointer] = 2
                path.pop()
                continue
            node, keyword, place, target = edge
            if target not in edges:
                continue
            if state.get(target) == 1:
                warnings.append(_drop(node, keyword, place, target, spec_file))
            elif target not in state:
                state[target] = 1
                path.append((target, iter(edges[target])))
    return warnings


def _local_targets(refs: LocalRefs) -> list[str]:
    """Every local pointer a `$ref` names, each once, in the walk's order."""
    return list(dict.fromkeys(ref[1:] for ref, _node, _chain in refs if ref.startswith("#/")))


def _in_place_refs(schema: Any, pointer: str) -> list[Edge]:
    """The references reached from `schema` without stepping into the value (allOf, anyOf, oneOf, not, if)."""
    found: list[Edge] = []
    stack: list[tuple[Any, str, str]] = [(schema, "allOf", pointer)]
    while stack:
        node, keyword, place = stack.pop()
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            found.append((node, keyword, place, ref[1:]))
            continue
        for key in (*_TRUE_IN, *_FALSE_IN):
            branches = node.get(key)
            if isinstance(branches, list):
                stack.extend((branch, key, f"{place}/{key}/{i}") for i, branch in enumerate(branches))
            elif isinstance(branches, dict):
                stack.append((branches, key, f"{place}/{key}"))
    found.reverse()
    return found


def _drop(node: dict[str, Any], keyword: str, place: str, target: str, spec_file: Path | str) -> str:
    del node["$ref"]
    if keyword in _FALSE_IN:
        node["not"] = {}
    dotted = ".".join(part for part in place.split("/") if part)
    return (f"{spec_file}: {dotted}: `$ref: '#{target}'` makes the schema contain itself in place (through {keyword}), "
            f"which no value can be checked against; the reference is ignored")
