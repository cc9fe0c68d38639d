"""One walk over the document (spec/walk.survey) finds every local `$ref` and every mapping a schema step
reads: the schema-loop breaker, the search for references that lead nowhere, the slip check and the 3.1 nullable
reading. A load still breaks loops, leaves out the operations that need a missing reference and reads the schemas
as a walk over the schemas alone met them, as when each step walked the document itself."""

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


ANCHORED = """openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /a:
    get:
      parameters:
        - {name: q, in: query, schema: &S {type: string, nullable: true, pattern: '/^[a-z]+$/i'}}
        - {name: r, in: query, schema: *S}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                nullable: true
                properties: {nullable: {type: string, nullable: true}, example: *S}
                example: {nullable: true, pattern: '/x/'}
components:
  schemas:
    N: {nullable: true, allOf: [{type: object}], properties: {inner: {nullable: true, allOf: [{type: string}]}}}
"""


def test_the_schemas_among_the_marked_mappings_are_read_as_the_schema_walk_met_them(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A mapping shared through a YAML anchor is read once, where it is first reached; data (an example) is never
    read as a schema, a property named `nullable` is a name; a schema inside another one rewritten is rewritten too."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = tmp_path / "api.yaml"
    spec.write_text(ANCHORED)
    service = spec_load.load_service("api", spec, "/", deep_check="cached")
    where = [w.split(": ", 2)[1] for w in service.warnings if "nullable is an OpenAPI 3.0 keyword" in w]
    assert where == ["paths./a.get.parameters[0].schema", "paths./a.get.responses.200.content.application/json.schema",
                     "paths./a.get.responses.200.content.application/json.schema.properties.nullable",
                     "components.schemas.N", "components.schemas.N.properties.inner"]
    literals = [w for w in service.warnings if "JavaScript regex literal" in w]
    assert literals == [f"{spec}: paths./a.get.parameters[0].schema.pattern: pattern is written as a JavaScript "
                        "regex literal; read as (?i)^[a-z]+$"]
    schema = service.specification.spec["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["example"] == {"nullable": True, "pattern": "/x/"}  # data, left as written
    assert schema["type"] == ["object", "null"] and schema["properties"]["nullable"]["type"] == ["string", "null"]
    inner = service.specification.spec["components"]["schemas"]["N"]["anyOf"][0]["properties"]["inner"]
    assert inner["anyOf"][1] == {"type": "null"}
