"""Templated stub answers (`response.template: true`): every variable kind rendered over real HTTP, numbers
kept numbers, the rendered answer held to the contract, template errors named (file and line at load, file
and place at request time), and the sandbox refusing escapes and unbounded work."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gw.stubs.format import StubError, read_stub
from tests.conftest import GatewayThread, gateway_config

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "templated", "version": "1"},
    "paths": {
        "/users/{user_id}": {
            "parameters": [{"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "get": {
                "operationId": "getUser",
                "parameters": [
                    {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "tags", "in": "query", "explode": False, "schema": {"type": "array", "items": {"type": "string"}}},
                ],
                "responses": {"200": {
                    "description": "a user",
                    "headers": {"X-Trace": {"schema": {"type": "string", "format": "uuid"}}},
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["id", "name"],
                        "properties": {
                            "id": {"type": "integer"}, "name": {"type": "string"}, "verbose": {"type": "boolean"},
                            "tags": {"type": "array", "items": {"type": "string"}}, "tenant": {"type": "string"},
                            "created": {"type": "string", "format": "date-time"},
                            "tomorrow": {"type": "string", "format": "date"},
                            "ref": {"type": "string", "format": "uuid"},
                            "lucky": {"type": "integer", "minimum": 1, "maximum": 6},
                            "person": {"type": "string", "minLength": 1}, "epoch": {"type": "integer"},
                        }}}},
                }},
            },
        },
        "/users": {"post": {
            "operationId": "createUser",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/NewUser"}},
                "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/NewUser"}},
            }},
            "responses": {"201": {"description": "created", "content": {"application/json": {"schema": {
                "type": "object", "required": ["id", "name"],
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "age": {"type": "integer"}}}}}}},
        }},
        "/greeting": {"get": {"operationId": "greet", "responses": {"200": {
            "description": "text", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/counts/{kind}": {
            "parameters": [{"name": "kind", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"operationId": "count", "responses": {"200": {"description": "a count", "content": {
                "application/json": {"schema": {"type": "object", "required": ["n"],
                                                "properties": {"n": {"type": "integer"}}}}}}}},
        },
    },
    "components": {"schemas": {"NewUser": {"type": "object", "required": ["name"],
                                            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}}},
}

STUBS = {
    "user.yaml": {
        "request": {"method": "GET", "path": {"regex": "^/users/[0-9]+$"}},
        "response": {"template": True, "status": 200,
                     "headers": {"Content-Type": "application/json", "X-Trace": "{{ uuid() }}"},
                     "body": {"id": "{{ request.path.user_id }}", "name": "user-{{ request.path.user_id }}",
                              "verbose": "{{ request.query.verbose }}", "tags": "{{ request.query.tags }}",
                              "tenant": "{{ request.headers.x_tenant }}", "created": "{{ now() }}",
                              "tomorrow": "{{ now('+1d', '%Y-%m-%d') }}", "ref": "{{ uuid() }}",
                              "lucky": "{{ random_int(1, 6) }}", "person": "{{ fake.name() }}",
                              "epoch": "{{ now('-1h', 'epoch') }}"}},
    },
    "create.yaml": {
        "request": {"method": "POST", "path": "/users"},
        "response": {"template": True, "status": 201, "headers": {"Content-Type": "application/json"},
                     "body": {"id": "{{ random_int(1000, 9999) }}", "name": "{{ request.body.name }}",
                              "age": "{{ request.body.age }}"}},
    },
    "greeting.yaml": {
        "request": {"method": "GET", "path": "/greeting"},
        "response": {"template": True, "status": 200, "headers": {"Content-Type": "text/plain"},
                     "body": "Hello {{ request.query.name | default('world') }}, {{ request.method }} {{ request.url }}!"},
    },
    "count-text.yaml": {  # `n` rendered from an undeclared query value: text where the contract says integer
        "request": {"method": "GET", "path": "/counts/text"},
        "response": {"template": True, "headers": {"Content-Type": "application/json"},
                     "body": {"n": "{{ request.query.n }}"}},
    },
    "count-number.yaml": {
        "request": {"method": "GET", "path": "/counts/number"},
        "response": {"template": True, "headers": {"Content-Type": "application/json"},
                     "body": {"n": "{{ request.query.n | int }}"}},
    },
    "count-divide.yaml": {
        "request": {"method": "GET", "path": "/counts/divide"},
        "response": {"template": True, "headers": {"Content-Type": "application/json"},
                     "body": {"n": "{{ 10 // (request.query.d | int) }}"}},
    },
    "count-escape.yaml": {  # not a private name in the source: only the sandbox can refuse it
        "request": {"method": "GET", "path": "/counts/escape"},
        "response": {"template": True, "headers": {"Content-Type": "application/json"},
                     "body": {"n": "{{ request | attr(request.query.a) }}"}},
    },
    "count-mutate.yaml": {
        "request": {"method": "GET", "path": "/counts/mutate"},
        "response": {"template": True, "headers": {"Content-Type": "application/json"},
                     "body": {"n": "{% set seen = request.query.values() | list %}{{ seen.append(1) }}"}},
    },
    "count-big.yaml": {
        "request": {"method": "GET", "path": "/counts/big"},
        "response": {"template": True, "headers": {"Content-Type": "application/json"},
                     "body": {"n": "{{ ('x' * (request.query.size | int)) | length }}"}},
    },
    "count-loops.yaml": {
        "request": {"method": "GET", "path": "/counts/loops"},
        "response": {"template": True, "headers": {"Content-Type": "text/plain"},
                     "body": "{% for i in range(200) %}{% for j in range(200) %}.{% endfor %}{% endfor %}"},
    },
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("templates")
    (root / "templated.yaml").write_text(yaml.safe_dump(SPEC))
    folder = root / "stubs" / "templated"
    folder.mkdir(parents=True)
    for name, stub in STUBS.items():
        (folder / name).write_text(yaml.safe_dump(stub, sort_keys=False))
    config = gateway_config({"templated": {"spec": str(root / "templated.yaml"), "base_path": "/"}},
                            stubs=str(root / "stubs"), templates={"max_output": "10kb", "max_iterations": 5000})
    with GatewayThread(config) as running:
        yield running


@pytest.fixture
def client(gateway: GatewayThread) -> Any:
    with gateway.client() as http:
        yield http


def test_template_renders_path_query_headers_and_helpers(client: httpx.Client) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    response = client.get("/users/7", params={"verbose": "true", "tags": "a,b"}, headers={"X-Tenant": "acme"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "x-gw-contract" not in response.headers
    body = response.json()
    assert body["id"] == 7 and body["name"] == "user-7"  # the path parameter as the spec types it, and as text
    assert body["verbose"] is True and body["tags"] == ["a", "b"]  # query values decoded as declared
    assert body["tenant"] == "acme"
    created = datetime.fromisoformat(body["created"].replace("Z", "+00:00"))
    assert before <= created <= datetime.now(UTC)
    assert body["tomorrow"] == (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert abs(body["epoch"] - (datetime.now(UTC) - timedelta(hours=1)).timestamp()) < 5
    uuid.UUID(body["ref"])
    uuid.UUID(response.headers["x-trace"])  # headers render too
    assert 1 <= body["lucky"] <= 6 and isinstance(body["lucky"], int)
    assert isinstance(body["person"], str) and body["person"]  # Faker's name provider


def test_each_request_renders_afresh(client: httpx.Client) -> None:
    first, second = client.get("/users/1").json(), client.get("/users/2").json()
    assert (first["id"], second["id"]) == (1, 2)
    assert first["ref"] != second["ref"]


def test_json_request_body_is_a_template_variable(client: httpx.Client) -> None:
    response = client.post("/users", json={"name": "Ada", "age": 36})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Ada" and body["age"] == 36 and 1000 <= body["id"] <= 9999


def test_form_request_body_is_decoded_as_its_schema_types_it(client: httpx.Client) -> None:
    response = client.post("/users", data={"name": "Grace", "age": "85"})
    assert response.status_code == 201
    assert response.json()["name"] == "Grace" and response.json()["age"] == 85


def test_text_body_renders_as_text(client: httpx.Client) -> None:
    response = client.get("/greeting", params={"name": "Ada"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Hello Ada, GET /greeting?name=Ada!"
    assert client.get("/greeting").text == "Hello world, GET /greeting!"


def test_whole_expression_keeps_the_number_type(client: httpx.Client) -> None:
    response = client.get("/counts/number", params={"n": "42"})
    assert response.status_code == 200
    assert response.json() == {"n": 42}
    assert "x-gw-contract" not in response.headers


def test_rendered_answer_breaking_the_schema_is_marked_as_a_violation(client: httpx.Client, gateway: GatewayThread) -> None:
    response = client.get("/counts/text", params={"n": "many"})
    assert response.status_code == 200
    assert response.json() == {"n": "many"}
    assert response.headers["x-gw-contract"] == "violation"
    assert "integer" in response.headers["x-gw-contract-reason"]
    metrics = client.get("/_gw/metrics").text
    assert re.search(r'gw_contract_violations_total\{operation="count",service="templated"\} [1-9]', metrics)


def test_render_error_is_a_problem_naming_the_stub_file_and_place(client: httpx.Client) -> None:
    response = client.get("/counts/divide", params={"d": "0"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert "count-divide.yaml" in problem["detail"] and "response.body.n" in problem["detail"]
    assert "ZeroDivisionError" in problem["detail"]
    assert client.get("/counts/divide", params={"d": "5"}).json() == {"n": 2}


def test_sandbox_refuses_python_internals_at_request_time(client: httpx.Client) -> None:
    response = client.get("/counts/escape", params={"a": "__class__"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "unsafe" in response.json()["detail"] and "count-escape.yaml" in response.json()["detail"]


def test_sandbox_refuses_changing_values_in_place(client: httpx.Client) -> None:
    response = client.get("/counts/mutate", params={"tags": "a,b"})
    assert response.status_code == 500
    assert "'append' of 'list' object is unsafe" in response.json()["detail"]


def test_output_beyond_max_output_is_refused(client: httpx.Client) -> None:
    assert client.get("/counts/big", params={"size": "100"}).json() == {"n": 100}
    response = client.get("/counts/big", params={"size": "50000"})  # templates.max_output is 10kb here
    assert response.status_code == 500
    assert "max_output" in response.json()["detail"]


def test_loops_beyond_max_iterations_are_refused(client: httpx.Client) -> None:
    response = client.get("/counts/loops")
    assert response.status_code == 500
    assert "max_iterations" in response.json()["detail"]


def test_plain_stubs_are_untouched_by_templating(client: httpx.Client, gateway: GatewayThread) -> None:
    listing = client.get("/_gw/api/stubs").json()
    assert listing["errors"] == []
    assert {s["id"] for s in listing["stubs"]} == {name.removesuffix(".yaml") for name in STUBS}


def write_stub(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_syntax_error_at_load_names_the_file_and_line(tmp_path: Path) -> None:
    path = write_stub(tmp_path, "broken.yaml", "\n".join([
        "request: {method: GET, path: /x}",
        "response:",
        "  template: true",
        "  body:",
        "    fine: \"{{ request.path.id }}\"",
        "    broken: \"{{ request.path.id }\"",
    ]))
    with pytest.raises(StubError) as caught:
        read_stub(path, "svc")
    message = str(caught.value)
    assert message.startswith(f"{path}: response.body.broken (line 6): template syntax:")
    assert "\n" not in message


def test_syntax_error_in_a_multi_line_text_template_names_its_own_line(tmp_path: Path) -> None:
    path = write_stub(tmp_path, "text.yaml", "\n".join([
        "request: {method: GET, path: /x}",
        "response:",
        "  template: true",
        "  headers: {Content-Type: text/plain}",
        "  body: |",
        "    line one {{ request.method }}",
        "    {% for x in [1, 2] %}{{ x }}",
        "    {% endif %}",
    ]))
    with pytest.raises(StubError) as caught:
        read_stub(path, "svc")
    assert "response.body (line 8)" in str(caught.value)


def test_private_names_are_refused_when_the_stub_loads(tmp_path: Path) -> None:
    path = write_stub(tmp_path, "escape.yaml", "\n".join([
        "request: {method: GET, path: /x}",
        "response:",
        "  template: true",
        "  body: {n: \"{{ ''.__class__ }}\"}",
    ]))
    with pytest.raises(StubError) as caught:
        read_stub(path, "svc")
    assert "'__class__' is not allowed" in str(caught.value) and "line 4" in str(caught.value)


def test_template_flag_must_be_a_boolean(tmp_path: Path) -> None:
    path = write_stub(tmp_path, "flag.yaml", "request: {method: GET}\nresponse: {template: yes please}\n")
    with pytest.raises(StubError, match=r"response\.template: expected true or false"):
        read_stub(path, "svc")


def test_a_stub_without_template_is_not_compiled(tmp_path: Path) -> None:
    path = write_stub(tmp_path, "plain.yaml", "request: {method: GET}\nresponse: {body: {n: \"{{ not rendered }}\"}}\n")
    stub = read_stub(path, "svc")
    assert stub.template is None
    assert stub.response_body == b'{"n":"{{ not rendered }}"}'


def test_bundled_templated_order_sample_renders_within_the_contract(sample_client: httpx.Client) -> None:
    order_id = "7e57ab1e-0000-4000-8000-000000000042"
    response = sample_client.get(f"/orders/orders/{order_id}", headers={"X-Tenant": "acme"})
    assert response.status_code == 200
    assert response.headers["x-gw-stub"] == "orders/getOrder-templated"
    assert "x-gw-contract" not in response.headers
    order = response.json()
    assert order["id"] == order_id
    assert isinstance(order["items"][0]["quantity"], int)
    assert order["note"].startswith("For acme, placed ")
    assert order["shipping_address"]["line1"]


def test_templated_stubs_survive_a_reload(tmp_path: Path, start_gateway: Any) -> None:
    (tmp_path / "templated.yaml").write_text(yaml.safe_dump(SPEC))
    folder = tmp_path / "stubs" / "templated"
    folder.mkdir(parents=True)
    gateway = start_gateway({"templated": {"spec": str(tmp_path / "templated.yaml"), "base_path": "/"}},
                            stubs=str(tmp_path / "stubs"), reload=False)
    (folder / "count.yaml").write_text(yaml.safe_dump(STUBS["count-number.yaml"]))
    with gateway.client() as client:
        reloaded = client.post("/_gw/api/stubs/reload", headers={"X-GW-Admin": "1"})  # read in a worker process
        assert reloaded.json() == {"stubs": 1, "errors": []}
        assert client.get("/counts/number", params={"n": "5"}).json() == {"n": 5}


def test_template_bounds_are_settings_with_env_overrides(tmp_path: Path) -> None:
    from gw.settings.config import ConfigError, load_config

    path = tmp_path / "gateway.yaml"
    path.write_text("templates: {max_output: 2kb}\n")
    config = load_config(path, env={"GW_TEMPLATES__MAX_ITERATIONS": "50"})
    assert (config.templates.max_output, config.templates.max_iterations) == (2000, 50)
    assert load_config(None, env={}).templates.max_output == 1024 * 1024
    path.write_text("templates: {max_iterations: 0}\n")
    with pytest.raises(ConfigError, match=r"templates\.max_iterations: must be at least 1"):
        load_config(path, env={})


def test_syntax_error_in_a_json_stub_names_the_line_of_the_string(tmp_path: Path) -> None:
    path = write_stub(tmp_path, "broken.json", "\n".join([
        "{",
        '  "request": {"method": "GET", "path": "/x"},',
        '  "response": {',
        '    "template": true,',
        '    "body": {"n": "{{ request.path.id }}",',
        '             "m": "{{ request.path.id | }}"}',
        "  }",
        "}",
    ]))
    with pytest.raises(StubError, match=r"broken\.json: response\.body\.m \(line 6\): template syntax:"):
        read_stub(path, "svc")
