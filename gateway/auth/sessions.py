"""The built-in login's sessions, kept in the shared state so every gateway process agrees.

A login starts a refresh-token *family*. Each refresh consumes its token (an atomic set-if-absent
on its `jti`) and issues the next one; presenting a consumed token again means it was stolen or
replayed, so the whole family is revoked (OAuth 2.0 Security BCP, refresh token rotation).
Logout revokes the access token's `jti` until it expires, and the family. Every access token of a
login carries the family as its session id (`sid`), so revoking the family (logout, or a reused
refresh token) refuses every access token of that session at once. Login tries are counted per
username and per client address.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from ..core.problems import Problem
from ..runtime.shared_state import SharedState, StateUnavailable
from ..settings.policy_settings import AuthUser, LoginSettings
from . import passwords
from .problems import invalid_token, store_unavailable
from .tokens import REFRESH, TokenIssuer, TokenRejected, TokenVerifier


@dataclass(frozen=True)
class Tokens:
    """What a login or refresh answers (OAuth 2.0 token response shape)."""

    access_token: str
    refresh_token: str
    expires_in: int

    def body(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token, "token_type": "bearer",
                "expires_in": self.expires_in}


def revoked_key(jti: str) -> str:
    return f"auth:revoked:{jti}"


def session_revoked_key(family: str) -> str:
    return f"auth:family-revoked:{family}"


class Sessions:
    """Login, refresh rotation and logout over the shared state."""

    def __init__(self, users: list[AuthUser], login: LoginSettings, issuer: TokenIssuer, verifier: TokenVerifier,
                 state: SharedState) -> None:
        self.users = {u.username: u for u in users}
        self.login_settings = login
        self.issuer, self.verifier, self.state = issuer, verifier, state
        # Unknown usernames are checked against a real hash (same algorithm and cost) so they take as long.
        self._dummy_hash = users[0].password_hash if users else ""

    async def login(self, username: str, password: str, client_ip: str) -> Tokens:
        """Tokens for the right password; 401 for a wrong one; 429 once the attempts of the window are used up.

        A try is reserved on both counters (user and client address) before the password is checked,
        in one atomic step, so a burst of concurrent tries gets at most `attempts` checked per window;
        a success gives its try back (and clears the user's count), a failure keeps it.
        """
        user_key, ip_key = f"auth:failed:user:{username}", f"auth:failed:ip:{client_ip}"
        settings = self.login_settings
        try:
            if not await self.state.reserve([user_key, ip_key], settings.attempts, settings.window):
                raise Problem(429, detail=f"too many failed logins; try again within {settings.window:g}s",
                              title="Too many failed logins", slug="too-many-failed-logins",
                              headers={"Retry-After": str(int(settings.window))})
            user = self.users.get(username)
            ok = await passwords.check(password, user.password_hash if user else self._dummy_hash)
            if user is None or not ok:
                raise Problem(401, detail="wrong username or password", slug="invalid-credentials")
            await self.state.delete(user_key)
            await self.state.release(ip_key)
        except StateUnavailable:
            raise store_unavailable("cannot check login attempts") from None
        return self._start(user)

    def _start(self, user: AuthUser, family: str | None = None) -> Tokens:
        family = family or secrets.token_hex(16)
        access, _ = self.issuer.access(user.username, user.roles, family=family)  # its `sid` is the family
        refresh, _ = self.issuer.refresh(user.username, family)
        return Tokens(access, refresh, int(self.issuer.access_ttl))

    async def refresh(self, refresh_token: str) -> Tokens:
        claims = await self._verified(refresh_token, REFRESH)
        family, jti = str(claims.get("fam", "")), str(claims["jti"])
        try:
            if await self.state.get(session_revoked_key(family)) is not None:
                raise invalid_token("this session was revoked; log in again")
            fresh = await self.state.set_if_absent(f"auth:used:{jti}", "1", ttl=self._left(claims))
            if not fresh:
                await self.state.set(session_revoked_key(family), "reuse", ttl=self.issuer.refresh_ttl)
                raise invalid_token("refresh token already used; every token of this session is revoked")
        except StateUnavailable:
            raise store_unavailable("cannot check the refresh token") from None
        user = self.users.get(str(claims.get("sub")))
        if user is None:
            raise invalid_token("the token's user no longer exists")
        return self._start(user, family)

    async def logout(self, access_claims: dict[str, Any], refresh_token: str | None) -> None:
        """Revoke the access token until it expires, and the session (the refresh token's family)."""
        if "jti" not in access_claims:
            raise Problem(400, detail="this access token has no jti claim, so it cannot be revoked; it expires by itself",
                          slug="not-revocable")
        family = str(access_claims.get("sid") or access_claims.get("fam") or "")
        if refresh_token:
            family = str((await self._verified(refresh_token, REFRESH)).get("fam", "")) or family
        try:
            await self.state.set(revoked_key(str(access_claims["jti"])), "logout", ttl=self._left(access_claims))
            if family:
                await self.state.set(session_revoked_key(family), "logout", ttl=self.issuer.refresh_ttl)
        except StateUnavailable:
            raise store_unavailable("cannot record the logout") from None

    async def _verified(self, token: str, use: str) -> dict[str, Any]:
        try:
            claims = await self.verifier.verify(token, use)
        except TokenRejected as exc:
            raise invalid_token(str(exc)) from None
        if "jti" not in claims:
            raise invalid_token("token has no jti claim")
        return claims

    def _left(self, claims: dict[str, Any]) -> float:
        return max(1.0, float(claims["exp"]) - time.time() + self.verifier.leeway + 1)
