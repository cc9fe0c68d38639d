"""Stub mode on the sample specs: examples, Prefer, media types, generated bodies that honour the schema."""

from __future__ import annotations

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator, OAS31Validator, oas30_format_checker, oas31_format_checker

from gw.spec.load import load_service
from tests.conftest import SPECS


def response_schema(spec: str, operation_key: str, status: str, media: str = "application/json") -> tuple[dict, bool]:
    service = load_service(spec, SPECS / f"{spec}.yaml", f"/{spec}")
    operation = service.operations[operation_key]
    return operation.responses[status]["content"][media]["schema"], service.openapi31


def assert_conforms(body: object, schema: dict, openapi31: bool) -> None:
    validator = (OAS31Validator(schema, format_checker=oas31_format_checker) if openapi31
                 else OAS30Validator(schema, format_checker=oas30_format_checker))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert errors == []


def test_example_is_served_for_the_lowest_2xx(sample_client: httpx.Client) -> None:
    response = sample_client.get("/users/users/1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-gw-source"] == "example"
    expected = yaml.safe_load((SPECS / "users.yaml").read_text())
    examples = expected["paths"]["/users/{user_id}"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    first = next(iter(examples.values()))["value"]
    assert response.json()["username"] == first["username"]


def test_prefer_example_picks_the_named_example(sample_client: httpx.Client) -> None:
    alice = sample_client.get("/users/users/1", headers={"Prefer": "example=alice"}).json()
    bob = sample_client.get("/users/users/1", headers={"Prefer": "example=bob"}).json()
    assert alice["username"] == "alice"
    assert bob["username"] == "bob"


def test_prefer_code_answers_the_declared_error_response(sample_client: httpx.Client) -> None:
    response = sample_client.get("/users/users/1", headers={"Prefer": "code=404"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    schema, v31 = response_schema("users", "getUser", "404", "application/problem+json")
    assert_conforms(response.json(), schema, v31)


def test_prefer_for_an_undeclared_code_is_a_problem_naming_what_is_declared(sample_client: httpx.Client) -> None:
    response = sample_client.get("/users/users/1", headers={"Prefer": "code=418"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "200" in response.json()["detail"] and "404" in response.json()["detail"]


def test_prefer_for_an_unknown_example_names_the_known_ones(sample_client: httpx.Client) -> None:
    response = sample_client.get("/users/users/1", headers={"Prefer": "example=carol"})
    assert response.status_code == 422
    assert "alice" in response.json()["detail"] and "bob" in response.json()["detail"]


def test_no_content_response_has_no_body(sample_client: httpx.Client) -> None:
    response = sample_client.delete("/orders/orders/9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d")
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers


@pytest.mark.parametrize(("path", "spec", "key"), [
    ("/users/users?limit=5", "users", "listUsers"),
    ("/cameras/cameras/cam-001", "cameras", "getCamera"),
    ("/cameras/cameras/cam-001/events", "cameras", "listCameraEvents"),
    ("/orders/orders/9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "orders", "getOrder"),
])
def test_generated_body_honours_the_response_schema(sample_client: httpx.Client, path: str, spec: str, key: str) -> None:
    response = sample_client.get(path)
    assert response.status_code == 200
    assert response.headers["x-gw-source"] == "generated"
    schema, v31 = response_schema(spec, key, "200")
    assert_conforms(response.json(), schema, v31)


def test_generated_body_is_the_same_for_the_same_request(sample_client: httpx.Client) -> None:
    first = sample_client.get("/cameras/cameras/cam-001/events").content
    second = sample_client.get("/cameras/cameras/cam-001/events").content
    assert first == second


def test_path_values_echo_into_the_body_where_names_match(sample_client: httpx.Client) -> None:
    body = sample_client.get("/users/users?limit=7&offset=14").json()
    assert body["limit"] == 7
    assert body["offset"] == 14


def test_created_response_carries_declared_headers(sample_client: httpx.Client) -> None:
    response = sample_client.post("/users/register", json={
        "username": "carol_9", "email": "carol@example.com", "password": "correct horse"})
    assert response.status_code == 201
    assert response.headers.get("location")


def test_unacceptable_accept_is_406_listing_what_is_available(sample_client: httpx.Client) -> None:
    response = sample_client.get("/users/users/1", headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["available"] == ["application/json"]


def test_accept_wildcards_still_get_json(sample_client: httpx.Client) -> None:
    response = sample_client.get("/users/users/1", headers={"Accept": "text/html, application/*;q=0.5"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


def test_the_bundled_sample_stub_answers_ahead_of_the_examples(sample_client: httpx.Client) -> None:
    response = sample_client.get("/users/users/42")
    assert response.headers["x-gw-source"] == "recorded"
    assert response.headers["x-gw-stub"] == "users/getUser-42"
    schema, v31 = response_schema("users", "getUser", "200")
    assert_conforms(response.json(), schema, v31)
