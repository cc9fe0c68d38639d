"""What a real upstream sees of the caller: forward, strip, a static service token, a minted token; X-Request-ID."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
import pytest

from gw.app import load_services
from tests.conftest import TEST_SPECS, GatewayThread, gateway_config, mint_token, run_gw
from tests.upstream import UpstreamServer

SECURED = str(TEST_SPECS / "secured.yaml")
SECRET = "an-upstream-secret-of-at-least-32b"


def caller_token(**claims: Any) -> str:
    return mint_token(SECRET, **{"roles": ["admin"], **claims})


def live(start: Callable[..., GatewayThread], upstream: UpstreamServer, upstream_auth: Any = None) -> GatewayThread:
    service: dict[str, Any] = {"spec": SECURED, "mode": "live", "upstream": upstream.url}
    if upstream_auth is not None:
        service["upstream_auth"] = upstream_auth
    return start({"secured": service}, auth={"jwt": {"secret": SECRET}})


def seen_upstream(gateway: GatewayThread, path: str = "/secured/items/1", **headers: str) -> dict[str, str]:
    with gateway.client() as client:
        response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["x-gw-source"] == "live"
    return response.json()["headers"]


def test_forward_is_the_default_and_passes_the_clients_authorization(start_gateway, make_upstream) -> None:
    sent = caller_token()
    headers = seen_upstream(live(start_gateway, make_upstream()), Authorization=f"Bearer {sent}")
    assert headers["authorization"] == f"Bearer {sent}"


def test_strip_keeps_the_clients_authorization_from_the_upstream(start_gateway, make_upstream) -> None:
    headers = seen_upstream(live(start_gateway, make_upstream(), "strip"), Authorization=f"Bearer {caller_token()}")
    assert "authorization" not in headers


def test_a_static_bearer_token_from_the_environment_replaces_the_clients(start_gateway, make_upstream,
                                                                         monkeypatch) -> None:
    monkeypatch.setenv("GW_TEST_SERVICE_TOKEN", "svc-token-42")
    gateway = live(start_gateway, make_upstream(), {"bearer": "${GW_TEST_SERVICE_TOKEN}"})
    headers = seen_upstream(gateway, Authorization=f"Bearer {caller_token()}")
    assert headers["authorization"] == "Bearer svc-token-42"


def test_an_unset_environment_token_is_a_one_line_error_at_start(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("GW_TEST_UNSET_TOKEN", raising=False)
    config = gateway_config({"secured": {"spec": SECURED, "upstream_auth": {"bearer": "${GW_TEST_UNSET_TOKEN}"}}})
    (error,) = [str(e) for e in load_services(config).errors]
    assert error.endswith(": services.secured.upstream_auth.bearer: environment variable GW_TEST_UNSET_TOKEN is not set")
    (tmp_path / "gateway.yaml").write_text(
        f"services:\n  secured:\n    spec: {SECURED}\n    upstream_auth: {{bearer: '${{GW_TEST_UNSET_TOKEN}}'}}\n")
    result = run_gw("serve", "--port", "1", cwd=tmp_path)
    assert result.returncode == 1
    assert "GW_TEST_UNSET_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_mint_sends_a_short_lived_gateway_token_with_the_callers_sub_and_roles(start_gateway, make_upstream) -> None:
    gateway = live(start_gateway, make_upstream(), "mint")
    sent = caller_token(sub="alice", roles=["admin", "ops"])
    headers = seen_upstream(gateway, Authorization=f"Bearer {sent}")
    scheme, minted = headers["authorization"].split(" ", 1)
    assert scheme == "Bearer" and minted != sent
    claims = jwt.decode(minted, SECRET, algorithms=["HS256"], audience="secured", issuer="gw")
    assert claims["sub"] == "alice" and claims["roles"] == ["admin", "ops"]
    assert claims["exp"] - claims["iat"] == 60


def test_mint_sends_no_token_for_an_anonymous_caller(start_gateway, make_upstream) -> None:
    headers = seen_upstream(live(start_gateway, make_upstream(), "mint"), path="/secured/public",
                            Authorization="Bearer not-checked-on-a-public-route")
    assert "authorization" not in headers


def test_mint_without_a_signing_key_is_a_load_error() -> None:
    config = gateway_config({"secured": {"spec": SECURED, "upstream_auth": "mint"}})
    (error,) = [str(e) for e in load_services(config).errors]
    assert error.endswith(": services.secured.upstream_auth: mint signs tokens: set auth.jwt.secret or auth.jwt.private_key")


@pytest.mark.parametrize("given", ["req-from-client-1", None])
def test_the_request_id_reaches_the_upstream(start_gateway, make_upstream, given: str | None) -> None:
    gateway = live(start_gateway, make_upstream())
    headers = {"Authorization": f"Bearer {caller_token()}", **({"X-Request-ID": given} if given else {})}
    with gateway.client() as client:
        response = client.get("/secured/items/1", headers=headers)
    seen = response.json()["headers"]["x-request-id"]
    assert seen == response.headers["x-request-id"]
    if given:
        assert seen == given
