"""The built-in login against stubbed services: login, protected calls, refresh rotation, logout, limits.

Revocations live in the shared state: in memory, and in a real Redis shared by two gateways.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import bcrypt
import httpx
import jwt
import pytest
from argon2 import PasswordHasher

from tests.conftest import TEST_SPECS, GatewayThread, bearer, gw_command, run_cli

SECURED = str(TEST_SPECS / "secured.yaml")
SECRET = "a-login-secret-of-at-least-32-bytes"


@pytest.fixture(scope="module")
def users() -> list[dict[str, Any]]:
    return [
        {"username": "alice", "password_hash": bcrypt.hashpw(b"wonderland", bcrypt.gensalt(rounds=4)).decode(),
         "roles": ["admin", "items:write"]},
        {"username": "bob", "password_hash": PasswordHasher(time_cost=1, memory_cost=1024).hash("builder"),
         "roles": ["viewer"]},
    ]


def login_gateway(start: Callable[..., GatewayThread], users: list[dict[str, Any]], **top: Any) -> GatewayThread:
    auth = {"jwt": {"secret": SECRET, "issuer": "gw-test", "access_ttl": "5m"}, "users": users,
            "login": {"attempts": 3, "window": "1m"}, **top.pop("auth", {})}
    return start({"secured": {"spec": SECURED, "mode": "stub"}}, auth=auth, **top)


def log_in(client: httpx.Client, username: str = "alice", password: str = "wonderland") -> dict[str, Any]:
    response = client.post("/_gw/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def test_login_gives_an_access_and_a_refresh_token(start_gateway, users) -> None:
    with login_gateway(start_gateway, users).client() as client:
        response = client.post("/_gw/auth/login", json={"username": "alice", "password": "wonderland"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 300
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], issuer="gw-test")
    assert claims["sub"] == "alice" and claims["roles"] == ["admin", "items:write"]
    assert claims["exp"] - claims["iat"] == 300 and claims["jti"]
    refresh = jwt.decode(body["refresh_token"], SECRET, algorithms=["HS256"], issuer="gw-test")
    assert refresh["token_use"] == "refresh" and claims["token_use"] == "access"


def test_the_whole_session_against_stubs(start_gateway, users) -> None:
    with login_gateway(start_gateway, users).client() as client:
        assert client.get("/secured/items/1").status_code == 401
        first = log_in(client)
        assert client.get("/secured/items/1", headers=bearer(first["access_token"])).status_code == 200
        written = client.post("/secured/items/1", json={"name": "x"}, headers=bearer(first["access_token"]))
        assert written.status_code == 200  # the user's roles grant the scope
        me = client.get("/_gw/auth/me", headers=bearer(first["access_token"]))
        assert me.status_code == 200 and me.json()["sub"] == "alice"

        refreshed = client.post("/_gw/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert refreshed.status_code == 200
        second = refreshed.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert client.get("/secured/items/1", headers=bearer(second["access_token"])).status_code == 200

        reused = client.post("/_gw/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reused.status_code == 401 and "already used" in reused.json()["detail"]
        family_gone = client.post("/_gw/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert family_gone.status_code == 401 and "revoked" in family_gone.json()["detail"]

        third = log_in(client)
        assert client.post("/_gw/auth/logout", headers=bearer(third["access_token"])).status_code == 204
        refused = client.get("/secured/items/1", headers=bearer(third["access_token"]))
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        after_logout = client.post("/_gw/auth/refresh", json={"refresh_token": third["refresh_token"]})
        assert after_logout.status_code == 401


def test_a_refresh_token_cannot_call_protected_routes(start_gateway, users) -> None:
    with login_gateway(start_gateway, users).client() as client:
        tokens = log_in(client)
        response = client.get("/secured/items/1", headers=bearer(tokens["refresh_token"]))
        as_refresh = client.post("/_gw/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401
    assert as_refresh.status_code == 401


def test_an_argon2id_user_logs_in(start_gateway, users) -> None:
    with login_gateway(start_gateway, users).client() as client:
        tokens = log_in(client, "bob", "builder")
        response = client.post("/secured/items/1", json={"name": "x"}, headers=bearer(tokens["access_token"]))
    assert response.status_code == 403  # bob is a viewer


def test_wrong_credentials_are_401_problems_that_do_not_tell_which_part_was_wrong(start_gateway, users) -> None:
    with login_gateway(start_gateway, users).client() as client:
        wrong_password = client.post("/_gw/auth/login", json={"username": "alice", "password": "nope"})
        unknown_user = client.post("/_gw/auth/login", json={"username": "mallory", "password": "nope"})
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
    assert wrong_password.json()["detail"] == unknown_user.json()["detail"]


def test_failed_logins_beyond_the_limit_are_429_with_retry_after(start_gateway, users) -> None:
    with login_gateway(start_gateway, users).client() as client:
        statuses = [client.post("/_gw/auth/login", json={"username": "alice", "password": "nope"}).status_code
                    for _ in range(3)]
        limited = client.post("/_gw/auth/login", json={"username": "alice", "password": "wonderland"})
    assert statuses == [401, 401, 401]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) == 60


def test_failed_logins_are_also_counted_per_client_address(start_gateway, users) -> None:
    with login_gateway(start_gateway, users).client() as client:
        for name in ("u1", "u2", "u3"):
            assert client.post("/_gw/auth/login", json={"username": name, "password": "x"}).status_code == 401
        limited = client.post("/_gw/auth/login", json={"username": "bob", "password": "builder"})
    assert limited.status_code == 429


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"username": "alice"}', b'{"username": 1, "password": "x"}'])
def test_a_bad_login_body_is_a_400_problem(start_gateway, users, body: bytes) -> None:
    with login_gateway(start_gateway, users).client() as client:
        response = client.post("/_gw/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_login_endpoints_answer_wrong_methods_with_405(start_gateway, users) -> None:
    with login_gateway(start_gateway, users).client() as client:
        response = client.get("/_gw/auth/login")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_without_users_the_login_is_a_404_problem(start_gateway) -> None:
    gateway = start_gateway({"secured": {"spec": SECURED}})
    with gateway.client() as client:
        response = client.post("/_gw/auth/login", json={"username": "alice", "password": "x"})
    assert response.status_code == 404 and "auth.users" in response.json()["detail"]


def test_logout_with_a_refresh_token_in_the_body_revokes_that_session(start_gateway, users) -> None:
    with login_gateway(start_gateway, users).client() as client:
        tokens = log_in(client)
        out = client.post("/_gw/auth/logout", headers=bearer(tokens["access_token"]),
                          json={"refresh_token": tokens["refresh_token"]})
        refresh = client.post("/_gw/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    assert refresh.status_code == 401


def test_logout_needs_a_valid_access_token(start_gateway, users) -> None:
    with login_gateway(start_gateway, users).client() as client:
        assert client.post("/_gw/auth/logout").status_code == 401
        assert client.post("/_gw/auth/logout", headers=bearer("junk")).status_code == 401


# --- across processes: revocations in a real Redis ------------------------------------------------------

def test_a_logout_on_one_gateway_is_honoured_by_another_sharing_redis(start_gateway, users, redis_server) -> None:
    one = login_gateway(start_gateway, users, redis_url=redis_server.url)
    two = login_gateway(start_gateway, users, redis_url=redis_server.url)
    with one.client() as first, two.client() as second:
        tokens = log_in(first)
        assert second.get("/secured/items/1", headers=bearer(tokens["access_token"])).status_code == 200
        refreshed = second.post("/_gw/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
        reused = first.post("/_gw/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert reused.status_code == 401  # the rotation on two is known to one
        assert first.post("/_gw/auth/refresh", json={"refresh_token": refreshed["refresh_token"]}).status_code == 401

        again = log_in(second)
        assert first.post("/_gw/auth/logout", headers=bearer(again["access_token"])).status_code == 204
        refused = second.get("/secured/items/1", headers=bearer(again["access_token"]))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_failed_logins_are_counted_across_gateways_sharing_redis(start_gateway, users, redis_server) -> None:
    one = login_gateway(start_gateway, users, redis_url=redis_server.url)
    two = login_gateway(start_gateway, users, redis_url=redis_server.url)
    with one.client() as first, two.client() as second:
        for client in (first, second, first):
            assert client.post("/_gw/auth/login", json={"username": "alice", "password": "x"}).status_code == 401
        assert second.post("/_gw/auth/login", json={"username": "alice", "password": "wonderland"}).status_code == 429


def test_with_redis_down_tokens_still_pass_but_logout_and_refresh_refuse(start_gateway, users, redis_server) -> None:
    gateway = login_gateway(start_gateway, users, redis_url=redis_server.url)
    with gateway.client() as client:
        tokens = log_in(client)
        redis_server.stop()
        started = time.monotonic()
        call = client.get("/secured/items/1", headers=bearer(tokens["access_token"]))
        logout = client.post("/_gw/auth/logout", headers=bearer(tokens["access_token"]))
        refresh = client.post("/_gw/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert time.monotonic() - started < 5
    assert call.status_code == 200  # fail open on the hot path (auth.fail_closed: false)
    assert logout.status_code == 503 and refresh.status_code == 503
    assert logout.headers["content-type"] == "application/problem+json"


def test_with_redis_down_and_fail_closed_tokens_are_refused(start_gateway, users, redis_server) -> None:
    gateway = login_gateway(start_gateway, users, redis_url=redis_server.url, auth={"fail_closed": True})
    with gateway.client() as client:
        tokens = log_in(client)
        redis_server.stop()
        response = client.get("/secured/items/1", headers=bearer(tokens["access_token"]))
    assert response.status_code == 503


# --- the CLI: gw token, gw auth hash-password ------------------------------------------------------------

def test_gw_token_prints_a_token_signed_with_the_configs_secret(tmp_path) -> None:
    (tmp_path / "gateway.yaml").write_text("auth: {jwt: {issuer: gw-test}}\nservices: {}\n")
    result = run_cli("token", "--sub", "alice", "--roles", "admin,user", "--scope", "read write", "--ttl", "1h",
                    cwd=tmp_path, env={"GW_AUTH__JWT__SECRET": SECRET})
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"], issuer="gw-test")
    assert claims["sub"] == "alice" and claims["roles"] == ["admin", "user"] and claims["scope"] == "read write"
    assert claims["exp"] - claims["iat"] == 3600


def test_gw_token_without_a_key_is_one_line(tmp_path) -> None:
    result = run_cli("token", "--sub", "alice", cwd=tmp_path, env={"GW_AUTH__JWT__SECRET": ""})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no signing key" in result.stderr


@pytest.mark.parametrize("flags", [[], ["--argon2"]])
def test_gw_auth_hash_password_reads_stdin_and_prints_a_usable_hash(start_gateway, flags: list[str]) -> None:
    result = subprocess.run([*gw_command(), "auth", "hash-password", "--password-stdin", *flags], input="wonderland\n",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    password_hash = result.stdout.strip()
    assert password_hash.startswith("$argon2id$" if flags else "$2b$")
    users = [{"username": "carol", "password_hash": password_hash, "roles": []}]
    with login_gateway(start_gateway, users).client() as client:
        assert log_in(client, "carol", "wonderland")["token_type"] == "bearer"
