"""Specs load in every supported shape; a broken one is one line with file, place and reason."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gw.spec.load import SpecError, load_service
from tests.conftest import CORPUS, SPECS

needs_corpus = pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus is not beside the checkout")


def test_openapi_30_loads_with_an_operation_without_operation_id() -> None:
    service = load_service("users", SPECS / "users.yaml", "/users")
    assert service.version[:2] == (3, 0)
    assert "GET /me" in service.operations
    assert service.operations["getUser"].path == "/users/{user_id}"


def test_openapi_31_with_a_cross_file_ref_loads() -> None:
    service = load_service("orders", SPECS / "orders.yaml", "/orders")
    assert service.openapi31
    create = service.operations["createOrder"].definition
    address = create["requestBody"]["content"]["application/json"]["schema"]["properties"]["shipping_address"]
    assert "country" in address["properties"]
    assert "$ref" not in address


def test_circular_schema_stays_a_cycle_not_an_explosion() -> None:
    service = load_service("cameras", SPECS / "cameras.yaml", "/cameras")
    camera = service.operations["getCamera"].responses["200"]["content"]["application/json"]["schema"]
    zone = camera["properties"]["zone"]
    assert zone["properties"]["children"]["items"] is zone


def test_cross_file_cycles_and_escaped_pointers(tmp_path: Path) -> None:
    (tmp_path / "shared.yaml").write_text("""
components:
  schemas:
    Node:
      type: object
      properties:
        next: {$ref: '#/components/schemas/Node'}
        tag: {$ref: 'main.yaml#/components/schemas/a~1b'}
""")
    (tmp_path / "main.yaml").write_text("""
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /nodes:
    get:
      responses:
        "200":
          description: ok
          content: {application/json: {schema: {$ref: 'shared.yaml#/components/schemas/Node'}}}
components:
  schemas:
    a/b: {type: string}
""")
    service = load_service("main", tmp_path / "main.yaml", "/")
    node = service.operations["GET /nodes"].responses["200"]["content"]["application/json"]["schema"]
    assert node["properties"]["next"] is node
    assert node["properties"]["tag"] == {"type": "string"}


@pytest.mark.parametrize(("text", "place", "reason"), [
    ("openapi: 3.0.3\ninfo: {title: t}\npaths: {}\n", "paths", "no operations to serve"),
    ("openapi: 4.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n", "openapi", "version 4.0.0 is not supported"),
    ("info: {title: t}\n", "openapi", "not an OpenAPI document"),
    ("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n        '200':\n"
     "          description: d\n          content: {application/json: {schema: {$ref: '#/components/schemas/Nope'}}}\n",
     "paths./x.get.responses.200.content.application/json.schema", "#/components/schemas/Nope does not exist"),
    ("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n        '200':\n"
     "          description: d\n          content: {application/json: {schema: {$ref: 'missing.yaml#/A'}}}\n",
     "paths./x.get.responses.200.content.application/json.schema", "missing.yaml: no such file"),
    ("openapi: 3.0.3\ninfo: {title: t, version: '1'\n", "line 3, column 1", "not valid YAML"),
])
def test_broken_specs_are_one_line_with_file_place_and_reason(tmp_path: Path, text: str, place: str, reason: str) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_service("broken", spec, "/")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(spec))
    assert place in message
    assert reason in message


SLOPPY = """
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /x:
    get:
      parameters:
        - {name: n, in: query, schema: {type: integer, default: many}}
      responses: {"200": {description: ok}}
"""


def test_examples_that_break_their_schema_load_with_a_located_warning(tmp_path: Path) -> None:
    spec = tmp_path / "sloppy.yaml"
    spec.write_text(SLOPPY)
    service = load_service("sloppy", spec, "/")
    assert len(service.operations) == 1
    assert service.warnings == [f"{spec}: paths./x.get.parameters[0].schema.default: 'many' is not of type 'integer'"]


def test_deep_check_can_run_later_and_is_cached_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = tmp_path / "sloppy.yaml"
    spec.write_text(SLOPPY.replace("many", "lots"))
    expected = [f"{spec}: paths./x.get.parameters[0].schema.default: 'lots' is not of type 'integer'"]
    assert load_service("s", spec, "/", deep_check="cached").warnings == []
    later = load_service("s", spec, "/", deep_check="later")
    deadline = time.monotonic() + 10
    while not later.warnings and time.monotonic() < deadline:
        time.sleep(0.02)
    assert later.warnings == expected
    moved = tmp_path / "moved.yaml"
    moved.write_text(spec.read_text())
    assert load_service("s", moved, "/", deep_check="cached").warnings == [expected[0].replace(str(spec), str(moved))]


@needs_corpus
def test_swagger_20_petstore_loads_in_openapi3_shape() -> None:
    service = load_service("pets", CORPUS / "swagger2-petstore.json", "/")
    operation = service.operations["getPetById"]
    assert "application/json" in operation.responses["200"]["content"]


@needs_corpus
@pytest.mark.parametrize("name", ["kubernetes.io.json", "readme30-circular.json", "readme31-schema-types.json",
                                  "telnyx.com.json", "slack-web.swagger.json"])
def test_real_world_specs_load(name: str) -> None:
    service = load_service("corpus", CORPUS / name, "/")
    assert service.operations
