"""One check per security scheme kind: find the credential where the scheme says, then verify it.

Like Prism, a credential is at least required to be present. Where the gateway has something to
check it with, it is verified too: bearer/OAuth2/OpenID Connect tokens with `auth.jwt`, API keys
with `auth.api_keys[scheme]`, basic credentials with `auth.users`. A check answers the verified
`Identity`, None when presence was all it could check, or raises (`Missing`, or a 401/503 Problem).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any, Protocol

from ..core.exchange import Exchange, Identity
from ..core.problems import Problem
from ..settings.policy_settings import AuthUser
from . import passwords
from .jwks import KeysUnavailable
from .problems import invalid_credentials, invalid_token
from .revocations import Revocations
from .tokens import TokenRejected, TokenVerifier, granted, roles_of

BASIC_CACHE_SECONDS = 300.0
BASIC_CACHE_SIZE = 1000


class Missing(Exception):
    """No credential for the scheme; `challenge` is the WWW-Authenticate scheme to offer ("" for none)."""

    def __init__(self, where: str, challenge: str = "") -> None:
        self.where, self.challenge = where, challenge
        super().__init__(where)


class SchemeCheck(Protocol):
    name: str
    challenge: str

    async def admit(self, exchange: Exchange) -> Identity | None: ...


def authorization(exchange: Exchange, scheme: str) -> str | None:
    """The credentials of an `Authorization: <scheme> <credentials>` header, or None."""
    value = exchange.headers.get("authorization")
    if not value:
        return None
    kind, _, credentials = value.strip().partition(" ")
    if kind.lower() != scheme:
        return None
    return credentials.strip() or None


@dataclass
class TokenScheme:
    """http bearer, oauth2, openIdConnect: `Authorization: Bearer <JWT>`."""

    name: str
    verifier: TokenVerifier | None
    revocations: Revocations | None
    challenge: str = "Bearer"

    async def admit(self, exchange: Exchange) -> Identity | None:
        token = authorization(exchange, "bearer")
        if token is None:
            raise Missing("a bearer token (Authorization: Bearer ...)", "Bearer")
        if self.verifier is None:
            return None
        try:
            claims = await self.verifier.verify(token)
        except TokenRejected as exc:
            raise invalid_token(str(exc)) from None
        except KeysUnavailable as exc:
            raise Problem(503, detail=f"tokens cannot be checked now: {exc}", title="Signing keys unavailable",
                          slug="signing-keys-unavailable", headers={"Retry-After": "5"}) from None
        if self.revocations is not None:
            await self.revocations.check(claims)
        return Identity(str(claims.get("sub", "")), roles_of(claims), granted(claims), claims, self.name)


@dataclass
class ApiKeyScheme:
    """apiKey in a header, query parameter or cookie; checked against `auth.api_keys[name]` when given."""

    name: str
    location: str  # header | query | cookie
    param: str
    digests: frozenset[str] | None  # sha256 of each accepted key; None: presence only
    challenge: str = ""

    async def admit(self, exchange: Exchange) -> Identity | None:
        key = self._find(exchange)
        if not key:
            raise Missing(f"an API key ({self.location} {self.param})")
        if self.digests is None:
            return None
        digest = hashlib.sha256(key.encode()).hexdigest()
        if digest not in self.digests:  # compares digests, so timing says nothing about the key
            raise invalid_credentials(f"the API key in {self.location} {self.param} is not valid")
        return Identity(f"apikey:{self.name}:{digest[:12]}", scheme=self.name)

    def _find(self, exchange: Exchange) -> str | None:
        if self.location == "header":
            return exchange.headers.get(self.param)
        if self.location == "query":
            return exchange.query.get(self.param)
        cookie = SimpleCookie()
        try:
            cookie.load(exchange.headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header holds no usable key
            return None
        morsel = cookie.get(self.param)
        return morsel.value if morsel else None


@dataclass
class BasicScheme:
    """http basic; checked against `auth.users` when given (successes cached briefly: hashing is slow)."""

    name: str
    users: dict[str, AuthUser] | None
    challenge: str = "Basic"

    def __post_init__(self) -> None:
        self._ok: dict[str, float] = {}
        users = list((self.users or {}).values())
        self._dummy = users[0].password_hash if users else ""

    async def admit(self, exchange: Exchange) -> Identity | None:
        encoded = authorization(exchange, "basic")
        if encoded is None:
            raise Missing("basic credentials (Authorization: Basic ...)", "Basic")
        if self.users is None:
            return None
        username, password = _decode_basic(encoded)
        user = self.users.get(username)
        if user is None:
            await passwords.check(password, self._dummy)  # as slow as for a known user
        if user is None or not await self._matches(user, password):
            raise invalid_credentials("wrong username or password", "Basic")
        return Identity(user.username, frozenset(user.roles), frozenset(user.roles), {"sub": user.username}, self.name)

    async def _matches(self, user: AuthUser, password: str) -> bool:
        key = hashlib.sha256(f"{user.username}\0{password}\0{user.password_hash}".encode()).hexdigest()
        if self._ok.get(key, 0) > time.monotonic():
            return True
        if not await passwords.check(password, user.password_hash):
            return False
        if len(self._ok) >= BASIC_CACHE_SIZE:
            self._ok.pop(next(iter(self._ok)))
        self._ok[key] = time.monotonic() + BASIC_CACHE_SECONDS
        return True


def _decode_basic(encoded: str) -> tuple[str, str]:
    try:
        username, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise invalid_credentials("basic credentials are not valid base64 of username:password", "Basic") from None
    if not sep:
        raise invalid_credentials("basic credentials are not username:password", "Basic")
    return username, password


@dataclass
class PresenceScheme:
    """Any other http scheme (digest, ...): an Authorization header of that scheme must be there."""

    name: str
    scheme: str
    challenge: str = ""

    async def admit(self, exchange: Exchange) -> Identity | None:
        if authorization(exchange, self.scheme.lower()) is None:
            raise Missing(f"Authorization: {self.scheme} credentials", self.scheme.capitalize())
        return None


def scheme_kind(definition: dict[str, Any]) -> str:
    """token | basic | apikey | http | other, for an OpenAPI 3 or Swagger 2 security scheme."""
    kind = str(definition.get("type", "")).lower()
    if kind in ("oauth2", "openidconnect"):
        return "token"
    if kind == "basic":
        return "basic"
    if kind == "apikey":
        return "apikey"
    if kind == "http":
        scheme = str(definition.get("scheme", "")).lower()
        return {"bearer": "token", "basic": "basic"}.get(scheme, "http")
    return "other"
