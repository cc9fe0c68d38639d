"""CORS against the real gateway: preflights answered by the gateway itself, errors readable by allowed origins."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gw.edge.cors import OriginMatcher
from gw.settings.config import ConfigError, build_config, load_config
from tests.conftest import SPECS, TEST_SPECS, GatewayThread
from tests.upstream import UpstreamServer

USERS = {"users": {"spec": str(SPECS / "users.yaml")}}
APP = "http://localhost:5173"
EVIL = "https://evil.example"


def preflight(client: httpx.Client, path: str, origin: str, method: str = "PATCH",
              headers: str = "content-type, authorization") -> httpx.Response:
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                         "Access-Control-Request-Headers": headers})


def test_preflight_from_a_local_origin_is_answered_by_default(start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(USERS).client() as client:
        response = preflight(client, "/users/users/1", APP)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP
    assert "Origin" in response.headers["vary"]
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "content-type, authorization"
    assert response.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in response.headers
    assert "x-gw-source" not in response.headers  # no stub answered it
    assert response.content == b""


def test_preflight_from_a_refused_origin_is_403_problem_without_cors_headers(
        start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(USERS).client() as client:
        response = preflight(client, "/users/users/1", EVIL)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == f"origin {EVIL} is not allowed (cors.origins)"
    assert not [name for name in response.headers if name.startswith("access-control-")]
    assert "Origin" in response.headers["vary"]


def test_preflight_never_reaches_the_live_upstream(start_gateway: Callable[..., GatewayThread],
                                                   upstream: UpstreamServer) -> None:
    service = {"spec": str(TEST_SPECS / "echo.yaml"), "mode": "live", "upstream": [upstream.url]}
    with start_gateway({"echo": service}).client() as client:
        for origin in (APP, EVIL):
            preflight(client, "/echo/flaky/preflight", origin, method="GET")
        actual = client.get("/echo/flaky/preflight", headers={"Origin": APP})
    assert actual.json()["hits"] == 1  # the upstream counts every request to /flaky/KEY: only the GET came
    assert actual.headers["access-control-allow-origin"] == APP


def test_preflight_is_answered_for_unknown_paths_so_the_browser_sees_the_real_404(
        start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(USERS).client() as client:
        passed = preflight(client, "/nowhere/at/all", APP, method="DELETE")
        actual = client.delete("/nowhere/at/all", headers={"Origin": APP})
    assert passed.status_code == 204
    assert actual.status_code == 404
    assert actual.headers["access-control-allow-origin"] == APP


@pytest.mark.parametrize(("request_kwargs", "status"), [
    ({"method": "GET", "url": "/users/nothing-here/1"}, 404),
    ({"method": "GET", "url": "/users/users?limit=1000"}, 400),
    ({"method": "PATCH", "url": "/users/users/1", "json": {"full_name": "A"}, "headers": {"Prefer": "code=401"}}, 401),
])
def test_problem_responses_carry_cors_headers_for_allowed_origins(
        start_gateway: Callable[..., GatewayThread], request_kwargs: dict, status: int) -> None:
    with start_gateway(USERS).client() as client:
        headers = {"Origin": APP, **request_kwargs.pop("headers", {})}
        response = client.request(**request_kwargs, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["access-control-allow-origin"] == APP
    assert "X-Request-ID" in response.headers["access-control-expose-headers"]


def test_actual_request_from_refused_origin_is_served_without_cors_headers(
        start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(USERS).client() as client:
        response = client.get("/users/users/1", headers={"Origin": EVIL})
    assert response.status_code == 200
    assert not [name for name in response.headers if name.startswith("access-control-")]


def test_credentials_and_explicit_lists_are_honoured(start_gateway: Callable[..., GatewayThread]) -> None:
    cors = {"origins": ["https://*.example.com"], "credentials": True, "methods": ["GET", "PATCH"],
            "headers": ["Content-Type", "Authorization"], "expose": ["X-Request-ID"], "max_age": "1m"}
    with start_gateway(USERS, cors=cors).client() as client:
        allowed = preflight(client, "/users/users/1", "https://app.example.com")
        bad_method = preflight(client, "/users/users/1", "https://app.example.com", method="PUT")
        bad_header = preflight(client, "/users/users/1", "https://app.example.com", headers="x-debug")
        bare_domain = preflight(client, "/users/users/1", "https://example.com")
        actual = client.get("/users/users/1", headers={"Origin": "https://app.example.com"})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert allowed.headers["access-control-allow-methods"] == "GET, PATCH"
    assert allowed.headers["access-control-allow-headers"] == "Content-Type, Authorization"
    assert allowed.headers["access-control-max-age"] == "60"
    assert (bad_method.status_code, bad_header.status_code, bare_domain.status_code) == (403, 403, 403)
    assert "PUT" in bad_method.json()["detail"] and "x-debug" in bad_header.json()["detail"]
    assert actual.headers["access-control-allow-origin"] == "https://app.example.com"
    assert actual.headers["access-control-allow-credentials"] == "true"
    assert actual.headers["access-control-expose-headers"] == "X-Request-ID"


def test_cors_disabled_leaves_options_to_the_routes(start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(USERS, cors={"enabled": False}).client() as client:
        response = preflight(client, "/users/users/1", APP)
        actual = client.get("/users/users/1", headers={"Origin": APP})
    assert response.status_code == 405  # the spec has no OPTIONS operation
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in actual.headers


def test_wildcard_with_credentials_is_refused_at_config_time() -> None:
    with pytest.raises(ConfigError) as refused:
        build_config({"cors": {"origins": ["*"], "credentials": True}}, "gateway.yaml")
    assert str(refused.value) == ("gateway.yaml: cors.origins: `*` cannot be used with credentials: true "
                                  "(browsers refuse it); list the origins")


def test_an_origin_with_a_path_is_refused_at_config_time() -> None:
    with pytest.raises(ConfigError, match=r"^gateway.yaml: cors.origins: 'http://localhost:3000/' is not an origin"):
        build_config({"cors": {"origins": ["http://localhost:3000/"]}}, "gateway.yaml")


@pytest.mark.parametrize(("origin", "allowed"), [
    ("http://localhost:3000", True),
    ("http://localhost", True),
    ("http://127.0.0.1:8080", True),
    ("http://[::1]:5173", True),
    ("http://localhost.evil.example", False),
    ("https://localhost:3000", False),
    ("https://app.example.com", True),
    ("https://a.b.example.com", True),
    ("https://example.com", False),
    ("https://evilexample.com", False),
    ("https://APP.Example.com", True),
    ("https://exact.test:8443", True),
    ("https://exact.test", False),
    ("null", False),
])
def test_origin_patterns(origin: str, allowed: bool) -> None:
    matcher = OriginMatcher(["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*",
                             "https://*.example.com", "https://exact.test:8443"])
    assert matcher.allows(origin) is allowed


def test_an_answers_own_cors_headers_are_replaced_by_the_gateways(start_gateway: Callable[..., GatewayThread],
                                                                 tmp_path: Path) -> None:
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "getUser-open.yaml").write_text(
        "request: {method: GET, path: /users/9}\n"
        "response: {status: 200, headers: {Access-Control-Allow-Origin: '*', Content-Type: application/json},\n"
        "           body: {id: 9, username: open, email: o@example.com, full_name: null, role: viewer,\n"
        "                  active: true, created_at: '2024-01-01T00:00:00Z'}}\n")
    with start_gateway(USERS, stubs=str(tmp_path)).client() as client:
        allowed = client.get("/users/users/9", headers={"Origin": APP})
        refused = client.get("/users/users/9", headers={"Origin": EVIL})
    assert allowed.headers["x-gw-source"] == "recorded"
    assert allowed.headers.get_list("access-control-allow-origin") == [APP]
    assert "access-control-allow-origin" not in refused.headers


def test_origins_from_the_environment_are_comma_separated() -> None:
    env = {"GW_CORS__ORIGINS": "http://localhost:3000, https://*.example.com", "GW_ALLOWED_HOSTS": "a.test,*.b.test"}
    config = load_config(Path(__file__).resolve().parent.parent / "gateway.yaml", env=env)
    assert config.cors.origins == ["http://localhost:3000", "https://*.example.com"]
    assert config.allowed_hosts == ["a.test", "*.b.test"]
