"""One walk over a loaded document finds what the load's steps each used to walk it for.

A large spec is a few hundred thousand mappings and lists; each walk over them in Python costs a tenth of a
second or more (GitHub's: ~0.3 s), and the load used to take five: the loop breaker and the broken-reference
search for every local `$ref`, the slip check and the 3.1 `nullable` reading for schemas with a `pattern`, a
`$ref` with words beside it, or `nullable`. `survey` walks once and keeps both kinds of finding with their
places; `schema_nodes` then says which of the few mappings found are schemas, as a walk over the schemas alone
would have met them (not inside examples and defaults, not a map of property names; in document order, a
mapping shared through YAML anchors met once, where it is first reached).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LocalRefs = list[tuple[str, dict[str, Any], Any]]  # ($ref, the mapping holding it, its place as a (parent, key) chain)
Found = list[tuple[Any, dict[str, Any]]]  # (place chain, mapping)
VALUES = frozenset({"example", "examples", "default", "enum", "const"})  # data, not schemas
NAMES = frozenset({"properties", "patternProperties", "$defs", "definitions", "schemas", "dependentSchemas"})


@dataclass
class Survey:
    """What one walk found. `refs`: every mapping holding a local `$ref` (`#...`), data included, in the walk's
    order (a mapping's last child first), which the loop breaker's choices rely on. `marked`: every mapping with a
    `pattern`, with `nullable`, or with a `$ref` beside other words, wherever it sits (`schema_nodes` picks the
    schemas). A step that changes the document afterwards (drops a `$ref`) is read again where it is used."""

    refs: LocalRefs = field(default_factory=list)
    marked: Found = field(default_factory=list)


def survey(document: dict[str, Any]) -> Survey:
    """Walk `document` once (every mapping and list, each place it is reached); what the load's steps need."""
    found = Survey()
    refs, marked = found.refs, found.marked
    stack: list[tuple[Any, Any]] = [(document, None)]
    while stack:
        node, chain = stack.pop()
        if type(node) is dict:
            ref = node.get("$ref")
            if type(ref) is str:
                if ref.startswith("#"):
                    refs.append((ref, node, chain))
                if len(node) > 1:
                    marked.append((chain, node))
            elif "pattern" in node or "nullable" in node:
                marked.append((chain, node))
            stack.extend((v, (chain, k)) for k, v in node.items() if type(v) is dict or type(v) is list)
        elif type(node) is list:
            stack.extend((v, (chain, i)) for i, v in enumerate(node) if type(v) is dict or type(v) is list)
    return found


def schema_nodes(document: dict[str, Any], found: Found) -> Found:
    """Those of `found` (from `survey`) that are schemas, as a walk over the schemas alone meets them: in document
    order, each once at the first place it is reached; never inside data (`example`, `default`, `enum` ...) or as
    a map of names (`properties`); nor below a mapping already met at another place (YAML anchors)."""
    positions: dict[int, dict[Any, int]] = {}
    ordered = sorted(((_keys(chain), chain, node) for chain, node in found), key=lambda kcn: _order(document, kcn[0], positions))
    met: dict[int, tuple[Any, ...]] = {id(document): ()}
    return [(chain, node) for keys, chain, node in ordered if _reached(document, keys, met)]


def _keys(chain: Any) -> tuple[Any, ...]:
    parts: list[Any] = []
    while chain:
        chain, key = chain
        parts.append(key)
    return tuple(reversed(parts))


def _order(document: dict[str, Any], keys: tuple[Any, ...], positions: dict[int, dict[Any, int]]) -> tuple[int, ...]:
    """Document order: each step's position among its parent's children."""
    node: Any = document
    order = []
    for key in keys:
        if type(node) is dict:
            known = positions.get(id(node))
            if known is None:
                known = positions[id(node)] = {k: i for i, k in enumerate(node)}
            order.append(known[key])
        else:
            order.append(key)
        node = node[key]
    return tuple(order)


def _reached(document: dict[str, Any], keys: tuple[Any, ...], met: dict[int, tuple[Any, ...]]) -> bool:
    """Whether a schema walk yields the mapping at `keys` there; records each container on the way as met at this
    place (call in document order)."""
    node: Any = document
    named = False  # a map of names to schemas (`properties`): its keys are names, its values schemas
    for depth, key in enumerate(keys, 1):
        if type(node) is dict:
            if not named and key in VALUES:
                return False
            named = key in NAMES and not named
        else:
            named = False
        node = node[key]
        if met.setdefault(id(node), keys[:depth]) != keys[:depth]:
            return False  # met before at another place: the schema walk does not go in again
    return not named


def spelled(chain: Any, last: str = "") -> str:
    """`paths./a.get.parameters[0]` from a walk's (parent, key) chain, with `last` appended: spelled out only where
    a finding needs it."""
    parts: list[str] = []
    while chain:
        chain, key = chain
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    text = "".join(reversed(parts)).lstrip(".")
    return f"{text}.{last}".lstrip(".") if last else text
