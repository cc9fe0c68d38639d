"""What the shared pipeline's cuts (session 9) decided: policies are asked once per operation for the step it needs
(an operation none applies to never calls one) and request headers are read from the server's own pairs in any
case; an answer's headers and the security headers' check read names in any case, as they always have."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gw.app import load_services
from gw.core.exchange import Exchange, Response
from gw.core.pipeline import Next, Step
from gw.edge.hardening import SecurityHeaders
from gw.routing.router import Router
from gw.spec.load import Operation, Service
from tests.conftest import ROOT, gateway_config

TEST_SPECS = ROOT / "tests" / "specs"


class CountingPolicy:
    """A policy that asks something of `getItem` only, and counts how often it is asked and how often it runs."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.ran = 0

    def for_operation(self, service: Service, operation: Operation) -> Step | None:
        self.asked.append(operation.key)
        return self.step if operation.key == "getItem" else None

    async def step(self, exchange: Exchange, call_next: Next) -> Response:
        self.ran += 1
        response = await call_next(exchange)
        response.headers.append(("x-policy", "ran"))
        return response


def routed(router: Router, path: str) -> Response:
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"gw.test")], "client": ("127.0.0.1", 1)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def rest(exchange: Exchange) -> Response:
        return Response(200, [("x-routed", exchange.scope["path"])])

    async def walk() -> Response:
        return await router(Exchange(scope, receive, bodyless=True), rest)

    return asyncio.run(walk())


def test_a_policy_is_asked_once_per_operation_and_runs_only_where_it_applies() -> None:
    config = gateway_config({"secured": {"spec": str(TEST_SPECS / "secured.yaml"), "base_path": "/"}})
    loaded = load_services(config, check_auth=False)
    policy = CountingPolicy()
    router = Router(loaded.services, policies=[policy])
    public = [routed(router, "/public") for _ in range(3)]
    item = [routed(router, "/items/7") for _ in range(3)]
    assert policy.asked == ["getPublic", "getItem"]  # on each operation's first request, never again
    assert policy.ran == 3  # getItem's requests only
    assert [r.header("x-policy") for r in public] == [None] * 3
    assert [r.header("x-policy") for r in item] == ["ran"] * 3
    assert item[0].header("x-routed") == "/items/7"


def test_request_headers_are_found_in_any_case_the_first_value_winning() -> None:
    scope = {"type": "http", "headers": [(b"x-trace", b"first"), (b"accept", b"*/*"), (b"x-trace", b"second"),
                                         (b"x-caf\xe9", b"latin-1 \xe9")]}
    headers = Exchange(scope, None).headers  # type: ignore[arg-type]
    assert headers["X-Trace"] == headers.get("x-trace") == headers.get("X-TRACE") == "first"
    assert "ACCEPT" in headers and "accept" in headers and "prefer" not in headers
    assert headers.get("X-Caf\xe9") == "latin-1 \xe9"  # names and values are latin-1, as starlette reads them
    assert headers.get("x-\u2603") is None and "x-\u2603" not in headers  # a name latin-1 cannot hold is no request's
    with pytest.raises(KeyError):
        headers["x-\u2603"]
    assert headers.get("prefer", "none") == "none"
    assert headers.getlist("x-trace") == ["first", "second"]  # starlette's own readers see the same pairs


def test_an_answers_header_is_read_in_any_case_the_first_one_winning() -> None:
    response = Response(200, [("Content-Type", "text/plain"), ("VARY", "Accept"), ["vary", "Origin"]])  # type: ignore[list-item]
    assert response.header("vary") == response.header("Vary") == "Accept"
    assert response.header("content-type") == "text/plain"
    assert response.header("x-absent") is None


@pytest.mark.parametrize(("own", "expected"), [
    ([], ["X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy"]),
    ([("X-FRAME-options", "SAMEORIGIN")], ["X-FRAME-options", "X-Content-Type-Options", "Content-Security-Policy",
                                           "Referrer-Policy"]),
])
def test_security_headers_never_replace_one_already_set_in_any_case(own: list[tuple[str, str]], expected: list[str]) -> None:
    async def answer(exchange: Exchange) -> Response:
        exchange.source = "example"
        return Response(200, [("content-type", "application/json"), *own])

    exchange = Exchange({"type": "http", "headers": []}, None)  # type: ignore[arg-type]
    response = asyncio.run(SecurityHeaders()(exchange, answer))  # type: ignore[arg-type]
    assert [name for name, _ in response.headers[1:]] == expected
    assert response.header("x-frame-options") == ("SAMEORIGIN" if own else "DENY")
