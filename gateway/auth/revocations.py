"""Is this access token revoked? Asked on every protected request, so it must not hang.

When the shared state (Redis) is unreachable the check fails open by default, with one warning
a minute, as rate limits do: an outage of the bookkeeping should not take every API down. With
`auth.fail_closed: true` such requests are refused with 503 instead.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..runtime.shared_state import SharedState, StateUnavailable
from .problems import invalid_token, store_unavailable
from .sessions import revoked_key, session_revoked_key

log = logging.getLogger("gw.auth")
WARN_EVERY = 60.0


class Revocations:
    def __init__(self, state: SharedState, fail_closed: bool) -> None:
        self.state = state
        self.fail_closed = fail_closed
        self._warned = -WARN_EVERY

    async def check(self, claims: dict[str, Any]) -> None:
        """Raise a 401 problem when the token's `jti` (logout) or its session `sid` (logout, reused refresh) is revoked."""
        keys = [revoked_key(str(claims["jti"]))] if claims.get("jti") else []
        session = claims.get("sid") or claims.get("fam")
        if session:
            keys.append(session_revoked_key(str(session)))
        if not keys:
            return
        try:
            revoked = any(value is not None for value in await self.state.get_many(*keys))
        except StateUnavailable as exc:
            if self.fail_closed:
                raise store_unavailable("cannot check whether the token was revoked") from None
            self._warn(exc)
            return
        if revoked:
            raise invalid_token("token revoked")

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            log.warning("token revocations not checked (letting tokens through): %s", exc)
