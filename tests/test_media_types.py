"""Stub answers in every media type a spec declares, and request bodies beyond JSON."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import TEST_SPECS, GatewayThread


@pytest.fixture(scope="module")
def media() -> GatewayThread:
    from tests.conftest import gateway_config

    with GatewayThread(gateway_config({"media": {"spec": str(TEST_SPECS / "media.yaml"), "base_path": "/"}})) as gateway:
        yield gateway


@pytest.fixture
def client(media: GatewayThread) -> httpx.Client:
    with media.client() as client:
        yield client


def test_text_plain_example(client: httpx.Client) -> None:
    response = client.get("/greeting")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "hello there"


def test_text_plain_generated_honours_the_schema(client: httpx.Client) -> None:
    response = client.get("/motd")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert len(response.text) >= 5


def test_xml_is_served_from_its_example_when_asked_for(client: httpx.Client) -> None:
    assert client.get("/report").json() == {"total": 3}
    xml = client.get("/report", headers={"Accept": "application/xml"})
    assert xml.headers["content-type"] == "application/xml"
    assert xml.text == "<report><total>3</total></report>"


def test_binary_responses_are_small_valid_files(client: httpx.Client) -> None:
    png = client.get("/avatar")
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    octets = client.get("/download")
    assert octets.headers["content-type"] == "application/octet-stream"
    assert octets.content


def test_declared_response_headers_are_generated_valid(client: httpx.Client) -> None:
    response = client.get("/download")
    assert re.fullmatch(r"attachment; filename=[a-z]+\.bin", response.headers["content-disposition"])
    assert 1 <= int(response.headers["x-rate-limit"]) <= 10


def test_plus_json_types_are_generated_as_json(client: httpx.Client) -> None:
    response = client.get("/problem")
    assert response.headers["content-type"] == "application/vnd.api+json"
    assert isinstance(response.json()["data"], list)


def test_multipart_upload_is_accepted(client: httpx.Client) -> None:
    response = client.post("/uploads", files={"file": ("a.bin", b"\x00\x01", "application/octet-stream")},
                           data={"note": "hi"})
    assert response.status_code == 201
    assert response.json() == {"stored": True}


def test_form_body_is_accepted_and_validated(client: httpx.Client) -> None:
    assert client.post("/login", data={"user": "ada", "remember": "true"}).status_code == 200
    refused = client.post("/login", data={"remember": "true"})
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"


def test_accept_that_nothing_matches_is_406(client: httpx.Client) -> None:
    response = client.get("/avatar", headers={"Accept": "application/json"})
    assert response.status_code == 406
    assert response.json()["available"] == ["image/png"]
