"""Routing through the route table (gateway/routing/table.py): a spec of hundreds of operations reaches each
one by its own path, a literal path that lacks a method leaves it to the template that takes it, the longest
mount wins, and a request's own headers are read as they were sent (the first of a repeated one)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import GatewayThread, gateway_config

RESOURCES = [f"r{index}" for index in range(40)]


def _answer(op: str, status: str = "200") -> dict[str, Any]:
    return {"operationId": op, "responses": {status: {"description": op,
                                                      "content": {"application/json": {"example": {"op": op}}}}}}


def _param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _large_spec() -> dict[str, Any]:
    """Six operations per resource, at one to four segments: 240 operations."""
    paths: dict[str, Any] = {}
    for name in RESOURCES:
        paths[f"/{name}"] = {"get": _answer(f"list-{name}"), "post": _answer(f"create-{name}", "201")}
        paths[f"/{name}/{{id}}"] = {"get": {**_answer(f"get-{name}"), "parameters": [_param("id")]}}
        paths[f"/{name}/{{id}}/items"] = {"get": {**_answer(f"items-{name}"), "parameters": [_param("id")]}}
        paths[f"/{name}/{{id}}/items/{{item}}"] = {
            "get": {**_answer(f"item-{name}"), "parameters": [_param("id"), _param("item")]}}
        paths[f"/{name}/search"] = {"get": _answer(f"search-{name}")}
    paths["/users/me"] = {"get": _answer("getMe")}
    paths["/users/{id}"] = {"delete": {**_answer("deleteUser"), "parameters": [_param("id")]},
                            "patch": {**_answer("patchUser"), "parameters": [_param("id")]}}
    paths["/{anything}/{else}/{entirely}/{here}/{five}"] = {
        "get": {**_answer("fiveDeep"), "parameters": [_param(n) for n in ("anything", "else", "entirely", "here", "five")]}}
    return {"openapi": "3.0.3", "info": {"title": "large", "version": "1"}, "paths": paths}


def _small_spec(op: str) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": op, "version": "1"}, "paths": {"/things": {"get": _answer(op)}}}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    folder = tmp_path_factory.mktemp("route-table")
    specs = {"large": _large_spec(), "outer": _small_spec("outerThings"), "inner": _small_spec("innerThings")}
    for name, spec in specs.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    config = gateway_config({
        "large": {"spec": str(folder / "large.yaml"), "base_path": "/"},
        "outer": {"spec": str(folder / "outer.yaml"), "base_path": "/api"},
        "inner": {"spec": str(folder / "inner.yaml"), "base_path": "/api/v2"},
    }, stubs=str(Path(folder) / "no-stubs"))
    with GatewayThread(config) as served:
        yield served


@pytest.fixture(scope="module")
def client(gateway: GatewayThread) -> Iterator[httpx.Client]:
    with gateway.client() as http:
        yield http


def _op(response: httpx.Response) -> str:
    assert response.status_code in (200, 201), response.text
    return response.json()["op"]


@pytest.mark.parametrize("name", ["r0", "r17", "r39"])
def test_every_depth_of_a_large_spec_reaches_its_own_operation(client: httpx.Client, name: str) -> None:
    assert _op(client.get(f"/{name}")) == f"list-{name}"
    assert _op(client.post(f"/{name}", json={})) == f"create-{name}"
    assert _op(client.get(f"/{name}/42")) == f"get-{name}"
    assert _op(client.get(f"/{name}/search")) == f"search-{name}"  # the literal beats `/{name}/{id}`
    assert _op(client.get(f"/{name}/42/items")) == f"items-{name}"
    assert _op(client.get(f"/{name}/42/items/7")) == f"item-{name}"
    assert _op(client.get(f"/{name}/42/items/7/")) == f"item-{name}"  # a stray trailing slash


def test_a_path_of_a_depth_no_template_has_is_a_404_problem(client: httpx.Client) -> None:
    for path in ("/r3/42/items/7/extra/more", "/r3/42/items/7/extra/more/still"):  # five would be fiveDeep
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == f"No operation of any service matches {path}"


def test_a_template_of_parameters_only_still_matches_at_its_depth(client: httpx.Client) -> None:
    assert _op(client.get("/a/b/c/d/e")) == "fiveDeep"


def test_a_method_the_literal_path_lacks_goes_to_the_template_that_takes_it(client: httpx.Client) -> None:
    assert _op(client.get("/users/me")) == "getMe"
    assert _op(client.delete("/users/me")) == "deleteUser"  # `/users/me` has no DELETE; `/users/{id}` has
    assert _op(client.patch("/users/me", json={})) == "patchUser"


def test_a_method_no_matching_path_takes_is_405_naming_the_first_paths_methods(client: httpx.Client) -> None:
    response = client.put("/users/me")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}  # `/users/me`'s own
    assert response.json()["detail"] == "PUT is not allowed on /users/me; allowed: " + response.headers["allow"]
    other = client.put("/users/7")
    assert other.status_code == 405
    assert set(other.headers["allow"].replace(" ", "").split(",")) == {"DELETE", "PATCH"}


def test_the_longest_mount_holding_the_path_wins(client: httpx.Client) -> None:
    assert _op(client.get("/api/things")) == "outerThings"
    assert _op(client.get("/api/v2/things")) == "innerThings"
    assert client.get("/api/v2/nothing").status_code == 404  # inside the inner mount: never the outer's or root's


def test_head_is_answered_by_the_get_operation_without_a_body(client: httpx.Client) -> None:
    response = client.head("/r5/1/items")
    assert response.status_code == 200
    assert response.headers["x-gw-source"] == "example"
    assert response.content == b""


def test_of_a_header_sent_twice_the_first_is_read(client: httpx.Client) -> None:
    response = client.get("/r1", headers=[("X-Request-ID", "first-id"), ("X-Request-ID", "second-id")])
    assert response.headers["x-request-id"] == "first-id"


def test_a_request_without_an_id_gets_a_random_uuid4(client: httpx.Client) -> None:
    ids = {client.get("/r1").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3
    for value in ids:
        assert len(value) == 32 and uuid.UUID(hex=value).version == 4 and uuid.UUID(hex=value).hex == value
