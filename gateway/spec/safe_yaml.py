"""YAML for specs and stub files: safe, string keys, dates left as strings, and no alias bombs.

A YAML alias is a pointer, so a few lines ("billion laughs") can stand for 10^9 nodes: cheap to
parse, but everything that walks the document after (bundling, checks, JSON) would never end.
The node graph is measured before anything is built from it, in time linear in its size.

Parsing is libyaml's (PyYAML's C parser, ten to twenty times faster on a large spec) where PyYAML was built
with it; a document it refuses is parsed again by the pure-Python parser, so an error reads the same either way.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_EXPANDED = 5_000_000  # nodes after aliases are expanded; large real specs have well under 1 million


class AliasBomb(yaml.YAMLError):
    """The document's aliases expand it beyond what can be served."""


_FastSafeLoader: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader  # libyaml when PyYAML has it


def _string_keys(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    pairs = loader.construct_pairs(node, deep=True)
    return {str(k): v for k, v in pairs}


def _spec_loader(base: Any) -> Any:
    """Safe YAML with string keys (YAML reads `200:` as an int; JSON and OpenAPI want "200"), dates left as
    strings (as they arrive over JSON)."""
    loader = type(f"Spec{base.__name__}", (base,), {})
    loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _string_keys)
    loader.yaml_implicit_resolvers = {
        key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return loader


_Loader, _FastLoader = _spec_loader(yaml.SafeLoader), _spec_loader(_FastSafeLoader)


def load_yaml(text: str, limit: int = MAX_EXPANDED) -> Any:
    """The document in `text`; AliasBomb when its aliases expand it past `limit` nodes or loop."""
    return _parsed(text, _FastLoader, _Loader, limit)


def _parsed(text: str, fast: Any, exact: Any, limit: int) -> Any:
    """Parsed by the fast loader; a refusal is the pure-Python parser's, whose messages say where precisely."""
    if fast is exact:
        return _load(exact(text), limit)
    try:
        return _load(fast(text), limit)
    except AliasBomb:
        raise
    except yaml.YAMLError:
        return _load(exact(text), limit)


def _load(loader: yaml.SafeLoader, limit: int) -> Any:
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded_size(node, limit)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def expanded_size(root: yaml.Node, limit: int) -> int:
    """How many nodes the document has once every alias is copied out; each distinct node is
    measured once (shared ones are counted as often as they are used)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            if size > limit:
                raise AliasBomb(f"its aliases expand it to more than {limit:,} nodes (a YAML alias bomb?)")
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise AliasBomb("an alias refers to a node that contains it (a recursive YAML alias)")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
