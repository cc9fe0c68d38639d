"""What an upstream sees as the caller's credentials (`upstream_auth` per service).

- `forward` (default): the client's Authorization header goes through unchanged;
- `strip`: no Authorization header reaches the upstream;
- `{bearer: TOKEN}`: a static service token (`${ENV}` expanded at start-up) replaces the client's;
- `mint`: a short-lived token signed by the gateway (iss "gw", aud = the service) carrying the
  verified caller's sub and roles; none when the caller is anonymous. Minted tokens are reused
  while they have more than half their life left, so signing is not paid per request.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..core.exchange import Exchange
from ..settings.config import ConfigError, ServiceConfig
from ..settings.env_refs import expand_env
from ..settings.origin import SettingsOrigin
from ..settings.policy_settings import JwtSettings
from .keys import KeyMaterialError, signing_key
from .tokens import TokenIssuer

MINT_TTL = 60.0
MINT_ISSUER = "gw"
CACHE_SIZE = 10_000
KEEP = object()  # forward: leave the client's header as it is


class UpstreamIdentity:
    """The Authorization header to send upstream, per service."""

    def __init__(self, services: Mapping[str, ServiceConfig], jwt: JwtSettings, origin: SettingsOrigin) -> None:
        """Raises ConfigError for an unset `${ENV}` or `mint` without a signing key (`auth.jwt`'s, read from `origin.root`)."""
        self.modes: dict[str, Any] = {}
        self.issuer: TokenIssuer | None = None
        for name, service in services.items():
            setting, key = service.upstream_auth, f"services.{name}.upstream_auth"
            if isinstance(setting, dict):
                self.modes[name] = "Bearer " + expand_env(setting["bearer"], origin.source, f"{key}.bearer")
            elif setting == "mint":
                self.issuer = self.issuer or _mint_issuer(jwt, origin, key)
                self.modes[name] = "mint"
            else:
                self.modes[name] = setting
        self._minted: dict[tuple[str, str, tuple[str, ...]], tuple[str, float]] = {}

    def rewrites(self, service: str) -> bool:
        """Whether the service's setting changes the Authorization header at all (`forward` leaves it)."""
        return self.modes.get(service, "forward") != "forward"

    def apply(self, exchange: Exchange, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """`headers` (bound upstream) with the Authorization header the service's setting asks for."""
        assert exchange.service is not None
        return rewrite(headers, self.authorization(exchange, exchange.service.name))

    def authorization(self, exchange: Exchange, service: str) -> Any:
        """The header value to send, None for none, or KEEP for the client's own."""
        mode = self.modes.get(service, "forward")
        if mode == "forward":
            return KEEP
        if mode == "strip":
            return None
        if mode == "mint":
            return self._mint(exchange, service)
        return mode

    def _mint(self, exchange: Exchange, service: str) -> str | None:
        identity = exchange.identity
        if identity is None or self.issuer is None:
            return None
        key = (service, identity.subject, tuple(sorted(identity.roles)))
        cached = self._minted.get(key)
        if cached is not None and cached[1] - time.time() > MINT_TTL / 2:
            return cached[0]
        claims = {"sub": identity.subject, "roles": list(key[2])}
        token, full = self.issuer.sign(claims, MINT_TTL, issuer=MINT_ISSUER, audience=service)
        if len(self._minted) >= CACHE_SIZE:
            self._minted.clear()
        self._minted[key] = (f"Bearer {token}", float(full["exp"]))
        return f"Bearer {token}"


def _mint_issuer(jwt: JwtSettings, origin: SettingsOrigin, key: str) -> TokenIssuer:
    try:
        signer = signing_key(jwt, origin.root)
    except KeyMaterialError as exc:
        raise ConfigError(origin.source, f"auth.jwt.{exc.key}", exc.reason) from None
    if signer is None:
        raise ConfigError(origin.source, key, "mint signs tokens: set auth.jwt.secret or auth.jwt.private_key")
    return TokenIssuer(jwt, signer)


def rewrite(headers: list[tuple[str, str]], value: Any) -> list[tuple[str, str]]:
    """`headers` with the Authorization header as `authorization()` decided."""
    if value is KEEP:
        return headers
    kept = [(k, v) for k, v in headers if k.lower() != "authorization"]
    if value is not None:
        kept.append(("authorization", value))
    return kept
