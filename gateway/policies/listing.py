"""The gateway-wide policies in effect, one line each (`gw lint` prints them under the services)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.wording import counted

if TYPE_CHECKING:
    from ..settings.config import GatewayConfig


def policy_lines(config: GatewayConfig) -> list[str]:
    """Auth, CORS, rate limits, shared state and admin access as configured: what a reviewer checks first."""
    jwt = config.auth.jwt
    keys = "HS256 secret" if jwt.secret else "public key" if jwt.public_key else f"JWKS {jwt.jwks_url}" if jwt.jwks_url else \
        "none (tokens checked for presence only)"
    cors = ", ".join(config.cors.origins) if config.cors.enabled else "off"
    return [f"auth: require {config.auth.require}; keys: {keys}; {counted(len(config.auth.users), 'login user')}",
            f"cors: {cors}" + ("; credentials" if config.cors.enabled and config.cors.credentials else ""),
            f"rate limit: {config.rate_limit.describe()}" + "".join(
                f"; {n}: {s.rate_limit.describe()}" for n, s in config.services.items() if s.rate_limit),
            f"shared state: {config.redis_url or 'this process (no redis_url)'}",
            f"admin from: {', '.join(config.admin.allow_from)}" + ("; or X-GW-Admin-Key" if config.admin.key else "")]
