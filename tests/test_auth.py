"""Auth on protected routes: JWTs (HS256, RS256 by key and by JWKS), scopes, API keys, basic, `auth.require`.

Tokens are made with PyJWT (or by hand) here, independently of the gateway's own signing code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import bcrypt
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.conftest import TEST_SPECS, GatewayThread, bearer, free_port, mint_token, send_json

SECURED = str(TEST_SPECS / "secured.yaml")
SECRET = "a-test-secret-of-at-least-32-bytes!"


def token(key: Any = SECRET, algorithm: str = "HS256", headers: dict[str, Any] | None = None, **claims: Any) -> str:
    return mint_token(key, algorithm=algorithm, headers=headers, **claims)


def secured(start: Callable[..., GatewayThread], jwt_settings: dict[str, Any] | None = None, service: dict | None = None,
            **auth: Any) -> httpx.Client:
    settings = {"jwt": jwt_settings if jwt_settings is not None else {"secret": SECRET}, **auth}
    gateway = start({"secured": {"spec": SECURED, **(service or {})}}, auth=settings)
    return gateway.client()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes] | None = None) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = b64url(sign(signing_input.encode())) if sign else ""
    return f"{signing_input}.{signature}"


def assert_invalid_token(response: httpx.Response, says: str) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert says in response.json()["detail"]


# --- HS256 with a secret ---------------------------------------------------------------------------------

def test_a_valid_token_reaches_the_protected_operation(start_gateway) -> None:
    with secured(start_gateway) as client:
        response = client.get("/secured/items/1", headers=bearer(token()))
    assert response.status_code == 200
    assert response.json() == {"id": 1}


def test_a_missing_token_is_401_with_a_bearer_challenge_and_no_error_code(start_gateway) -> None:
    with secured(start_gateway) as client:
        response = client.get("/secured/items/1")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer realm="gw"'
    assert "bearer token" in response.json()["detail"]


def test_the_401_comes_before_any_word_about_the_request_body(start_gateway) -> None:
    with secured(start_gateway) as client:
        response = client.post("/secured/items/1", content=b"not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 401


def test_an_expired_token_is_401_saying_expired(start_gateway) -> None:
    with secured(start_gateway) as client:
        response = client.get("/secured/items/1", headers=bearer(token(exp=int(time.time()) - 10)))
    assert_invalid_token(response, "expired")
    assert 'error_description="token expired"' in response.headers["www-authenticate"]


def test_leeway_admits_a_token_that_expired_moments_ago(start_gateway) -> None:
    with secured(start_gateway, {"secret": SECRET, "leeway": "30s"}) as client:
        response = client.get("/secured/items/1", headers=bearer(token(exp=int(time.time()) - 5)))
    assert response.status_code == 200


def test_a_forged_signature_is_refused(start_gateway) -> None:
    forged = token(key="another-secret-of-at-least-32-bytes!!")
    with secured(start_gateway) as client:
        response = client.get("/secured/items/1", headers=bearer(forged))
    assert_invalid_token(response, "signature")


def test_a_tampered_payload_is_refused(start_gateway) -> None:
    header, _payload, signature = token().split(".")
    tampered = f"{header}.{b64url(json.dumps({'sub': 'mallory', 'exp': int(time.time()) + 300}).encode())}.{signature}"
    with secured(start_gateway) as client:
        response = client.get("/secured/items/1", headers=bearer(tampered))
    assert_invalid_token(response, "signature")


def test_a_token_for_another_audience_is_refused(start_gateway) -> None:
    with secured(start_gateway, {"secret": SECRET, "audience": "gw-api"}) as client:
        wrong = client.get("/secured/items/1", headers=bearer(token(aud="other-api")))
        missing = client.get("/secured/items/1", headers=bearer(token()))
        right = client.get("/secured/items/1", headers=bearer(token(aud="gw-api")))
    assert_invalid_token(wrong, "audience")
    assert missing.status_code == 401
    assert right.status_code == 200


def test_a_token_from_another_issuer_is_refused(start_gateway) -> None:
    with secured(start_gateway, {"secret": SECRET, "issuer": "https://id.example.com"}) as client:
        wrong = client.get("/secured/items/1", headers=bearer(token(iss="https://evil.example.com")))
        right = client.get("/secured/items/1", headers=bearer(token(iss="https://id.example.com")))
    assert_invalid_token(wrong, "issuer")
    assert right.status_code == 200


def test_an_alg_none_token_is_refused(start_gateway) -> None:
    unsigned = hand_made({"alg": "none", "typ": "JWT"}, {"sub": "alice", "exp": int(time.time()) + 300})
    with secured(start_gateway) as client:
        response = client.get("/secured/items/1", headers=bearer(unsigned))
    assert_invalid_token(response, "algorithm")


def test_a_token_without_exp_is_refused(start_gateway) -> None:
    with secured(start_gateway) as client:
        response = client.get("/secured/items/1", headers=bearer(jwt.encode({"sub": "alice"}, SECRET)))
    assert_invalid_token(response, "exp")


def test_a_malformed_token_is_refused(start_gateway) -> None:
    with secured(start_gateway) as client:
        response = client.get("/secured/items/1", headers=bearer("not.a.jwt"))
    assert_invalid_token(response, "malformed")


# --- RS256 / ES256 with public keys, and JWKS ----------------------------------------------------------

def test_rs256_tokens_verify_with_the_configured_public_key_file(start_gateway, rsa_key, tmp_path) -> None:
    pem_file = tmp_path / "public.pem"
    pem_file.write_text(public_pem(rsa_key))
    with secured(start_gateway, {"public_key": str(pem_file)}) as client:
        good = client.get("/secured/items/1", headers=bearer(token(rsa_key, "RS256")))
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        bad = client.get("/secured/items/1", headers=bearer(token(other_key, "RS256")))
    assert good.status_code == 200
    assert_invalid_token(bad, "signature")


def test_es256_tokens_verify_with_public_key_pem_text(start_gateway) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with secured(start_gateway, {"public_key": public_pem(key)}) as client:
        response = client.get("/secured/items/1", headers=bearer(token(key, "ES256")))
    assert response.status_code == 200


def test_an_hs256_token_signed_with_the_public_key_is_refused(start_gateway, rsa_key) -> None:
    """Algorithm confusion: the public key is public, so an HMAC over it proves nothing."""
    pem = public_pem(rsa_key).encode()
    confused = hand_made({"alg": "HS256", "typ": "JWT"}, {"sub": "mallory", "exp": int(time.time()) + 300},
                         lambda data: hmac.new(pem, data, hashlib.sha256).digest())
    with secured(start_gateway, {"public_key": pem.decode()}) as client:
        response = client.get("/secured/items/1", headers=bearer(confused))
    assert_invalid_token(response, "algorithm")


class JwksServer:
    """A real HTTP server on loopback serving a JWKS document, counting fetches."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys, self.fetches = keys, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                send_json(self, body)

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks(rsa_key) -> Iterator[JwksServer]:
    entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    server = JwksServer([{**entry, "kid": "key-1", "use": "sig", "alg": "RS256"}])
    yield server
    server.stop()


