"""Hardening against the real gateway: allowed hosts, security headers on its own answers, body limits per service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gw.core.port_check import free_port
from gw.edge.hardening import SECURITY_HEADERS
from gw.settings.config import ConfigError, build_config
from tests.conftest import SPECS, TEST_SPECS, GatewayThread
from tests.upstream import UpstreamServer

USERS = {"users": {"spec": str(SPECS / "users.yaml")}}
NAMES = [name.lower() for name, _ in SECURITY_HEADERS]
FRAMED_STUB = """
request: {method: GET, path: /users/7}
response:
  status: 200
  headers: {Content-Type: application/json, X-Frame-Options: SAMEORIGIN}
  body: {id: 7, username: framed, email: framed@example.com, full_name: null, role: viewer, active: true,
         created_at: "2024-01-01T00:00:00Z"}
"""


def has_security_headers(response: httpx.Response) -> bool:
    return all(name in response.headers for name in NAMES)


@pytest.fixture
def stubs_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "getUser-framed.yaml").write_text(FRAMED_STUB)
    yield tmp_path


def test_a_host_not_allowed_is_refused_with_400(start_gateway: Callable[..., GatewayThread]) -> None:
    gateway = start_gateway(USERS, allowed_hosts=["api.test", "*.example.com", "127.0.0.1"])
    with gateway.client() as client:
        statuses = {host: client.get("/users/users/1", headers={"Host": host}).status_code
                    for host in ("api.test", "API.test:8000", "app.example.com", f"127.0.0.1:{gateway.port}",
                                 "evil.test", "example.com", "api.test.evil.test")}
        refused = client.get("/users/users/1", headers={"Host": "evil.test:80"})
    assert statuses == {"api.test": 200, "API.test:8000": 200, "app.example.com": 200,
                        f"127.0.0.1:{gateway.port}": 200, "evil.test": 400, "example.com": 400,
                        "api.test.evil.test": 400}
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == "host evil.test:80 is not served here (allowed_hosts)"
    assert has_security_headers(refused)


def test_a_refused_host_gets_no_preflight_either(start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(USERS, allowed_hosts=["api.test"]).client() as client:
        response = client.options("/users/users/1", headers={"Host": "evil.test", "Origin": "http://localhost:3000",
                                                             "Access-Control-Request-Method": "GET"})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_an_allowed_host_with_a_scheme_is_refused_at_config_time() -> None:
    with pytest.raises(ConfigError, match=r"^gateway.yaml: allowed_hosts\[1\]: 'https://api.test' is not a host name"):
        build_config({"allowed_hosts": ["api.test", "https://api.test"]}, "gateway.yaml")


def test_security_headers_are_on_every_gateway_made_answer(start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(USERS).client() as client:
        answers = [
            client.get("/users/users/1"),  # a spec example
            client.get("/users/users?limit=3"),  # generated
            client.get("/users/nothing"),  # 404 problem
            client.get("/users/users?limit=1000"),  # 400 problem
            client.get("/_gw/health"),
            client.options("/users/users/1", headers={"Origin": "http://localhost:3000",
                                                      "Access-Control-Request-Method": "GET"}),
        ]
    assert [a.status_code for a in answers] == [200, 200, 404, 400, 200, 204]
    assert all(has_security_headers(a) for a in answers)
    assert answers[0].headers["x-content-type-options"] == "nosniff"
    assert answers[0].headers["x-frame-options"] == "DENY"
    assert answers[0].headers["referrer-policy"] == "no-referrer"


def test_a_stub_file_keeps_its_own_header_and_gets_the_rest(start_gateway: Callable[..., GatewayThread],
                                                            stubs_dir: Path) -> None:
    with start_gateway(USERS, stubs=str(stubs_dir)).client() as client:
        response = client.get("/users/users/7")
    assert response.headers["x-gw-source"] == "recorded"
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_live_upstream_answers_keep_their_own_headers(start_gateway: Callable[..., GatewayThread],
                                                      upstream: UpstreamServer) -> None:
    echo = {"spec": str(TEST_SPECS / "echo.yaml"), "mode": "live", "retries": 0}
    services = {"echo": {**echo, "upstream": [upstream.url]},
                "dead": {**echo, "base_path": "/dead", "upstream": [f"http://127.0.0.1:{free_port()}"]}}
    with start_gateway(services).client() as client:
        live = client.get("/echo/items/1")
        unreachable = client.get("/dead/items/1")
    assert live.headers["x-gw-source"] == "live"
    assert not [name for name in NAMES if name in live.headers]
    assert unreachable.status_code == 502
    assert has_security_headers(unreachable)  # the gateway made that one


def test_security_headers_can_be_turned_off(start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(USERS, security_headers=False).client() as client:
        response = client.get("/users/users/1")
    assert not [name for name in NAMES if name in response.headers]


def test_body_limit_holds_per_service(start_gateway: Callable[..., GatewayThread]) -> None:
    services = {"users": {**USERS["users"], "max_body": 100}, "orders": {"spec": str(SPECS / "orders.yaml")}}
    body = b'{"username": "alice_1", "email": "alice@example.com", "password": "' + b"p" * 100 + b'"}'
    with start_gateway(services).client() as client:
        declared = client.post("/users/register", content=body, headers={"Content-Type": "application/json"})
        chunked = client.post("/users/register", content=iter([body[:60], body[60:]]),
                              headers={"Content-Type": "application/json"})
        other_service = client.post("/orders/orders", content=body, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["detail"] == "request body is larger than the limit of 100 bytes"
    assert chunked.status_code == 413
    assert other_service.status_code == 400  # read and validated: only users has the small limit
