"""Hostile clients against the built-in login, revocation, the admin API and WebSocket handshakes, on a real `gw serve`.

Each attack is sent on loopback as an attacker would (concurrent bursts, raw handshakes with a rebound
Host, cross-site "simple" POSTs, a token signed with another algorithm) and the outcome is asserted:
nothing gets through, and the gateway still answers a normal request afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import yaml

from gw.operator.admin.client import AdminClient
from gw.runtime.shared_state import RedisState, SharedState
from tests.conftest import TEST_SPECS, GatewayProcess, RedisServer, bearer, free_port, mint_token, run_gw
from tests.test_websockets import SocketUpstream

SECRET = "a-hostile-login-secret-long-enough-for-every-hmac-algorithm-0123456789"
PASSWORD = "wonderland"
ATTEMPTS = 5
USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace")


def gateway_yaml(folder: Path, **top: Any) -> Path:
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    config = {
        "reload": False,
        "allowed_hosts": ["127.0.0.1", "localhost"],
        "auth": {"jwt": {"secret": SECRET, "access_ttl": "5m"},
                 "users": [{"username": u, "password_hash": password_hash, "roles": ["admin"]} for u in USERS],
                 "login": {"attempts": ATTEMPTS, "window": "1m"}},
        "services": {"secured": {"spec": str(TEST_SPECS / "secured.yaml"), "base_path": "/secured", "mode": "stub"}},
        **top,
    }
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def socket_upstream() -> Iterator[SocketUpstream]:
    server = SocketUpstream(free_port(), "ws").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, socket_upstream: SocketUpstream) -> Iterator[GatewayProcess]:
    folder = tmp_path_factory.mktemp("hostile-auth")
    chat = {"spec": str(TEST_SPECS / "echo.yaml"), "base_path": "/chat", "mode": "live",
            "upstream": socket_upstream.url, "websockets": ["/events"]}
    gateway_yaml(folder, services={"secured": {"spec": str(TEST_SPECS / "secured.yaml"), "base_path": "/secured",
                                               "mode": "stub"}, "chat": chat})
    process = GatewayProcess([], cwd=folder).wait_ready()
    yield process
    process.stop()


def still_answers(gateway: GatewayProcess) -> None:
    assert httpx.get(gateway.url + "/_gw/health", timeout=5).status_code == 200


def client_from(gateway: GatewayProcess, address: str = "127.0.0.1") -> httpx.Client:
    return httpx.Client(base_url=gateway.url, transport=httpx.HTTPTransport(local_address=address), timeout=10)


def log_in(gateway: GatewayProcess, username: str, address: str = "127.0.0.1") -> dict[str, Any]:
    with client_from(gateway, address) as client:
        response = client.post("/_gw/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


def burst(url: str, username: str, passwords: list[str], address: str) -> list[int]:
    """Every password sent at once (one connection each), from `address`; the statuses in order."""

    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=len(passwords), max_keepalive_connections=0)
        transport = httpx.AsyncHTTPTransport(local_address=address, limits=limits)
        async with httpx.AsyncClient(base_url=url, transport=transport, timeout=20) as client:
            answers = await asyncio.gather(*(client.post("/_gw/auth/login", json={"username": username, "password": p})
                                             for p in passwords))
        return [a.status_code for a in answers]

    return asyncio.run(run())


# -- the login attempt limit under concurrency -------------------------------------------------------


@pytest.mark.parametrize(("count", "username", "address"), [(30, "alice", "127.0.0.2"), (60, "bob", "127.0.0.3")])
def test_a_concurrent_burst_of_wrong_passwords_gets_at_most_attempts_checked(gateway, count, username, address) -> None:
    statuses = burst(gateway.url, username, [f"wrong-{i}" for i in range(count)], address)

    assert statuses.count(401) == ATTEMPTS, statuses
    assert statuses.count(429) == count - ATTEMPTS
    still_answers(gateway)


def test_a_burst_holding_the_right_password_does_not_log_in_once_attempts_are_used(gateway) -> None:
    with client_from(gateway, "127.0.0.4") as client:
        for i in range(ATTEMPTS):
            assert client.post("/_gw/auth/login", json={"username": "carol", "password": f"x{i}"}).status_code == 401
    passwords = [f"guess-{i}" for i in range(40)]
    passwords[17] = PASSWORD

    statuses = burst(gateway.url, "carol", passwords, "127.0.0.5")  # another address: the user's own count holds

    assert 200 not in statuses and set(statuses) == {429}, statuses
    still_answers(gateway)


def test_a_burst_holding_the_right_password_gets_no_more_wrong_tries_checked(gateway) -> None:
    passwords = [f"guess-{i}" for i in range(40)]
    passwords[31] = PASSWORD

    statuses = burst(gateway.url, "frank", passwords, "127.0.0.7")

    assert statuses.count(401) <= ATTEMPTS and statuses.count(200) <= 1, statuses
    assert statuses.count(429) >= 40 - ATTEMPTS - 2  # a success gives its own try back, and may free one more
    still_answers(gateway)


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_reserving_tries_is_one_atomic_step_in_each_store(store: str, tmp_path: Path) -> None:
    redis = RedisServer(tmp_path) if store == "redis" else None

    async def run() -> list[bool]:
        state = RedisState(redis.url) if redis else SharedState()
        granted: list[bool] = []
        try:
            await state.get("warm-up")  # one connection made before the race: the race is about the Lua step
            for _ in range(3):  # 3 rounds of 20 at once: a loaded CI box connects to Redis within its timeout
                granted += await asyncio.gather(*(state.reserve(["user:x", "ip:y"], ATTEMPTS, 60) for _ in range(20)))
            return granted
        finally:
            await state.close()

    try:
        granted = asyncio.run(run())
    finally:
        if redis:
            redis.stop()
    assert granted.count(True) == ATTEMPTS


# -- access tokens die with their session ----------------------------------------------------------


def protected(gateway: GatewayProcess, token: str) -> int:
    return httpx.get(gateway.url + "/secured/items/1", headers=bearer(token), timeout=5).status_code


def refreshed(gateway: GatewayProcess, refresh_token: str) -> httpx.Response:
    return httpx.post(gateway.url + "/_gw/auth/refresh", json={"refresh_token": refresh_token}, timeout=5)


def test_logout_refuses_every_access_token_of_the_session(gateway) -> None:
    first = log_in(gateway, "dave")
    second = refreshed(gateway, first["refresh_token"]).json()
    assert protected(gateway, first["access_token"]) == 200 and protected(gateway, second["access_token"]) == 200
    other_session = log_in(gateway, "dave")

    logout = httpx.post(gateway.url + "/_gw/auth/logout", headers=bearer(second["access_token"]), timeout=5)

    assert logout.status_code == 204
    assert protected(gateway, first["access_token"]) == 401  # same session, another token
    assert protected(gateway, second["access_token"]) == 401
    assert protected(gateway, other_session["access_token"]) == 200  # another login stays
    still_answers(gateway)


def test_a_reused_refresh_token_refuses_every_access_token_of_the_session(gateway) -> None:
    first = log_in(gateway, "erin")
    second = refreshed(gateway, first["refresh_token"]).json()

    reuse = refreshed(gateway, first["refresh_token"])

    assert reuse.status_code == 401
    assert protected(gateway, first["access_token"]) == 401
    assert protected(gateway, second["access_token"]) == 401
    assert refreshed(gateway, second["refresh_token"]).status_code == 401
    still_answers(gateway)


def test_revocation_and_the_attempt_limit_hold_across_two_processes_sharing_redis(tmp_path: Path) -> None:
    """Also: without allowed_hosts, the live feed and the admin API still refuse a rebound page (not the gateway's own)."""
    redis = RedisServer(tmp_path)
    gateway_yaml(tmp_path, redis_url=redis.url, allowed_hosts=[])
    first = second = None
    try:
        first = GatewayProcess([], cwd=tmp_path)
        second = GatewayProcess([], cwd=tmp_path)
        first.wait_ready()
        second.wait_ready()
        tokens = log_in(first, "grace")
        rotated = refreshed(second, tokens["refresh_token"]).json()
        assert protected(first, tokens["access_token"]) == 200

        assert httpx.post(second.url + "/_gw/auth/logout", headers=bearer(rotated["access_token"]),
                          timeout=5).status_code == 204
        assert protected(first, tokens["access_token"]) == 401

        halves = [burst(g.url, "alice", [f"w{i}" for i in range(20)], "127.0.0.6") for g in (first, second)]
        checked = sum(h.count(401) for h in halves)
        assert checked == ATTEMPTS, halves

        rebound = handshake(first, "/_gw/ws", "evil.example", "http://evil.example")
        own_page = handshake(first, "/_gw/ws", f"localhost:{first.port}", f"http://localhost:{first.port}")
        assert b"403" in rebound, rebound
        assert b" 101 " in own_page + b" ", own_page
        rebound_post = httpx.post(first.url + "/_gw/api/stubs/reload", headers={
            "Host": "evil.example", "Origin": "http://evil.example", "X-GW-Admin": "1"}, timeout=5)
        own_post = httpx.post(first.url + "/_gw/api/stubs/reload", headers={
            "Origin": f"http://127.0.0.1:{first.port}", "X-GW-Admin": "1"}, timeout=5)
        assert rebound_post.status_code == 403 and own_post.status_code == 200
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()
        redis.stop()


# -- cross-site "simple" requests to the admin API -----------------------------------------------------


@pytest.mark.parametrize("headers", [{"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"},
                                     {"Content-Type": "multipart/form-data; boundary=x"}, {}])
def test_a_cross_site_simple_post_to_the_admin_api_is_refused(gateway, headers: dict[str, str]) -> None:
    answer = httpx.post(gateway.url + "/_gw/api/stubs/reload", content=b"{}" if headers else b"",
                        headers={"Origin": "http://evil.example", **headers}, timeout=5)

    assert answer.status_code == 403
    assert answer.json()["type"] == "/_gw/problems/cross-site-refused"
    assert httpx.post(gateway.url + "/_gw/api/stubs/reload", headers={"X-GW-Admin": "1"}, timeout=5).status_code == 200


def test_a_cross_site_form_cannot_reset_a_circuit_or_log_in(gateway) -> None:
    reset = httpx.post(gateway.url + "/_gw/api/services/chat/instances/x/circuit/reset", data={"a": "b"}, timeout=5)
    body = f'{{"username":"dave","password":"{PASSWORD}"}}'
    login = httpx.post(gateway.url + "/_gw/auth/login", content=body,
                       headers={"Content-Type": "text/plain", "Origin": "http://evil.example"}, timeout=5)
    like_curl = httpx.post(gateway.url + "/_gw/auth/login", content=body,  # curl -d: a form type, no Origin
                           headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)

    assert reset.status_code == 403 and login.status_code == 403
    assert like_curl.status_code == 200
    with_cookie = httpx.post(gateway.url + "/_gw/auth/logout", headers={"Cookie": "session=x", "Content-Type": "text/plain"},
                             timeout=5)
    assert with_cookie.status_code == 403


def test_the_cli_still_switches_modes_and_reads_the_journal(gateway, tmp_path: Path) -> None:
    switched = run_gw("mode", "secured", "fallback", "--url", gateway.url, cwd=tmp_path)
    client = AdminClient(gateway.url)  # what `gw mode` and `gw journal` send
    back = client.set_mode("secured", "stub")
    journal = client.journal(limit=5)

    assert switched.returncode == 0, switched.stderr
    assert back["mode"] == "stub" and "entries" in journal


# -- a secret means HS256, exactly ---------------------------------------------------------------------


def test_an_hs512_token_is_refused_when_only_a_secret_is_configured(gateway) -> None:
    assert protected(gateway, mint_token(SECRET, algorithm="HS256")) == 200
    assert protected(gateway, mint_token(SECRET, algorithm="HS512")) == 401
    assert protected(gateway, mint_token(SECRET, algorithm="HS384")) == 401


# -- DNS rebinding against WebSocket handshakes ----------------------------------------------------------


def handshake(gateway: GatewayProcess, path: str, host: str, origin: str | None) -> bytes:
    """A raw WebSocket upgrade; the status line the gateway answers."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", *([f"Origin: {origin}"] if origin else [])]
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


@pytest.mark.parametrize("path", ["/_gw/ws", "/chat/events"])
def test_a_rebinding_handshake_is_refused_on_every_websocket(gateway, path: str) -> None:
    rebound = handshake(gateway, path, "evil.example", "http://evil.example")
    without_origin = handshake(gateway, path, "evil.example", None)
    own = handshake(gateway, path, f"127.0.0.1:{gateway.port}", None)

    assert b" 101 " not in rebound + b" " and b"400" in rebound, rebound
    assert b"400" in without_origin, without_origin
    assert b" 101 " in own + b" ", own
    still_answers(gateway)
