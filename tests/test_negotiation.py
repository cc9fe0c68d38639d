"""Content negotiation by RFC 9110: quality values, wildcards, the most specific range deciding,
media-type parameters; no Accept gives the spec's first declared type; 406 only when nothing fits."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import TEST_SPECS, GatewayThread, gateway_config

CSV = "text/csv; charset=utf-8"
JSON = "application/json"
XML = "application/xml"


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayThread]:
    with GatewayThread(gateway_config({"neg": {"spec": str(TEST_SPECS / "negotiation.yaml"), "base_path": "/"}})) as served:
        yield served


@pytest.fixture
def client(gateway: GatewayThread) -> Iterator[httpx.Client]:
    with gateway.client() as http:
        yield http


def _media(client: httpx.Client, path: str, accept: str | None) -> str:
    headers = {"Accept": accept} if accept is not None else {}
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.headers["content-type"]


@pytest.mark.parametrize("accept", [None, "*/*", "", "*", "garbage", "text/*"])
def test_no_preference_gives_the_first_declared_type(client: httpx.Client, accept: str | None) -> None:
    assert _media(client, "/ordered", accept) == CSV


def test_the_first_declared_type_is_served_as_written(client: httpx.Client) -> None:
    response = client.get("/ordered")
    assert response.text == "a,b\n1,2\n"


@pytest.mark.parametrize(("accept", "expected"), [
    ("application/json", JSON),
    ("application/xml", XML),
    ("application/json;q=0.5, text/csv;q=0.1", JSON),              # the higher quality wins
    ("text/csv;q=0.2, application/xml;q=0.3, */*;q=0.1", XML),
    ("*/*, text/csv;q=0", JSON),                                    # q=0 refuses even what */* admits
    ("text/*;q=0, */*", JSON),
    ("application/*;q=0.1, application/xml", XML),                  # the most specific range decides xml's quality
    ("application/*;q=0.9, application/json;q=0.2", XML),           # ... and json's: xml (0.9) beats json (0.2)
    ("application/json, */*", JSON),                                # equal quality: the more specific match
    ("application/json, text/plain, */*", JSON),                    # what axios sends
    ("application/xml, application/json", XML),                     # equal in every way: the client's order
    ("application/json; charset=utf-8", JSON),                      # a parameter the type does not state
    ("APPLICATION/JSON", JSON),                                      # media types are case-insensitive
    ("application/json;q=2", JSON),                                  # q above 1 is 1
])
def test_accept_is_weighed_by_quality_and_specificity(client: httpx.Client, accept: str, expected: str) -> None:
    assert _media(client, "/ordered", accept) == expected


def test_a_json_first_spec_answers_json_by_default(client: httpx.Client) -> None:
    assert _media(client, "/json-first", None) == JSON
    assert _media(client, "/json-first", "text/plain") == "text/plain; charset=utf-8"


@pytest.mark.parametrize("accept", ["image/png", "text/plain;q=0", "text/*;q=0, */*", "text/plain;q=x", "text/html"])
def test_406_only_when_nothing_declared_is_acceptable(client: httpx.Client, accept: str) -> None:
    response = client.get("/text", headers={"Accept": accept})
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 406
    assert body["available"] == ["text/plain"]


def test_refusing_every_declared_type_is_406(client: httpx.Client) -> None:
    response = client.get("/ordered", headers={"Accept": "text/csv;q=0, application/*;q=0"})
    assert response.status_code == 406
    assert response.json()["status"] == 406


def test_a_text_example_is_text_not_a_json_string(client: httpx.Client) -> None:
    response = client.get("/text")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "hello there"
    assert client.get("/number-as-text").text == "42"


def test_a_media_type_parameter_picks_the_declared_version(client: httpx.Client) -> None:
    v2 = client.get("/versions", headers={"Accept": "application/vnd.api+json; version=2"})
    assert v2.headers["content-type"] == "application/vnd.api+json; version=2"
    assert v2.json() == {"v": 2}
    assert client.get("/versions", headers={"Accept": "application/vnd.api+json"}).json() == {"v": 1}
    assert client.get("/versions").json() == {"v": 1}
    assert client.get("/versions", headers={"Accept": "application/vnd.api+json; version=3"}).status_code == 406


def test_a_response_without_a_body_is_never_406(client: httpx.Client) -> None:
    assert client.delete("/empty", headers={"Accept": "image/png"}).status_code == 204
