"""Published specs' quirks that must not make the gateway refuse good requests or send bad answers."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TEST_SPECS, GatewayThread, gateway_config


@pytest.fixture(scope="module")
def client() -> httpx.Client:
    config = gateway_config({"quirks": {"spec": str(TEST_SPECS / "quirks.yaml"), "base_path": "/"}})
    with GatewayThread(config) as gateway, gateway.client() as client:
        yield client


def test_a_value_matching_several_oneof_branches_is_accepted(client: httpx.Client) -> None:
    assert client.get("/videos/9c9de5e8-0a1e-484a-b099-e80766180a6d").status_code == 200
    assert client.get("/videos/42").status_code == 200


def test_accept_content_type_and_authorization_header_parameters_are_ignored(client: httpx.Client) -> None:
    assert client.get("/videos/1", headers={"Accept": "*/*"}).status_code == 200


def test_read_only_schemas_do_not_refuse_parameters(client: httpx.Client) -> None:
    assert client.get("/videos/1", params={"key": "3b:16:bf"}).status_code == 200


def test_multipart_with_a_file_and_typed_fields(client: httpx.Client) -> None:
    ok = client.post("/playlists", data={"name": "mix", "privacy": "2", "tags": ["a", "b"]},
                     files={"thumbnail": ("t.png", b"\x89PNG", "image/png")})
    assert ok.status_code == 201
    refused = client.post("/playlists", data={"name": "mix", "privacy": "9"}, files={"thumbnail": ("t.png", b"x")})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["pointer"] == "/privacy"


def test_an_informational_status_is_never_the_answer(client: httpx.Client) -> None:
    response = client.get("/status/continue")
    assert response.status_code == 204
    assert client.get("/status/continue", headers={"Prefer": "code=100"}).status_code == 422