def test_tokens_verify_against_keys_from_a_jwks_url_fetched_once(start_gateway, rsa_key, jwks) -> None:
    with secured(start_gateway, {"jwks_url": jwks.url}) as client:
        answers = [client.get("/secured/items/1", headers=bearer(token(rsa_key, "RS256", {"kid": "key-1"}, n=i)))
                   for i in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert jwks.fetches == 1


def test_unknown_key_ids_do_not_make_the_gateway_refetch_on_every_request(start_gateway, rsa_key, jwks) -> None:
    with secured(start_gateway, {"jwks_url": jwks.url}) as client:
        assert client.get("/secured/items/1", headers=bearer(token(rsa_key, "RS256", {"kid": "key-1"}))).status_code == 200
        answers = [client.get("/secured/items/1", headers=bearer(token(rsa_key, "RS256", {"kid": f"made-up-{i}"})))
                   for i in range(5)]
    for answer in answers:
        assert_invalid_token(answer, "unknown key")
    assert jwks.fetches == 1  # within the cooldown an unknown kid is refused from the cache


def test_an_hs256_token_is_refused_when_keys_come_from_jwks(start_gateway, jwks) -> None:
    with secured(start_gateway, {"jwks_url": jwks.url}) as client:
        response = client.get("/secured/items/1", headers=bearer(token(headers={"kid": "key-1"})))
    assert response.status_code == 401


def test_an_unreachable_jwks_url_is_a_prompt_503_not_a_hang(start_gateway, rsa_key) -> None:
    dead = f"http://127.0.0.1:{free_port()}/jwks.json"
    with secured(start_gateway, {"jwks_url": dead}) as client:
        started = time.monotonic()
        response = client.get("/secured/items/1", headers=bearer(token(rsa_key, "RS256", {"kid": "key-1"})))
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "signing keys" in response.json()["detail"]


# --- scopes and roles ------------------------------------------------------------------------------------

def test_a_token_without_the_required_scope_is_403_naming_it(start_gateway) -> None:
    with secured(start_gateway) as client:
        response = client.post("/secured/items/1", json={"name": "x"}, headers=bearer(token(scope="items:read")))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["missing"] == ["items:write"]
    assert "items:write" in body["detail"]
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("claims", [{"scope": "items:read items:write"}, {"scp": ["items:write"]}, {"scp": "items:write"},
                                    {"roles": ["items:write"]}])
def test_the_scope_may_come_from_scope_scp_or_roles(start_gateway, claims: dict[str, Any]) -> None:
    with secured(start_gateway) as client:
        response = client.post("/secured/items/1", json={"name": "x"}, headers=bearer(token(**claims)))
    assert response.status_code == 200


def test_roles_in_config_are_required_on_top_of_the_spec(start_gateway) -> None:
    with secured(start_gateway, service={"roles": {"getItem": ["admin"], "getPublic": ["admin"]}}) as client:
        user = client.get("/secured/items/1", headers=bearer(token(roles=["user"])))
        admin = client.get("/secured/items/1", headers=bearer(token(roles=["admin"])))
        anonymous_on_public = client.get("/secured/public")
    assert user.status_code == 403 and user.json()["missing"] == ["admin"]
    assert admin.status_code == 200
    assert anonymous_on_public.status_code == 401  # a role makes a public operation ask for a token


def test_a_refresh_token_is_never_accepted_as_an_access_token(start_gateway) -> None:
    with secured(start_gateway) as client:
        response = client.get("/secured/items/1", headers=bearer(token(token_use="refresh")))
    assert_invalid_token(response, "refresh")


# --- public operations and auth.require ----------------------------------------------------------------

def test_an_operation_with_empty_security_is_public(start_gateway) -> None:
    with secured(start_gateway) as client:
        response = client.get("/secured/public")
    assert response.status_code == 200


def test_require_always_asks_every_operation_for_a_valid_token(start_gateway) -> None:
    with secured(start_gateway, require="always") as client:
        anonymous = client.get("/secured/public")
        keyed_only = client.get("/secured/keyed", headers={"X-API-Key": "k"})
        with_token = client.get("/secured/public", headers=bearer(token()))
        forged = client.get("/secured/public", headers=bearer(token(key="another-secret-of-at-least-32-bytes!!")))
    assert anonymous.status_code == 401
    assert keyed_only.status_code == 401
    assert with_token.status_code == 200
    assert forged.status_code == 401


def test_require_none_checks_nothing(start_gateway) -> None:
    with secured(start_gateway, require="none") as client:
        assert client.get("/secured/items/1").status_code == 200
        assert client.get("/secured/keyed").status_code == 200


def test_without_jwt_settings_a_bearer_token_is_only_required_to_be_present(start_gateway) -> None:
    with secured(start_gateway, {}) as client:
        missing = client.get("/secured/items/1")
        present = client.get("/secured/items/1", headers=bearer("anything"))
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="gw"'
    assert present.status_code == 200


def test_the_sample_users_me_asks_for_a_bearer_token(sample_client: httpx.Client) -> None:
    assert sample_client.get("/users/me").status_code == 401
    assert sample_client.get("/users/me", headers=bearer("day-one")).status_code == 200
    assert sample_client.get("/users/users/1").status_code == 200


# --- API keys and basic ------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "send"), [
    ("/secured/keyed", {"headers": {"X-API-Key": "any"}}),
    ("/secured/query-keyed?api_key=any", {}),
    ("/secured/cookie-keyed", {"headers": {"Cookie": "session_key=any"}}),
])
def test_an_api_key_must_be_present_where_the_scheme_says(start_gateway, path: str, send: dict[str, Any]) -> None:
    with secured(start_gateway) as client:
        absent = client.get(path.split("?")[0])
        present = client.get(path, **send)
    assert absent.status_code == 401
    assert absent.headers["content-type"] == "application/problem+json"
    assert present.status_code == 200


