"""JSON bombs against a real `gw serve`: bodies nested 1,000 to 100,000 deep, integers of thousands of
digits, upstream answers nested past the limit (live and record), and a spec whose schema contains itself
through allOf. Each is a quick 400 (a client's body) or 502 (an upstream's), never a 500, and the process
answers a normal request afterwards."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from tests.conftest import GatewayProcess, send_json, threaded_server

PROBLEM = "application/problem+json"
QUICK = 3.0  # seconds a bomb may take to be refused (on a shared, slow CI machine)

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "bombs", "version": "1"},
    "paths": {
        "/items": {
            "get": {"responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"type": "array", "items": {"type": "integer"}}}}}}},
            "post": {
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"description": "any JSON"}}}},
                "responses": {"201": {"description": "ok", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}}}},
            },
        },
        "/tree": {"post": {
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}},
            "responses": {"201": {"description": "ok", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}}}},
        }},
        "/deep": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {
            "schema": {"description": "any JSON"}}}}}}},
    },
    "components": {"schemas": {"Node": {"type": "object", "properties": {
        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}},
}

LOOPING = {
    "openapi": "3.0.3",
    "info": {"title": "loops", "version": "1"},
    "paths": {"/things": {
        "get": {"responses": {"200": {"description": "ok", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/A"}}}}}},
        "post": {
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}},
            "responses": {"201": {"description": "ok", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/B"}}}}},
        },
    }},
    "components": {"schemas": {
        "A": {"allOf": [{"$ref": "#/components/schemas/A"},
                        {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}]},
        "B": {"allOf": [{"$ref": "#/components/schemas/C"}]},
        "C": {"allOf": [{"$ref": "#/components/schemas/B"},
                        {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}]},
    }},
}


def nested(depth: int, kind: str = "array") -> str:
    return ("[" * depth + "]" * depth) if kind == "array" else ('{"a":' * depth + "1" + "}" * depth)


class _Upstream(BaseHTTPRequestHandler):
    """GET /deep?n=N answers JSON nested N deep; anything else a small list."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        depth = int(parse_qs(url.query).get("n", ["0"])[0])
        body = (nested(depth) if url.path.endswith("/deep") else "[1, 2, 3]").encode()
        send_json(self, body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with threaded_server(_Upstream) as url:
        yield url


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, upstream: str) -> Path:
    root = tmp_path_factory.mktemp("bombs")
    (root / "bombs.yaml").write_text(yaml.safe_dump(SPEC))
    (root / "loops.yaml").write_text(yaml.safe_dump(LOOPING))
    (root / "gateway.yaml").write_text(yaml.safe_dump({"reload": False, "services": {
        "svc": {"spec": "bombs.yaml", "base_path": "/stub"},
        "loop": {"spec": "loops.yaml", "base_path": "/loop"},
        "live": {"spec": "bombs.yaml", "base_path": "/live", "mode": "live", "upstream": upstream, "retries": 0},
        "rec": {"spec": "bombs.yaml", "base_path": "/rec", "mode": "record", "upstream": upstream, "retries": 0},
    }}))
    return root


@pytest.fixture(scope="module")
def served(project: Path) -> Iterator[GatewayProcess]:
    process = GatewayProcess([], project)
    try:
        yield process.wait_ready()
    finally:
        process.stop()


@pytest.fixture(scope="module")
def client(served: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=30) as http:
        yield http


def still_answers(client: httpx.Client) -> None:
    answer = client.get("/stub/items")
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json(), list)


def refused_quickly(client: httpx.Client, path: str, body: str) -> httpx.Response:
    started = time.monotonic()
    answer = client.post(path, content=body.encode(), headers={"Content-Type": "application/json"})
    assert time.monotonic() - started < QUICK
    assert answer.status_code == 400, answer.text[:300]
    assert answer.headers["content-type"].startswith(PROBLEM)
    return answer


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("depth", [1_000, 10_000, 100_000])
def test_a_request_body_nested_deep_is_a_quick_400_problem(client: httpx.Client, depth: int, kind: str) -> None:
    answer = refused_quickly(client, "/stub/items", nested(depth, kind))
    assert "nested deeper than 256" in answer.text
    still_answers(client)


