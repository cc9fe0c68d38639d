"""Signing keys from a JWKS URL: fetched off the event loop, cached, refreshed sparingly.

The hot path only reads a dict. A fetch happens at the first token, when the cached set is older
than `LIFESPAN`, or when a token names an unknown `kid` (at most once per `COOLDOWN`, so tokens
with made-up key ids cannot turn the gateway into a fetch loop against the identity provider).
A fetch runs in a thread (PyJWT's client is blocking) under a deadline; concurrent requests share
one fetch. When it fails the last good keys keep serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger("gw.auth")

LIFESPAN = 300.0
COOLDOWN = 30.0  # between fetches caused by unknown key ids
RETRY = 5.0  # between fetches while none succeeds
FETCH_TIMEOUT = 5.0


class KeysUnavailable(Exception):
    """No signing keys could be had from the JWKS URL (and none are cached)."""


class JwksKeys:
    """The JWKS URL's signing keys by `kid`."""

    def __init__(self, url: str, algorithms: tuple[str, ...]) -> None:
        self.url = url
        self.algorithms = algorithms
        from jwt import PyJWKClient  # PyJWT (and cryptography under it) on first use: most gateways check no token

        self._client = PyJWKClient(url, cache_jwk_set=False, timeout=FETCH_TIMEOUT)
        self._keys: dict[str, Any] = {}
        self._fetched = 0.0  # monotonic time of the last successful fetch
        self._tried = -COOLDOWN  # ... and of the last attempt, successful or not
        self._fetch: asyncio.Task[None] | None = None

    async def key_for(self, token: str) -> tuple[Any, tuple[str, ...]]:
        """The key that should have signed `token` and the algorithms it may be used with."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise jwt.InvalidTokenError("malformed token") from None
        kid = header.get("kid")
        if self._should_fetch(kid):
            await self._refresh()
        found = self._find(kid)
        if found is None:
            if not self._keys:
                raise KeysUnavailable(f"no signing keys could be fetched from {self.url}")
            raise jwt.InvalidTokenError("token signed with an unknown key" if kid else "token names no key id (kid)")
        return found

    def _should_fetch(self, kid: str | None) -> bool:
        since_try = time.monotonic() - self._tried
        if not self._keys or time.monotonic() - self._fetched > LIFESPAN:
            return since_try >= RETRY
        return self._find(kid) is None and since_try >= COOLDOWN

    def _find(self, kid: str | None) -> tuple[Any, tuple[str, ...]] | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        if self._fetch is None or self._fetch.done():
            self._fetch = asyncio.create_task(self._load())
        await asyncio.shield(self._fetch)

    async def _load(self) -> None:
        self._tried = time.monotonic()
        try:
            data = await asyncio.wait_for(asyncio.to_thread(self._client.fetch_data), FETCH_TIMEOUT + 1)
        except Exception as exc:  # network errors, bad JSON, timeouts: keep what we have
            log.warning("cannot fetch signing keys from %s: %s", self.url, exc or type(exc).__name__)
            return
        keys = {}
        for index, entry in enumerate(data.get("keys", []) if isinstance(data, dict) else []):
            usable = self._usable(entry)
            if usable is not None:
                keys[str(entry.get("kid") or f"#{index}")] = usable
        self._keys, self._fetched = keys, time.monotonic()

    def _usable(self, entry: Any) -> tuple[Any, tuple[str, ...]] | None:
        """A signing key and its pinned algorithms (its own `alg` if it names one), or None."""
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            return None
        family = {"RSA": ("RS", "PS"), "EC": ("ES",), "OKP": ("EdDSA",)}.get(entry.get("kty", ""), ())
        allowed = tuple(a for a in self.algorithms if family and a.startswith(family))
        if entry.get("alg"):
            allowed = tuple(a for a in allowed if a == entry["alg"])
        if not allowed:
            return None
        import jwt

        try:
            return jwt.PyJWK(entry, allowed[0]).key, allowed
        except jwt.PyJWKError:
            return None
