"""Refusals in the API's own shape: a refused request gets the operation's documented error answer
(status, media type, headers, a body its schema accepts, the failure written into it), and
problem+json only where the operation documents nothing; the failure travels in X-GW-Problem and
the journal."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree import ElementTree

import httpx
import pytest

from tests.conftest import TEST_SPECS, GatewayThread, bearer, free_port, gateway_config, mint_token

SPEC = str(TEST_SPECS / "error_shape.yaml")
SECRET = "a-test-secret-of-at-least-32-bytes!"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayThread]:
    config = gateway_config({"shapes": {"spec": SPEC, "base_path": "/",
                                        "operations": {"getLimited": {"rate_limit": {"limit": 1, "window": "60s"}}}}},
                            auth={"jwt": {"secret": SECRET}})
    with GatewayThread(config) as served:
        yield served


@pytest.fixture
def client(gateway: GatewayThread) -> Iterator[httpx.Client]:
    with gateway.client() as opened:
        yield opened


def test_a_validation_400_comes_in_the_documented_error_shape_with_the_failure(client: httpx.Client) -> None:
    response = client.post("/widgets", json={"name": "x"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "validation-error"
    assert "/name" in body["error"]["message"] and "too short" in body["error"]["message"]
    assert response.headers["x-gw-problem"].startswith("validation-error: body /name")
    assert response.headers["x-error-id"] == "err-1"  # the documented header


def test_the_documented_error_follows_accept_among_its_media_types(client: httpx.Client) -> None:
    response = client.post("/widgets", json={}, headers={"Accept": "application/xml"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/xml"
    root = ElementTree.fromstring(response.content)
    assert "name" in root.findtext("error/message")


def test_an_operation_documenting_only_422_refuses_a_bad_body_with_422(client: httpx.Client) -> None:
    response = client.post("/gadgets", json={"name": 5})
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"message", "errors"}
    assert body["errors"] == ["body /name: 5 is not of type 'string'"]


def test_a_4xx_range_answer_documents_the_refusal_and_says_its_status(client: httpx.Client) -> None:
    response = client.get("/things/abc")
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "path thing_id: 'abc' is not of type 'integer'"}


def test_a_default_answer_documents_the_refusal_and_keeps_its_status(client: httpx.Client) -> None:
    response = client.get("/defaults")
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "reason": "query n: required query parameter is missing"}


def test_a_nested_error_gets_an_http_code_and_a_status_name(client: httpx.Client) -> None:
    response = client.get("/google-style", params={"n": "x"})
    assert response.status_code == 400
    assert response.json() == {"error": {"code": 400, "message": "query n: 'x' is not of type 'integer'",
                                         "status": "BAD_REQUEST"}}


def test_the_documented_example_is_the_body_when_there_is_one(client: httpx.Client) -> None:
    response = client.get("/examples", params={"n": "many"})
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "BAD_QUERY", "message": "the query is not right"}}
    assert "query n" in response.headers["x-gw-problem"]


def test_an_example_its_own_schema_refuses_is_not_sent(client: httpx.Client) -> None:
    response = client.get("/broken-example", params={"n": "many"})
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "validation-error", "message": "query n: 'many' is not of type 'integer'"}}


def test_each_failure_becomes_an_item_of_a_documented_error_list(client: httpx.Client) -> None:
    response = client.post("/jsonapi", json={"age": "old"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert len(errors) == 2 and all(e["code"] == "validation-error" and e["title"] for e in errors)
    assert {e["detail"] for e in errors} == {"'name' is a required property", "'old' is not of type 'integer'"}
    assert {"pointer": "/age"} in [e["source"] for e in errors]


def test_a_strict_problem_schema_gets_only_its_own_members(client: httpx.Client) -> None:
    response = client.get("/strict-problem", params={"n": "x"})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {"type": "/_gw/problems/validation-error", "title": "Request does not match the contract",
                               "status": 400, "detail": "query n: 'x' is not of type 'integer'"}


def test_a_missing_token_gets_the_documented_401_and_keeps_its_challenge(client: httpx.Client) -> None:
    response = client.get("/secret")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "unauthorized"
    assert client.get("/secret", headers=bearer(mint_token(SECRET, sub="ada"))).status_code == 200


def test_a_token_without_the_scope_gets_the_documented_403_naming_it(client: httpx.Client) -> None:
    response = client.delete("/secret", headers=bearer(mint_token(SECRET, sub="ada", scope="secrets:read")))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert response.json() == {"error": {"code": "insufficient-scope",
                                         "message": "the token lacks the scope or role secrets:delete"}}


def test_an_unacceptable_accept_gets_the_documented_406(client: httpx.Client) -> None:
    response = client.get("/reports", headers={"Accept": "text/csv"})
    assert response.status_code == 406
    assert response.headers["content-type"].startswith("text/plain")
    assert "Accept was 'text/csv'" in response.text


def test_an_unsupported_media_type_gets_the_documented_415(client: httpx.Client) -> None:
    response = client.post("/widgets", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    body = response.json()
    assert set(body["error"]) == {"code", "message"} and body["error"]["message"]


def test_a_rate_limited_request_gets_the_documented_429_with_retry_after(client: httpx.Client) -> None:
    client.get("/limited")
    response = client.get("/limited")
    assert response.status_code == 429
    assert 1 <= int(response.headers["retry-after"]) <= 60  # the gateway's value, not a generated one
    assert response.headers["ratelimit-limit"] == "1"
    assert response.headers["x-quota"] == "basic"
    assert response.json()["error"]["code"] == "rate-limited"


def test_an_operation_documenting_no_error_still_gets_problem_json(client: httpx.Client) -> None:
    response = client.get("/plain", params={"n": "x"})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["name"] == "n"
    assert response.headers["x-gw-problem"] == "validation-error: query n: 'x' is not of type 'integer'"


def test_unknown_paths_and_methods_stay_problem_json(client: httpx.Client) -> None:
    assert client.get("/nowhere").headers["content-type"] == PROBLEM
    wrong = client.delete("/widgets")
    assert wrong.status_code == 405 and wrong.headers["content-type"] == PROBLEM and "POST" in wrong.headers["allow"]


def test_a_refusal_in_live_mode_is_in_the_documented_shape_and_never_reaches_the_upstream() -> None:
    config = gateway_config({"shapes": {"spec": SPEC, "base_path": "/", "mode": "live",
                                        "upstream": f"http://127.0.0.1:{free_port()}"}})
    with GatewayThread(config) as served, served.client() as client:
        response = client.get("/things/abc")
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "path thing_id: 'abc' is not of type 'integer'"}


def test_the_journal_keeps_every_failure_of_a_refusal(client: httpx.Client) -> None:
    client.post("/widgets", json={"name": 1, "extra": True}, headers={"X-Request-ID": "shape-1"})
    entry = client.get("/_gw/api/journal/shape-1").json()
    detail = entry["notes"]["problem_detail"]
    assert entry["status"] == 400 and entry["notes"]["problem"] == "validation-error"
    assert detail["status"] == 400 and [e["pointer"] for e in detail["errors"]] == ["/name"]


def test_a_preferred_404_problem_body_says_404(client: httpx.Client) -> None:
    response = client.get("/missing/a", headers={"Prefer": "code=404"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 404
