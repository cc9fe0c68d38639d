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
    a map of names (`properties`); nor below a mapping already met at another place (YAML anchors). Each place on
    the way is worked out once, however many of `found` lie below it (a deep document costs no more than a walk)."""
    places = _Places(document)
    ordered = sorted(found, key=lambda chain_node: places.step(chain_node[0])[0])
    return [(chain, node) for chain, node in ordered if places.reached(chain)]


class _Places:
    """What `schema_nodes` knows of each place chain: its document order and container (`step`), and whether the
    schema walk goes there (`reached`, asked in document order: a container is met at the first place reaching it)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.steps: dict[int, tuple[tuple[int, ...], Any]] = {}  # id(chain) -> (document order, the container there)
        self.positions: dict[int, dict[Any, int]] = {}  # id(mapping) -> each key's position
        self.walked: dict[int, tuple[bool, bool]] = {}  # id(chain) -> (the schema walk goes there, a map of names)
        self.met: dict[int, Any] = {}  # id(container) -> the chain it was first met at

    def step(self, chain: Any) -> tuple[tuple[int, ...], Any]:
        pending = []
        while chain is not None and id(chain) not in self.steps:
            pending.append(chain)
            chain = chain[0]
        order, node = self.steps[id(chain)] if chain is not None else ((), self.document)
        for link in reversed(pending):
            key = link[1]
            if type(node) is dict:
                known = self.positions.get(id(node))
                if known is None:
                    known = self.positions[id(node)] = {k: i for i, k in enumerate(node)}
                order = (*order, known[key])
            else:
                order = (*order, key)
            node = node[key]
            self.steps[id(link)] = (order, node)
        return order, node

    def reached(self, chain: Any) -> bool:
        pending = []
        while chain is not None and id(chain) not in self.walked:
            pending.append(chain)
            chain = chain[0]
        goes, named = self.walked[id(chain)] if chain is not None else (True, False)
        parent = self.steps[id(chain)][1] if chain is not None else self.document
        for link in reversed(pending):
            key, node = link[1], self.steps[id(link)][1]
            if goes and type(parent) is dict and not named and key in VALUES:
                goes = False  # data: the schema walk does not go in
            named = goes and type(parent) is dict and key in NAMES and not named
            if goes and self.met.setdefault(id(node), link) is not link:
                goes = False  # met before at another place: the schema walk does not go in again
            self.walked[id(link)] = (goes, named)
            parent = node
        return goes and not named


def chain_keys(chain: Any) -> list[Any]:
    """The keys from the document's root down to a walk's (parent, key) chain."""
    keys: list[Any] = []
    while chain:
        chain, key = chain
        keys.append(key)
    keys.reverse()
    return keys


def node_at(document: Any, chain: Any) -> Any:
    """The node at a walk's place chain, in `document` (the walked one, or a copy of it)."""
    for key in chain_keys(chain):
        document = document[key]
    return document


def spelled(chain: Any, last: str = "") -> str:
    """`paths./a.get.parameters[0]` from a walk's (parent, key) chain, with `last` appended: spelled out only where
    a finding needs it."""
    text = "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in chain_keys(chain)).lstrip(".")
    return f"{text}.{last}".lstrip(".") if last else text
