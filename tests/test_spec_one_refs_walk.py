"""One walk over the document finds every local `$ref` (spec/walk.survey): the schema-loop breaker and the
search for references that lead nowhere both read it, and a load still breaks loops, leaves out the operations
that need a missing reference and warns of both, as when each walked the document itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from gw.spec import load as spec_load
from gw.spec.checks import broken_refs
from gw.spec.loops import break_schema_loops
from gw.spec.walk import survey

SPEC = """openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /a:
    get:
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/A'}}}
  /b:
    get:
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/Missing'}}}
components:
  schemas:
    A: {allOf: [{$ref: '#/components/schemas/B'}, {type: object}]}
    B: {allOf: [{$ref: '#/components/schemas/A'}, {required: [id]}]}
"""


def test_a_load_walks_for_references_once_and_finds_loops_and_missing_targets(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    walks: list[int] = []
    monkeypatch.setattr(spec_load, "survey", lambda document: walks.append(1) or survey(document))
    spec = tmp_path / "api.yaml"
    spec.write_text(SPEC)
    service = spec_load.load_service("api", spec, "/", deep_check="cached")
    assert len(walks) == 1
    assert any("components.schemas.B.allOf.0: `$ref: '#/components/schemas/A'` makes the schema contain itself" in w
               for w in service.warnings), service.warnings
    assert any("#/components/schemas/Missing does not exist; GET /b is left out" in w for w in service.warnings)
    assert sorted(op.label for op in service.operations.values()) == ["GET /a"]


def test_the_found_references_give_what_each_walk_gave_and_a_dropped_one_no_longer_counts() -> None:
    document = {"components": {"schemas": {
        "A": {"allOf": [{"$ref": "#/components/schemas/A"}]},  # contains itself in place: the breaker drops it
        "B": {"properties": {"x": {"$ref": "#/nowhere"}}}}}}
    refs = survey(document).refs
    assert [ref for ref, _node, _chain in refs] == ["#/nowhere", "#/components/schemas/A"]  # the walk's order
    assert len(break_schema_loops(document, "spec.yaml", refs)) == 1
    assert [(place, reason) for place, _node, reason in broken_refs(document, [], refs)] == \
        [("components.schemas.B.properties.x", "$ref target #/nowhere does not exist")]
    assert broken_refs(document, [], refs) == broken_refs(document, [])  # the same as walking again
