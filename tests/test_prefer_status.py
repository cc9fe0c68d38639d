"""`Prefer: code=NNN` answers with the code asked for, also where the spec documents it as a range or `default`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import GatewayThread, gateway_config

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "ranges", "version": "1"},
    "paths": {
        "/ranged": {"get": {"responses": {
            "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}},
            "4XX": {"description": "client error", "content": {"application/json": {"schema": {
                "type": "object", "required": ["status"], "properties": {"status": {"type": "integer"}}}}}}}}},
        "/defaulted": {"get": {"responses": {
            "200": {"description": "ok"},
            "default": {"description": "any error", "content": {"application/json": {"schema": {
                "type": "object", "required": ["status"], "properties": {"status": {"type": "integer"}}}}}}}}},
    },
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> GatewayThread:
    spec: Path = tmp_path_factory.mktemp("prefer") / "ranges.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    with GatewayThread(gateway_config({"ranges": {"spec": str(spec), "base_path": "/"}})) as gateway:
        yield gateway


@pytest.mark.parametrize(("path", "code"), [("/ranged", 404), ("/ranged", 409), ("/defaulted", 404), ("/defaulted", 503)])
def test_a_preferred_code_documented_as_a_range_or_default_is_sent_as_asked(gateway: GatewayThread, path: str,
                                                                            code: int) -> None:
    with gateway.client() as client:
        response = client.get(path, headers={"Prefer": f"code={code}"})
    assert response.status_code == code
    assert response.json()["status"] == code  # the generated body says the status it is sent with


def test_a_preferred_code_outside_the_documented_range_is_refused(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        assert client.get("/ranged", headers={"Prefer": "code=503"}).status_code == 422
