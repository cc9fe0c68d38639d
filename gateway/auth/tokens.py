"""JWTs: verified (pinned algorithms, issuer, audience, leeway; short cache) and signed by the gateway.

Verification is the hot path of every protected request, so a token that verified once is kept
(bounded, by its exact text) until it expires or for `CACHE_SECONDS`, whichever is first; what a
cache hit skips is the signature and claim checks, never the expiry or the revocation check.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..settings.policy_settings import JwtSettings
from .jwks import JwksKeys
from .keys import SigningKey, VerifyingKey

ACCESS, REFRESH = "access", "refresh"
TOKEN_USE = "token_use"  # the claim telling access tokens from refresh tokens
CACHE_SIZE = 10_000
CACHE_SECONDS = 300.0


class TokenRejected(Exception):
    """A token that must not be accepted; the text is the RFC 6750 error_description."""


def granted(claims: dict[str, Any]) -> frozenset[str]:
    """Everything a token grants: its `scope` (space separated), `scp` and `roles` claims."""
    names: set[str] = set()
    for claim in ("scope", "scp", "roles"):
        value = claims.get(claim)
        if isinstance(value, str):
            names.update(value.split())
        elif isinstance(value, list):
            names.update(str(v) for v in value)
    return frozenset(names)


def roles_of(claims: dict[str, Any]) -> frozenset[str]:
    value = claims.get("roles")
    if isinstance(value, str):
        return frozenset(value.split())
    return frozenset(str(v) for v in value) if isinstance(value, list) else frozenset()


@dataclass
class _Verified:
    claims: dict[str, Any]
    keep_until: float


class TokenVerifier:
    """Checks bearer tokens against the configured key (or JWKS), issuer, audience and leeway."""

    def __init__(self, settings: JwtSettings, static: VerifyingKey | None, jwks: JwksKeys | None) -> None:
        self.static, self.jwks = static, jwks
        self.leeway = settings.leeway
        self._kwargs: dict[str, Any] = {"leeway": settings.leeway}
        if settings.issuer:
            self._kwargs["issuer"] = settings.issuer
        if settings.audience:
            self._kwargs["audience"] = settings.audience
        self._options = {"verify_aud": bool(settings.audience), "require": ["exp"]}
        self._cache: dict[str, _Verified] = {}

    async def verify(self, token: str, use: str = ACCESS) -> dict[str, Any]:
        """The token's claims; TokenRejected (why, for the client) when it must not pass."""
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None and now < cached.keep_until:
            claims = cached.claims
        else:
            claims = await self._decode(token)
            exp = float(claims["exp"])
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[token] = _Verified(claims, min(exp + self.leeway, now + CACHE_SECONDS))
        if now > float(claims["exp"]) + self.leeway:
            self._cache.pop(token, None)
            raise TokenRejected("token expired")
        if claims.get(TOKEN_USE, ACCESS) != use:
            raise TokenRejected(f"a {claims.get(TOKEN_USE)} token cannot be used as an {use} token"
                                if use == ACCESS else f"not a {use} token")
        return claims

    async def _decode(self, token: str) -> dict[str, Any]:
        import jwt  # PyJWT (and cryptography under it) on first use: most gateways check no token

        if self.jwks is not None:
            try:
                key, algorithms = await self.jwks.key_for(token)
            except jwt.InvalidTokenError as exc:
                raise TokenRejected(str(exc)) from None
        else:
            assert self.static is not None
            key, algorithms = self.static.key, self.static.algorithms
        try:
            return jwt.decode(token, key, algorithms=list(algorithms), options=self._options, **self._kwargs)
        except jwt.ExpiredSignatureError:
            raise TokenRejected("token expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("token is from another issuer") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("token is not valid yet") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"token has no {exc.claim} claim") from None
        except jwt.InvalidAlgorithmError:
            raise TokenRejected("token is signed with an algorithm this gateway does not accept") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("token signature does not verify") from None
        except (jwt.InvalidTokenError, jwt.InvalidKeyError):
            raise TokenRejected("token is malformed or not signed with an accepted key") from None


class TokenIssuer:
    """Signs the gateway's own tokens: login access and refresh tokens, minted upstream tokens, `gw token`."""

    def __init__(self, settings: JwtSettings, key: SigningKey) -> None:
        self.key = key
        self.issuer, self.audience = settings.issuer, settings.audience
        self.access_ttl, self.refresh_ttl = settings.access_ttl, settings.refresh_ttl

    def sign(self, claims: dict[str, Any], ttl: float, *, issuer: str | None = None,
             audience: str | None = None) -> tuple[str, dict[str, Any]]:
        """A token with `claims` plus iat, exp, jti (and iss/aud as configured or given)."""
        now = int(time.time())
        full = {**claims, "iat": now, "exp": now + max(1, int(ttl)), "jti": uuid.uuid4().hex}
        iss = self.issuer if issuer is None else issuer
        aud = self.audience if audience is None else audience
        if iss:
            full["iss"] = iss
        if aud:
            full["aud"] = aud
        import jwt

        return jwt.encode(full, self.key.key, algorithm=self.key.algorithm), full

    def access(self, subject: str, roles: Iterable[str], scope: str = "", family: str = "",
               ttl: float | None = None) -> tuple[str, dict[str, Any]]:
        claims: dict[str, Any] = {"sub": subject, "roles": sorted(roles), TOKEN_USE: ACCESS}
        if scope:
            claims["scope"] = scope
        if family:
            claims["fam"] = claims["sid"] = family  # `sid`: the session id revocation checks (fam: older readers)
        return self.sign(claims, self.access_ttl if ttl is None else ttl)

    def refresh(self, subject: str, family: str) -> tuple[str, dict[str, Any]]:
        return self.sign({"sub": subject, "fam": family, TOKEN_USE: REFRESH}, self.refresh_ttl)
