"""A documented refusal's spec-only parts (schema, validator, example, headers) are worked out once per status
and media type (mocker/error_answers.py `_plan`); what the request did wrong is written into each answer anew.
`Accept: */*` (or none) takes the spec's first media type, as the full negotiation decides."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gw.mocker.negotiator import choose_media
from tests.conftest import TEST_SPECS, GatewayThread, gateway_config

SPEC = str(TEST_SPECS / "error_shape.yaml")


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with GatewayThread(gateway_config({"shapes": {"spec": SPEC, "base_path": "/"}})) as served, served.client() as opened:
        yield opened


def test_each_refusal_of_one_kind_says_its_own_failure(client: httpx.Client) -> None:
    answers = [client.post("/widgets", json=body) for body in ({"name": "x"}, {}, {"name": "y"})]
    assert [a.status_code for a in answers] == [400, 400, 400]
    messages = [a.json()["error"]["message"] for a in answers]
    assert "too short" in messages[0] and "name" in messages[1] and "too short" not in messages[1]
    assert [a.headers["x-error-id"] for a in answers] == ["err-1"] * 3  # the documented header, each time
    assert answers[0].content == answers[2].content.replace(b"'y'", b"'x'")


@pytest.mark.parametrize("content", [{"application/json": {}}, {"application/xml": {}, "application/json": {}},
                                     {"text/plain; charset=utf-8": {}, "*/*": {}}])
@pytest.mark.parametrize("accept", [None, "", "*/*"])
def test_any_type_takes_the_specs_first_as_the_full_negotiation_does(content: dict[str, Any], accept: str | None) -> None:
    full = choose_media(content, "*/*;q=1", None)  # type: ignore[arg-type]  # the ranges read one by one
    assert choose_media(content, accept, None) == full == next(iter(content))  # type: ignore[arg-type]
