"""The headers every gateway-made answer carries (CORS' Vary, the security headers): the same lines in the same
order whether the CORS step puts the security headers on in its own frame (the default: nothing between the two)
or the two steps run apart (`allowed_hosts` between them)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.conftest import SPECS, GatewayThread

USERS = {"users": {"spec": str(SPECS / "users.yaml")}}
ORIGIN = {"Origin": "http://localhost:3000"}
VARYING = {b"x-request-id", b"date"}  # differ per answer


def heads(client: httpx.Client) -> list[list[tuple[bytes, bytes]]]:
    answers = [
        client.get("/users/users/1"),  # a spec example
        client.get("/users/users/1", headers=ORIGIN),  # read by an allowed origin: access-control lines first
        client.get("/users/nothing", headers=ORIGIN),  # 404 problem
        client.options("/users/users/1", headers={**ORIGIN, "Access-Control-Request-Method": "GET"}),  # preflight
        client.options("/users/users/1", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}),
    ]
    return [[(k, v) for k, v in a.headers.raw if k.lower() not in VARYING] for a in answers]


def test_the_edge_headers_leave_in_one_order_whichever_way_the_steps_are_put_together(
        start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(USERS).client() as client:
        merged = heads(client)
    with start_gateway(USERS, allowed_hosts=["127.0.0.1", "localhost"]).client() as client:
        apart = heads(client)
    assert merged == apart
    names = [k for k, _ in merged[1]]
    assert names.index(b"vary") < names.index(b"access-control-allow-origin") < names.index(b"x-content-type-options")
    assert all(b"referrer-policy" in dict(head) for head in merged)


def test_the_cors_step_alone_still_marks_answers_when_security_headers_are_off(
        start_gateway: Callable[..., GatewayThread]) -> None:
    with start_gateway(USERS, security_headers=False).client() as client:
        answer = client.get("/users/users/1", headers=ORIGIN)
    assert answer.headers["vary"] == "Origin"
    assert answer.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "x-frame-options" not in answer.headers


def test_vary_and_security_headers_see_an_answers_own_in_any_case_every_time() -> None:
    from gw.core.exchange import Response
    from gw.edge.cors import add_vary
    from gw.edge.hardening import SecurityHeaders

    for _ in range(2):  # the second time the names are remembered
        plain = Response(200, [("Content-Type", "application/json")])
        add_vary(plain, "Origin")
        assert plain.headers == [("Content-Type", "application/json"), ("vary", "Origin")]
        own = Response(200, [("VARY", "Accept"), ("x-FRAME-options", "SAMEORIGIN")])
        add_vary(own, "Origin")
        assert own.headers == [("x-FRAME-options", "SAMEORIGIN"), ("vary", "Accept, Origin")]
        SecurityHeaders().amend(_Made(), own)
        names = [name.lower() for name, _ in own.headers]
        assert names.count("x-frame-options") == 1 and "referrer-policy" in names
        starred = Response(200, [("Vary", "*")])
        add_vary(starred, "Origin")
        assert starred.headers == [("Vary", "*")]


class _Made:
    """An exchange whose answer the gateway made (not an upstream's)."""

    def __init__(self) -> None:
        self.source = "example"
        self.notes: dict[str, str] = {}
