"""What `gw token` and `gw auth hash-password` do, so the CLI stays a thin shell."""

from __future__ import annotations

import re
from pathlib import Path

from ..settings.config import GatewayConfig
from .keys import KeyMaterialError, signing_key
from .tokens import TokenIssuer

_TTL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class CommandError(Exception):
    """One line for the user."""


def parse_ttl(text: str) -> float:
    """`90`, `90s`, `15m`, `1h`, `7d` as seconds."""
    match = _TTL.match(text)
    if not match or float(match.group(1)) <= 0:
        raise CommandError(f"--ttl: expected a duration such as 90s, 15m, 1h or 7d, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def make_token(config: GatewayConfig, subject: str, roles: list[str], scope: str, ttl: float,
               secret: str | None = None) -> str:
    """An access token signed with the config's auth.jwt (or `secret`), as the built-in login makes them."""
    settings = config.auth.jwt
    if secret:
        settings.secret, settings.private_key, settings.public_key, settings.jwks_url = secret, "", "", ""
        settings.algorithms = [a for a in settings.algorithms if a.upper().startswith("HS")]
    try:
        key = signing_key(settings, Path(config.root))
    except KeyMaterialError as exc:
        raise CommandError(f"{config.source}: auth.jwt.{exc.key}: {exc.reason}") from None
    if key is None:
        raise CommandError("no signing key: set auth.jwt.secret (or auth.jwt.private_key) in gateway.yaml, "
                           "GW_AUTH__JWT__SECRET, or pass --secret")
    token, _ = TokenIssuer(settings, key).access(subject, roles, scope=scope, ttl=ttl)
    return token
