"""The built-in login under /_gw/auth/: login, refresh, logout, me.

    POST /_gw/auth/login    {"username", "password"}  -> access + refresh token
    POST /_gw/auth/refresh  {"refresh_token"}         -> new access token, rotated refresh token
    POST /_gw/auth/logout   Bearer access (+ optional {"refresh_token"}) -> 204, both revoked
    GET  /_gw/auth/me       Bearer access                -> the token's claims
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ...auth.problems import missing_credentials
from ...auth.schemes import authorization
from ...auth.sessions import Sessions
from ...auth.setup import Auth
from ...core.exchange import Exchange, Response
from ...core.pipeline import Next
from ...core.problems import Problem

PREFIX = "/_gw/auth/"
Handler = Callable[[Exchange], Awaitable[Response]]


class AuthEndpoints:
    """Answers /_gw/auth/...; everything else walks on."""

    def __init__(self, auth: Auth) -> None:
        self.auth = auth
        self.bearer = auth.bearer
        self.routes: dict[str, tuple[str, Handler]] = {
            "login": ("POST", self.login), "refresh": ("POST", self.refresh),
            "logout": ("POST", self.logout), "me": ("GET", self.me),
        }

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        if not exchange.path.startswith(PREFIX):
            return await call_next(exchange)
        route = self.routes.get(exchange.path[len(PREFIX):].rstrip("/"))
        if route is None:
            raise Problem(404, detail=f"the gateway has no endpoint {exchange.path}")
        method, handler = route
        if exchange.method != method and not (method == "GET" and exchange.method == "HEAD"):
            raise Problem(405, detail=f"{exchange.method} is not allowed on {exchange.path}; allowed: {method}",
                          headers={"Allow": method})
        exchange.source = "gateway"
        return await handler(exchange)

    async def login(self, exchange: Exchange) -> Response:
        sessions = self._sessions()
        body = await _json_body(exchange, ("username", "password"))
        tokens = await sessions.login(body["username"], body["password"], exchange.client_ip)
        return _json(200, tokens.body())

    async def refresh(self, exchange: Exchange) -> Response:
        sessions = self._sessions()
        body = await _json_body(exchange, ("refresh_token",))
        return _json(200, (await sessions.refresh(body["refresh_token"])).body())

    async def logout(self, exchange: Exchange) -> Response:
        sessions = self._sessions()
        identity = await self._caller(exchange)
        raw = await exchange.body()
        body = await _json_body(exchange, ()) if raw.strip() else {}
        refresh_token = body.get("refresh_token")
        if refresh_token is not None and not isinstance(refresh_token, str):
            raise Problem(400, detail="refresh_token must be a string", slug="bad-request-body")
        await sessions.logout(identity, refresh_token)
        return Response(204, [("cache-control", "no-store")])

    async def me(self, exchange: Exchange) -> Response:
        return _json(200, await self._caller(exchange))

    async def _caller(self, exchange: Exchange) -> dict[str, Any]:
        """The claims of the request's verified access token (401 otherwise)."""
        if self.auth.verifier is None:
            raise Problem(404, detail="no token verification is configured: set auth.jwt", slug="auth-not-configured")
        if authorization(exchange, "bearer") is None:
            raise missing_credentials("send the access token as Authorization: Bearer ...")
        identity = await self.bearer.admit(exchange)
        assert identity is not None
        return identity.claims

    def _sessions(self) -> Sessions:
        if self.auth.sessions is None:
            raise Problem(404, detail="the built-in login is off: configure auth.users and auth.jwt",
                          slug="auth-not-configured")
        return self.auth.sessions


async def _json_body(exchange: Exchange, fields: tuple[str, ...]) -> dict[str, Any]:
    """The body as a JSON object whose `fields` are strings; 400 problem+json otherwise."""
    try:
        body = await exchange.json()
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, detail="the body must be a JSON object", slug="bad-request-body") from None
    if not isinstance(body, dict):
        raise Problem(400, detail="the body must be a JSON object", slug="bad-request-body")
    wrong = [f for f in fields if not isinstance(body.get(f), str) or not body[f]]
    if wrong:
        raise Problem(400, detail=f"the body needs {' and '.join(wrong)} as non-empty strings", slug="bad-request-body")
    return body


def _json(status: int, body: dict[str, Any]) -> Response:
    response = Response.json(status, body)
    response.headers.append(("cache-control", "no-store"))
    return response
