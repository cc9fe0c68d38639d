"""How a union (oneOf/anyOf) tells its branches apart: the discriminator's tag by the spec's mapping or component
names, else a property every branch pins by const/enum.

One reading for both of the judge's paths: the rules (judge.py) and the compiled fast path (compiled_schema.py,
which translates these decisions into if/then/else) import it; neither imports the other for it.
"""

from __future__ import annotations

from typing import Any

_NAMED: dict[int, tuple[Any, str]] = {}  # id(component schema) -> (schema, its name)
_MAPPED: dict[int, tuple[Any, dict[Any, int]]] = {}  # id(union) -> (union, tag value -> branch index)


def remember_names(schemas: dict[str, Any]) -> None:
    """Know each named schema by identity (refs are resolved in place): a discriminator's tag names a branch
    by its `mapping` (`#/components/schemas/Cat`) or by component name."""
    if len(_NAMED) > 65536:  # specs reloaded many times: start over rather than grow
        _NAMED.clear()
        _MAPPED.clear()
    for name, schema in schemas.items():
        if isinstance(schema, dict):
            _NAMED[id(schema)] = (schema, name)


def discriminator_table(union: dict[str, Any], branches: list[Any]) -> dict[Any, int]:
    """Tag value -> branch index for a union with a discriminator, worked out once per union."""
    cached = _MAPPED.get(id(union))
    if cached is not None and cached[0] is union:
        return cached[1]
    by_name = {}
    for index, branch in enumerate(branches):
        named = _NAMED.get(id(branch))
        if named is not None and named[0] is branch:
            by_name[named[1]] = index
    mapping = union["discriminator"].get("mapping")
    table = {tag: by_name[ref.rsplit("/", 1)[-1]] for tag, ref in (mapping if isinstance(mapping, dict) else {}).items()
             if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in by_name}
    for name, index in by_name.items():
        table.setdefault(name, index)
    _MAPPED[id(union)] = (union, table)
    return table


def tagged_branch(schema: Any, branches: list[Any], instance: Any) -> int | None:
    """The branch the value's discriminator tag names (by the spec's mapping or component names), or
    else the one branch that pins its `type`-like property to the value by const/enum."""
    if not isinstance(instance, dict):
        return None
    discriminator = schema.get("discriminator")
    if isinstance(discriminator, dict):
        tag = instance.get(discriminator.get("propertyName"))
        mapped = discriminator_table(schema, branches) if isinstance(tag, str) else {}
        if tag in mapped:
            return mapped[tag]
    names = [discriminator["propertyName"]] if isinstance(discriminator, dict) and \
        isinstance(discriminator.get("propertyName"), str) else []
    for name in [*names, *pinned_names(branches)]:
        if name not in instance:
            continue
        matches = [i for i, branch in enumerate(branches) if pins(branch, name, instance[name])]
        if len(matches) == 1:
            return matches[0]
    return None


_PINNED: dict[int, tuple[list[Any], list[str]]] = {}


def pinned_names(branches: list[Any]) -> list[str]:
    """Properties every branch pins with const/enum: the tags a union without discriminator is told
    apart by. Worked out once per union (kept with the list, so its id stays its own)."""
    cached = _PINNED.get(id(branches))
    if cached is not None and cached[0] is branches:
        return cached[1]
    common: list[str] | None = None
    for branch in branches:
        pinned = [name for name, sub in all_properties(branch).items() if pinned_values(sub) is not None]
        common = pinned if common is None else [n for n in common if n in pinned]
    if len(_PINNED) > 8192:  # specs reloaded many times: start over rather than grow
        _PINNED.clear()
    _PINNED[id(branches)] = (branches, common or [])
    return common or []


def pins(branch: Any, name: str, value: Any) -> bool:
    allowed = pinned_values(all_properties(branch).get(name))
    return allowed is not None and any(value == v and type(value) is type(v) for v in allowed)


def pinned_values(schema: Any) -> list[Any] | None:
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return [schema["const"]]
    if isinstance(schema.get("enum"), list):
        return schema["enum"]
    for part in schema.get("allOf") or []:
        found = pinned_values(part)
        if found is not None:
            return found
    return None


def all_properties(schema: Any, depth: int = 0) -> dict[str, Any]:
    """A schema's properties, its allOf parts' included."""
    if not isinstance(schema, dict) or depth > 8:
        return {}
    found: dict[str, Any] = {}
    for part in schema.get("allOf") or []:
        found.update(all_properties(part, depth + 1))
    if isinstance(schema.get("properties"), dict):
        found.update(schema["properties"])
    return found
