"""Bad requests get RFC 9457 problem+json naming every failure and its place, in every mode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import SPECS, TEST_SPECS, GatewayThread

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    assert response.headers["x-request-id"]
    return body


def test_every_bad_query_parameter_is_listed(sample_client: httpx.Client) -> None:
    body = assert_problem(sample_client.get("/users/users?limit=1000&offset=-1&role=king"), 400)
    failures = {(e["in"], e["name"]) for e in body["errors"]}
    assert failures == {("query", "limit"), ("query", "offset"), ("query", "role")}


def test_non_integer_path_parameter_is_400_not_404(sample_client: httpx.Client) -> None:
    body = assert_problem(sample_client.get("/users/users/abc"), 400)
    assert body["errors"] == [{"in": "path", "name": "user_id", "pointer": "", "message": "'abc' is not of type 'integer'"}]


def test_every_body_failure_is_listed_with_its_json_pointer(sample_client: httpx.Client) -> None:
    body = assert_problem(sample_client.post("/orders/orders", json={
        "customer_id": "cus_12345678",
        "items": [{"sku": "bad", "quantity": 0, "unit_price": 1}],
        "shipping_address": {"line1": "x", "city": "y", "postal_code": "12345", "country": "nl"},
    }), 400)
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/items/0/sku", "/items/0/quantity", "/shipping_address/country"} <= pointers
    assert all(e["in"] == "body" for e in body["errors"])


def test_parameter_and_body_failures_come_together(sample_client: httpx.Client) -> None:
    body = assert_problem(sample_client.post("/cameras/cameras/nope/events", json={"type": "unknown"}), 400)
    places = {e["in"] for e in body["errors"]}
    assert places == {"path", "body"}


def test_missing_required_body_is_400(sample_client: httpx.Client) -> None:
    body = assert_problem(sample_client.post("/users/register", headers={"content-type": "application/json"}), 400)
    assert body["errors"][0]["message"] == "a request body is required"


def test_malformed_json_is_400(sample_client: httpx.Client) -> None:
    body = assert_problem(sample_client.post("/users/register", content=b"{nope",
                                             headers={"content-type": "application/json"}), 400)
    assert "not valid JSON" in body["errors"][0]["message"]


def test_missing_required_query_parameter_is_named(sample_client: httpx.Client) -> None:
    body = assert_problem(sample_client.get("/cameras/alerts/count"), 400)
    assert body["errors"][0]["name"] == "store_id"
    assert "missing" in body["errors"][0]["message"]


def test_unknown_path_is_404(sample_client: httpx.Client) -> None:
    assert_problem(sample_client.get("/users/nowhere/at/all"), 404)
    assert_problem(sample_client.get("/not-a-service"), 404)


def test_wrong_method_is_405_with_allow(sample_client: httpx.Client) -> None:
    response = sample_client.delete("/users/users/1")
    assert_problem(response, 405)
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "PATCH"} <= allowed


def test_unsupported_media_type_is_415(sample_client: httpx.Client) -> None:
    assert_problem(sample_client.post("/users/register", content=b"username=x",
                                      headers={"content-type": "text/plain"}), 415)


def test_body_over_the_limit_is_413(start_gateway: Callable[..., GatewayThread]) -> None:
    gateway = start_gateway({"echo": {"spec": str(TEST_SPECS / "echo.yaml"), "max_body": 1024}})
    with gateway.client() as client:
        body = assert_problem(client.post("/echo/items", json={"name": "x" * 2000}), 413)
        assert body["limit"] == 1024
        chunked = client.post("/echo/items", content=iter([b'{"name": "', b"x" * 4000, b'"}']),
                              headers={"content-type": "application/json"})
        assert_problem(chunked, 413)
        assert client.post("/echo/items", json={"name": "small"}).status_code == 201


def test_422_when_the_spec_answers_bad_bodies_with_422(start_gateway: Callable[..., GatewayThread], tmp_path) -> None:
    spec = tmp_path / "strict.yaml"
    spec.write_text("""
openapi: 3.0.3
info: {title: strict, version: "1"}
paths:
  /things:
    post:
      requestBody:
        required: true
        content: {application/json: {schema: {type: object, required: [n], properties: {n: {type: integer}}}}}
      responses:
        "201": {description: made}
        "422": {description: unprocessable}
""")
    gateway = start_gateway({"strict": {"spec": str(spec)}})
    with gateway.client() as client:
        assert_problem(client.post("/strict/things", json={"n": "one"}), 422)
        assert client.post("/strict/things", json={"n": 1}).status_code == 201


def test_request_id_is_kept_from_the_client(sample_client: httpx.Client) -> None:
    response = sample_client.get("/users/users/abc", headers={"X-Request-ID": "trace-42"})
    assert response.headers["x-request-id"] == "trace-42"
    generated = sample_client.get("/users/users/1").headers["x-request-id"]
    assert len(generated) == 32


def test_a_spec_served_at_root_is_validated_too(start_gateway: Callable[..., GatewayThread]) -> None:
    gateway = start_gateway({"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/"}})
    with gateway.client() as client:
        assert_problem(client.get("/users/abc"), 400)
        assert_problem(client.get("/users?limit=abc"), 400)
        assert_problem(client.post("/register", json={"username": "A"}), 400)
        assert client.get("/users/1").status_code == 200


def test_an_encoded_newline_in_a_path_parameter_reaches_its_operation(sample_client: httpx.Client) -> None:
    response = sample_client.get("/cameras/cameras/cam%0A001")
    assert_problem(response, 400)
    assert response.json()["errors"][0]["name"] == "camera_id"


def test_a_json_body_is_validated_against_a_wildcard_media_types_schema(start_gateway, tmp_path: Path) -> None:
    """Kubernetes declares DeleteOptions under `*/*`: a JSON body must still match it; other media pass."""
    spec = tmp_path / "wildcard.yaml"
    spec.write_text("""
openapi: 3.0.3
info: {title: wildcard body, version: "1"}
paths:
  /pods/{name}:
    delete:
      parameters: [{name: name, in: path, required: true, schema: {type: string}}]
      requestBody:
        content:
          "*/*": {schema: {type: object, properties: {gracePeriodSeconds: {type: integer}}}}
      responses: {"200": {description: gone, content: {application/json: {schema: {type: object}}}}}
""")
    gateway = start_gateway({"k8s": {"spec": str(spec), "base_path": "/"}})
    with gateway.client() as client:
        wrong = client.request("DELETE", "/pods/p1", json={"gracePeriodSeconds": "soon"})
        right = client.request("DELETE", "/pods/p1", json={"gracePeriodSeconds": 5})
        other = client.request("DELETE", "/pods/p1", content=b"\x89PNG", headers={"content-type": "image/png"})
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["pointer"] == "/gracePeriodSeconds"
    assert (right.status_code, other.status_code) == (200, 200)
