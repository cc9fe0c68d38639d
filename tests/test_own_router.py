"""gw's own router and request validator (no connexion on the request path): the operation model reads each
OpenAPI version's rules (merged parameters, Swagger 2.0's consumes defaults, apiKey query keys), a media type an
operation does not take is a 415 naming what it takes, HEAD is answered by GET, a 405 names the path's methods.

The HTTP tests run a real gateway on loopback; the model's rules are also pinned on the objects themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gw.routing.table import MethodNotAllowed, RouteTable, compile_template, route_path
from gw.spec.operations import OperationModel, OperationShapeError
from gw.spec.specification import Specification
from gw.validation.request import split_content_type
from tests.conftest import ROOT, GatewayThread, gateway_config
from tests.test_serve_start_imports import serve_start

LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 10}}

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "own router", "version": "1"},
    "components": {"securitySchemes": {"key": {"type": "apiKey", "in": "query", "name": "api_key"}}},
    "paths": {
        "/items": {
            "parameters": [LIMIT, {"name": "trace", "in": "header", "schema": {"type": "string"}}],
            "get": {"operationId": "listItems",
                    "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}}],
                    "responses": {"200": {"description": "ok", "content": {"application/json": {"example": {"op": "list"}}}}}},
            "post": {"operationId": "createItem",
                     "requestBody": {"required": True, "content": {
                         "application/json": {"schema": {"type": "object", "required": ["name"],
                                                         "properties": {"name": {"type": "string"}}}},
                         "image/*": {}}},
                     "responses": {"201": {"description": "made", "content": {"application/json": {"example": {"op": "made"}}}}}},
        },
        "/keyed": {"get": {"operationId": "keyed", "security": [{"key": []}],
                           "responses": {"200": {"description": "ok", "content": {"application/json": {"example": {}}}}}}},
    },
}

SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "own router 2.0", "version": "1"},
    "paths": {
        "/notes": {"post": {"operationId": "addNote",
                            "parameters": [{"name": "body", "in": "body", "required": True,
                                            "schema": {"type": "object", "required": ["text"],
                                                       "properties": {"text": {"type": "string"}}}}],
                            "responses": {"201": {"description": "made", "schema": {"type": "object"},
                                                  "examples": {"application/json": {"op": "note"}}}}}},
        "/forms": {"post": {"operationId": "sendForm", "consumes": ["application/x-www-form-urlencoded"],
                            "parameters": [{"name": "age", "in": "formData", "type": "integer", "required": True}],
                            "responses": {"200": {"description": "ok", "schema": {"type": "object"},
                                                  "examples": {"application/json": {"op": "form"}}}}}},
    },
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    folder = tmp_path_factory.mktemp("own-router")
    for name, spec in (("openapi", OPENAPI), ("swagger", SWAGGER)):
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    config = gateway_config({"openapi": {"spec": str(folder / "openapi.yaml"), "base_path": "/"},
                             "swagger": {"spec": str(folder / "swagger.yaml"), "base_path": "/v2"}},
                            stubs=str(Path(folder) / "no-stubs"))
    with GatewayThread(config) as served, served.client() as http:
        yield http


def test_an_operation_parameter_replaces_its_paths_parameter_of_the_same_name_and_place(client: httpx.Client) -> None:
    assert client.get("/items", params={"limit": 50}).status_code == 200  # the operation's maximum (100), not the path's
    refused = client.get("/items", params={"limit": 500})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["name"] == "limit"


def test_a_media_type_the_operation_does_not_take_is_a_415_naming_what_it_takes(client: httpx.Client) -> None:
    response = client.post("/items", content=b"name=x", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Invalid Content-type (text/plain), expected ['application/json', 'image/*']"


def test_a_media_range_the_operation_declares_takes_any_type_it_covers(client: httpx.Client) -> None:
    response = client.post("/items", content=b"\x89PNG", headers={"content-type": "image/png"})
    assert response.status_code == 201, response.text


def test_a_json_body_is_checked_against_its_schema(client: httpx.Client) -> None:
    assert client.post("/items", json={"name": "x"}).status_code == 201
    refused = client.post("/items", json={})
    assert refused.status_code == 400
    assert "name" in refused.json()["detail"]


def test_swagger2_takes_json_when_neither_the_operation_nor_the_document_says_consumes(client: httpx.Client) -> None:
    assert client.post("/v2/notes", json={"text": "hi"}).status_code == 201
    response = client.post("/v2/notes", content=b"hi", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["detail"] == "Invalid Content-type (text/plain), expected ['application/json']"
    assert client.post("/v2/notes", json={}).status_code == 400


def test_swagger2_form_fields_are_read_typed_and_required(client: httpx.Client) -> None:
    assert client.post("/v2/forms", data={"age": "7"}).status_code == 200
    assert client.post("/v2/forms", data={"age": "seven"}).status_code == 400
    assert client.post("/v2/forms", data={"other": "1"}).status_code == 400


def test_head_is_answered_by_get_and_a_405_names_the_paths_methods(client: httpx.Client) -> None:
    head = client.head("/items")
    assert head.status_code == 200 and head.content == b""
    refused = client.delete("/items")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, POST, HEAD"


def test_a_path_parameter_may_hold_an_encoded_newline() -> None:
    table = RouteTable([("", [("/rooms/{room}", {"GET": "svc:getRoom"})])])
    routed = table.find("/rooms/a\nb", "GET")
    assert routed is not None and routed.operation_id == "svc:getRoom" and routed.path_params == {"room": "a\nb"}


def test_a_parameter_name_is_keyed_as_its_route_spells_it() -> None:
    pattern, names = compile_template("/files/{file-id}.{ext}")
    assert names == ("file_id", "ext")
    assert pattern.match("/files/a.b.json") is not None and pattern.match("/files/a/b.json") is None


def _model(document: dict[str, Any], path: str, method: str) -> OperationModel:
    return OperationModel(Specification(yaml.safe_load(yaml.safe_dump(document))), path, method)


def test_the_model_merges_path_parameters_and_names_apikey_query_keys() -> None:
    listing = _model(OPENAPI, "/items", "get")
    assert [(p["name"], p["in"]) for p in listing.parameters] == [("limit", "query"), ("trace", "header")]
    assert listing.parameters[0]["schema"]["maximum"] == 100
    assert _model(OPENAPI, "/keyed", "get").security_query_params == ["api_key"]
    assert listing.security_query_params == []


def test_the_model_reads_swagger2_consumes_and_bodies() -> None:
    note = _model(SWAGGER, "/notes", "post")
    assert note.consumes == ["application/json"]  # Swagger 2.0's default where the document names none
    assert note.body_schema("application/json")["required"] == ["text"]
    form = _model(SWAGGER, "/forms", "post")
    assert form.consumes == ["application/x-www-form-urlencoded"]
    assert form.body_schema()["properties"]["age"] == {"type": "integer"}
    assert form.body_definition()["encoding"]["age"]["in"] == "formData"
    twice = {**SWAGGER, "paths": {"/x": {"post": {"parameters": [{"name": "a", "in": "body", "schema": {}},
                                                                 {"name": "b", "in": "body", "schema": {}}],
                                                  "responses": {"200": {"description": "ok"}}}}}}
    with pytest.raises(OperationShapeError, match="one 'body' parameter at most"):
        _ = _model(twice, "/x", "post").request_body


def test_the_model_finds_a_body_by_media_range_most_specific_first() -> None:
    created = _model(OPENAPI, "/items", "post")
    assert created.consumes == ["application/json", "image/*"]
    assert created.takes("image/png") and created.takes("APPLICATION/JSON") and not created.takes("text/plain")
    assert created.body_definition("image/png") == {}
    assert created.body_schema("application/json")["required"] == ["name"]


def test_a_content_type_is_read_as_connexion_read_it() -> None:
    assert split_content_type(None) == (None, None)
    assert split_content_type("application/json") == ("application/json", None)
    assert split_content_type("application/json;charset=latin-1") == ("application/json", "latin-1")
    assert split_content_type("text/plain;a=b;charset=utf-8") == ("text/plain", "utf-8")


def test_a_path_behind_an_asgi_root_path_is_routed_below_it() -> None:
    table = RouteTable([("/api", [("/items", {"GET": "svc:listItems"})])])
    for path in ("/proxy/api/items", "/api/items"):  # root_path in the path (ASGI 3) or not (older servers)
        routed = table.find(route_path({"root_path": "/proxy"}, path), "GET")
        assert routed is not None and routed.operation_id == "svc:listItems" and routed.base_path == "/api"
    assert route_path({"root_path": "/proxy"}, "/proxyless/items") == "/proxyless/items"  # only a whole segment


def test_gw_serve_imports_no_connexion_flask_or_http_client_for_a_local_spec() -> None:
    """connexion (with Flask and werkzeug) was ~0.45 s of every start; httpx is needed only for a spec URL."""
    modules = set(serve_start(str(ROOT / "specs" / "users.yaml"))["modules"])
    assert "starlette" in modules  # the probe really built the gateway
    unwanted = {"connexion", "flask", "werkzeug", "httpx"} & modules
    assert not unwanted, sorted(unwanted)


def test_the_first_segment_index_keeps_the_routers_order() -> None:
    table = RouteTable([("", [("/{kind}/fixed", {"GET": "svc:generic"}), ("/users/{id}", {"GET": "svc:user"}),
                              ("/users/me", {"POST": "svc:postMe"})])])
    assert table.find("/users/fixed", "GET").operation_id == "svc:generic"  # type: ignore[union-attr]
    assert table.find("/users/7", "GET").operation_id == "svc:user"  # type: ignore[union-attr]
    assert table.find("/teams/fixed", "GET").operation_id == "svc:generic"  # type: ignore[union-attr]
    assert table.find("/teams/7", "GET").operation_id is None  # type: ignore[union-attr]
    assert table.find("/users/me", "GET").operation_id == "svc:user"  # type: ignore[union-attr]
    with pytest.raises(MethodNotAllowed) as refused:
        table.find("/users/me", "DELETE")
    assert refused.value.allow == "GET, HEAD"  # the first route whose pattern matches: `/users/{id}`
