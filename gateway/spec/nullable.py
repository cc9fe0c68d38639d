"""`nullable: true` in a 3.1 document: the 3.0 keyword its author meant as "null allowed".

JSON Schema 2020-12 ignores the word, so a strict reading refuses `null` where the author (and
clients such as schemathesis) send it. The served copy says it in 3.1's words instead: `type: X`
becomes `type: [X, "null"]`, an `enum` gains null, a schema built of references or unions is wrapped
in `anyOf: [it, {type: null}]`. One located warning per place, so the author can fix the source.
Requests, the mocker and the contract checker all read the same patched copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .plain_copy import plain_copy
from .walk import Found, node_at, schema_nodes, spelled, survey

REASON = "nullable is an OpenAPI 3.0 keyword; read as allowing null in 3.1"
_BUILT = ("$ref", "allOf", "oneOf", "anyOf", "not", "const", "if")  # a `type` beside these would not admit null


def nullable_as_31(raw: dict[str, Any], spec_file: Path, marked: Found | None = None,
                   limit: int = 50) -> tuple[dict[str, Any], list[str]]:
    """The document with every 3.1 schema's `nullable: true` read as allowing null (`raw` itself when
    none is written or the document is not 3.1), and a warning per place (at most `limit`, then a count).
    `marked`: `raw`'s marked mappings (`survey`), when the loader walked it already. Data (examples,
    defaults) is never patched."""
    if not str(raw.get("openapi", "")).startswith("3.1"):
        return raw, []
    marked = survey(raw).marked if marked is None else marked
    places = schema_nodes(raw, [(chain, node) for chain, node in marked if node.get("nullable") is True])
    if not places:
        return raw, []
    served = plain_copy(raw)
    copies = [node_at(served, chain) for chain, _node in places]  # all found before any is rewritten (one may hold another)
    for node in copies:
        _admit_null(node)
    texts = [spelled(chain) for chain, _node in places[:limit]]
    warnings = [f"{spec_file}: {place}: {REASON}" if place else f"{spec_file}: {REASON}" for place in texts]
    if len(places) > limit:
        warnings.append(f"{spec_file}: {len(places) - limit} more schemas write nullable: {REASON}")
    return served, warnings


def _admit_null(node: dict[str, Any]) -> None:
    """Rewrite one schema in place so that null fits it, as 3.0's `nullable: true` meant."""
    del node["nullable"]
    if any(key in node for key in _BUILT):
        rest = dict(node)
        node.clear()
        node["anyOf"] = [rest, {"type": "null"}]
        return
    kind = node.get("type")
    if isinstance(kind, str) and kind != "null":
        node["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        node["type"] = [*kind, "null"]
    if isinstance(node.get("enum"), list) and None not in node["enum"]:
        node["enum"] = [*node["enum"], None]
