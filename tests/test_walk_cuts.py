"""What the request walk's cuts (session 7) decided: one reading of a path template for the router and the
WebSocket paths, a request that declares no body is never waited on for one, and header pairs encoded once
at assembly leave exactly as those encoded per answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from gw.core.exchange import Exchange, Response, constant_headers
from gw.routing.table import RouteTable
from gw.spec.load import path_template
from tests.conftest import ROOT, GatewayThread, gateway_config


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayThread]:
    with GatewayThread(gateway_config({"users": {"spec": str(ROOT / "specs" / "users.yaml"), "base_path": "/"}})) as served:
        yield served


def test_a_trailing_encoded_newline_is_no_literal_route(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        assert client.get("/users").status_code == 200
        assert client.get("/users%0A").status_code == 404  # the WebSocket paths' reading too: `/users` is not `/users\n`


def test_the_router_and_the_websocket_paths_read_a_template_alike() -> None:
    pattern = path_template("/rooms/{room}/seats/{seat-no}")
    assert pattern.fullmatch("/rooms/a\nb/seats/7").groups() == ("a\nb", "7")  # type: ignore[union-attr]
    assert pattern.fullmatch("/rooms/a/b/seats/7") is None and pattern.fullmatch("/rooms/a/seats/7\n/") is None
    table = RouteTable([("", [("/rooms", {"GET": "svc:rooms"})])])
    assert table.find("/rooms\n", "GET") == (None, {}, "")
    assert table.find("/rooms", "GET") == ("svc:rooms", {}, "")


def test_a_request_that_declares_no_body_reads_none() -> None:
    async def receive() -> dict[str, Any]:
        raise AssertionError("a bodyless request's body is not awaited for")

    exchange = Exchange({"type": "http", "headers": []}, receive, bodyless=True)
    assert asyncio.run(exchange.body()) == b"" and exchange.body_if_read == b""


def test_header_pairs_encoded_at_assembly_leave_as_any_other() -> None:
    def sent(headers: list[tuple[str, str]]) -> list[Any]:
        messages: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        asyncio.run(Response(200, list(headers), b"{}").send(send))
        return messages[0]["headers"]

    headers = [("X-Walk-Constant", "Same Every Time"), ["x-as-list", "kept"], ("x-other", "v")]
    before = sent(headers)  # type: ignore[arg-type]
    constant_headers([("X-Walk-Constant", "Same Every Time"), ("content-length", "3")])  # a length is never kept
    assert sent(headers) == before == [(b"x-walk-constant", b"Same Every Time"), (b"x-as-list", b"kept"),  # type: ignore[arg-type]
                                       (b"x-other", b"v"), (b"content-length", b"2")]
    assert sent([("content-length", "3")]) == [(b"content-length", b"3")]