def test_a_deep_body_to_a_recursive_schema_is_a_400_not_a_500(client: httpx.Client) -> None:
    refused_quickly(client, "/stub/tree", '{"children":[' * 5_000 + "{}" + "]}" * 5_000)
    still_answers(client)


def test_an_integer_of_5000_digits_is_a_quick_400_problem(client: httpx.Client) -> None:
    answer = refused_quickly(client, "/stub/items", '{"n": ' + "7" * 5_000 + "}")
    assert "integer of more than 1000 digits" in answer.text
    refused_quickly(client, "/stub/items", "[-" + "5" * 1_001 + "]")
    still_answers(client)


def test_bodies_within_the_limits_are_served(client: httpx.Client) -> None:
    assert client.post("/stub/items", json=json.loads(nested(200))).status_code == 201
    tree: dict[str, Any] = {}
    for _ in range(60):
        tree = {"children": [tree]}
    assert client.post("/stub/tree", json=tree).status_code == 201
    assert client.post("/stub/items", json={"n": int("9" * 900), "s": "[" * 5_000 + "7" * 5_000}).status_code == 201


def test_an_upstream_answer_nested_2000_deep_is_a_502_problem_in_live_mode(client: httpx.Client) -> None:
    started = time.monotonic()
    answer = client.get("/live/deep", params={"n": 2_000})
    assert time.monotonic() - started < QUICK
    assert answer.status_code == 502, answer.text[:300]
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert "nested deeper than 256" in answer.json()["detail"]
    assert client.get("/live/deep", params={"n": 100}).status_code == 200  # within the limit: passed on
    still_answers(client)


def test_an_upstream_answer_nested_500_deep_in_record_mode_is_a_502_and_not_recorded(
        client: httpx.Client, project: Path) -> None:
    answer = client.get("/rec/deep", params={"n": 500})
    assert answer.status_code == 502, answer.text[:300]
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert not list((project / "stubs").rglob("*deep*")), "an answer that could not be checked was recorded"
    still_answers(client)


def test_an_upstream_answer_within_the_limit_but_too_deep_for_yaml_is_recorded_beside_the_stub(
        client: httpx.Client, project: Path) -> None:
    answer = client.get("/rec/deep", params={"n": 200})
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json() == json.loads(nested(200))
    recorded = [stub for stub in (project / "stubs" / "rec").glob("*.yaml") if "deep" in stub.name.lower()]
    assert recorded
    for stub in recorded:
        document = yaml.safe_load(stub.read_text())
        side = document["response"].get("body_file")
        assert side, stub.read_text()[:300]
        assert json.loads((stub.parent / side).read_text()) == json.loads(nested(200))


def test_a_spec_whose_schemas_contain_themselves_through_allof_serves_its_operations(client: httpx.Client) -> None:
    answer = client.get("/loop/things")
    assert answer.status_code == 200, answer.text[:300]
    assert isinstance(answer.json().get("name"), str)
    created = client.post("/loop/things", json={"id": 7})
    assert created.status_code == 201, created.text[:300]
    assert isinstance(created.json().get("id"), int)
    wrong = client.post("/loop/things", json={"id": "seven"})
    assert wrong.status_code == 400 and wrong.headers["content-type"].startswith(PROBLEM)


def test_a_deep_request_body_in_record_mode_leaves_a_readable_stub_without_its_secret(
        client: httpx.Client, project: Path) -> None:
    deep: Any = {"password": "hunter2-deep-secret"}
    for _ in range(120):
        deep = {"child": [deep]}
    answer = client.post("/rec/items", json={"name": "shallow", "tree": deep})
    assert answer.status_code != 500, answer.text[:300]
    stubs = list((project / "stubs" / "rec").glob("*items*.yaml"))
    assert stubs
    for stub in stubs:
        text = stub.read_text()
        assert "hunter2-deep-secret" not in text
        matcher = yaml.safe_load(text)["request"].get("body", {})
        assert matcher.get("$.name") == "shallow" and "$.tree" not in matcher  # too deep for YAML: not a constraint
    still_answers(client)