def test_configured_api_keys_are_checked(start_gateway) -> None:
    with secured(start_gateway, api_keys={"headerKey": ["k-123"], "queryKey": ["q-456"]}) as client:
        good = client.get("/secured/keyed", headers={"X-API-Key": "k-123"})
        bad = client.get("/secured/keyed", headers={"X-API-Key": "k-999"})
        good_query = client.get("/secured/query-keyed", params={"api_key": "q-456"})
        bad_query = client.get("/secured/query-keyed", params={"api_key": "k-123"})
    assert good.status_code == 200 and good_query.status_code == 200
    assert bad.status_code == 401 and "X-API-Key" in bad.json()["detail"]
    assert bad_query.status_code == 401


def test_alternatives_are_or_and_schemes_within_one_are_and(start_gateway) -> None:
    with secured(start_gateway, api_keys={"headerKey": ["k-123"]}) as client:
        by_key = client.get("/secured/either", headers={"X-API-Key": "k-123"})
        by_token = client.get("/secured/either", headers=bearer(token()))
        neither = client.get("/secured/either")
        both_with_key_only = client.get("/secured/both", headers={"X-API-Key": "k-123"})
        both = client.get("/secured/both", headers={"X-API-Key": "k-123", **bearer(token())})
    assert by_key.status_code == 200 and by_token.status_code == 200
    assert neither.status_code == 401 and "Bearer" in neither.headers["www-authenticate"]
    assert both_with_key_only.status_code == 401
    assert both.status_code == 200


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def test_basic_credentials_are_checked_against_the_users(start_gateway) -> None:
    password_hash = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    users = [{"username": "alice", "password_hash": password_hash, "roles": ["admin"]}]
    with secured(start_gateway, users=users) as client:
        good = client.get("/secured/basic", headers=basic("alice", "s3cret"))
        again = client.get("/secured/basic", headers=basic("alice", "s3cret"))
        wrong = client.get("/secured/basic", headers=basic("alice", "nope"))
        unknown = client.get("/secured/basic", headers=basic("bob", "s3cret"))
        missing = client.get("/secured/basic")
    assert good.status_code == 200 and again.status_code == 200
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == 'Basic realm="gw"'
    assert unknown.status_code == 401 and unknown.json()["detail"] == wrong.json()["detail"]
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Basic realm="gw"'


def test_basic_credentials_are_only_required_to_be_present_without_users(start_gateway) -> None:
    with secured(start_gateway) as client:
        assert client.get("/secured/basic", headers=basic("x", "y")).status_code == 200
        assert client.get("/secured/basic").status_code == 401
