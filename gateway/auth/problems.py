"""The answers auth gives: 401 with RFC 6750 `WWW-Authenticate`, 403 naming the missing scopes."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.problems import Problem

REALM = 'realm="gw"'


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


def missing_credentials(detail: str, challenges: Iterable[str] = ("Bearer",)) -> Problem:
    """401 for a request with no credential: `Bearer realm="gw"`, no error code (RFC 6750 3.1)."""
    header = ", ".join(f"{scheme} {REALM}" for scheme in challenges)
    headers = {"WWW-Authenticate": header} if header else {}
    return Problem(401, detail=detail, slug="unauthorized", headers=headers)


def invalid_token(description: str) -> Problem:
    """401 for a bearer token that must not pass (bad signature, expired, revoked...)."""
    challenge = f'Bearer {REALM}, error="invalid_token", error_description="{_quoted(description)}"'
    return Problem(401, detail=description, slug="invalid-token", headers={"WWW-Authenticate": challenge})


def invalid_credentials(detail: str, scheme: str = "") -> Problem:
    """401 for a wrong API key or basic password."""
    headers = {"WWW-Authenticate": f"{scheme} {REALM}"} if scheme else {}
    return Problem(401, detail=detail, slug="invalid-credentials", headers=headers)


def insufficient_scope(missing: Iterable[str]) -> Problem:
    """403: the caller is known but lacks scopes or roles the operation asks for."""
    names = sorted(missing)
    listed = " ".join(names)
    challenge = (f'Bearer {REALM}, error="insufficient_scope", '
                 f'error_description="missing {_quoted(listed)}", scope="{_quoted(listed)}"')
    return Problem(403, detail=f"the token lacks the scope or role {', '.join(names)}", title="Insufficient scope",
                   slug="insufficient-scope", headers={"WWW-Authenticate": challenge}, extra={"missing": names})


def store_unavailable(what: str) -> Problem:
    return Problem(503, detail=f"{what}: the shared state (Redis) is unreachable; try again shortly",
                   title="Auth state unavailable", slug="auth-state-unavailable", headers={"Retry-After": "1"})
