"""What a request's Content-Type means for an operation's body (charset, validator, form or JSON, 415) is worked
out once per header value (validation/request.py `_media_for`): each request is still judged in full, and a
refused type is refused every time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import GatewayThread, gateway_config

SPEC = str(Path(__file__).resolve().parent.parent / "specs" / "users.yaml")
GOOD = {"username": "alice_1", "email": "alice@example.com", "password": "s3cretpass"}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with GatewayThread(gateway_config({"users": {"spec": SPEC, "base_path": "/"}})) as served, served.client() as opened:
        yield opened


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_the_same_content_type_judges_each_body_anew(client: httpx.Client, content_type: str) -> None:
    for body, status in ((GOOD, 201), ({"username": "a"}, 400), (GOOD, 201), ({**GOOD, "email": 5}, 400)):
        answer = client.post("/register", content=json.dumps(body), headers={"content-type": content_type})
        assert answer.status_code == status, answer.text
    refused = client.post("/register", content=b"{", headers={"content-type": content_type})
    assert refused.status_code == 400 and "not valid JSON" in refused.text


def test_a_type_the_operation_does_not_take_is_refused_every_time(client: httpx.Client) -> None:
    for _ in range(3):
        answer = client.post("/register", content=b"name=x", headers={"content-type": "text/plain"})
        assert answer.status_code == 415
        assert "Invalid Content-type (text/plain)" in answer.text
