"""CORS: the gateway answers browsers' preflights itself and marks answers an allowed origin may read.

It sits outside the problem+json step, so error answers (400, 401, 404, 429 ...) carry the CORS
headers too: a frontend can read why it failed instead of seeing an opaque "CORS error".

Preflights (OPTIONS with `Origin` and `Access-Control-Request-Method`) are answered on every path,
never reaching an upstream or a stub. Every path, not only known routes: a browser that gets a
failed preflight shows "CORS error" and hides the request; with the preflight passed, the real
request gets the real answer (a 404 problem+json naming the path), which is what a developer needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from ..core.exchange import Exchange, NamesSeen, Response, constant_headers
from ..core.pipeline import Next
from ..core.problems import Problem
from ..settings.policy_settings import CorsSettings

SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})  # browsers send these whatever Allow-Methods says
_HOST_WILDCARD = r"[a-z0-9-]+(?:\.[a-z0-9-]+)*"
_CACHE_SIZE = 1024
VARY_ORIGIN = ("vary", "Origin")  # on nearly every answer: one tuple, encoded for the wire once
_VARY = NamesSeen(["vary"])


class OriginMatcher:
    """Origin patterns compiled once: exact, `*`, `http://localhost:*` (any port), `https://*.example.com`."""

    def __init__(self, patterns: Iterable[str]) -> None:
        patterns = [p.lower() for p in patterns]
        self.any = "*" in patterns
        self.exact = frozenset(p for p in patterns if "*" not in p)
        self.wildcards = [re.compile(_pattern_regex(p)) for p in patterns if "*" in p and p != "*"]
        self._seen: dict[str, bool] = {}

    def allows(self, origin: str) -> bool:
        known = self._seen.get(origin)
        if known is None:
            known = self._match(origin)
            if len(self._seen) >= _CACHE_SIZE:
                self._seen.clear()
            self._seen[origin] = known
        return known

    def _match(self, origin: str) -> bool:
        lowered = origin.lower()
        return self.any or lowered in self.exact or any(w.fullmatch(lowered) for w in self.wildcards)


def _pattern_regex(pattern: str) -> str:
    """`*.` right after the scheme is any subdomain (not the bare domain); `:*` is any port, or none."""
    scheme, _, rest = pattern.partition("://")
    host_port = re.escape(rest)
    if rest.startswith("*."):
        host_port = _HOST_WILDCARD + host_port[len(re.escape("*")):]
    if rest.endswith(":*"):
        host_port = host_port[: -len(re.escape(":*"))] + r"(?::\d{1,5})?"
    return re.escape(scheme) + "://" + host_port


class Cors:
    """Pipeline step: preflights answered here; other answers to allowed origins marked readable."""

    def __init__(self, settings: CorsSettings, origins: OriginMatcher | None = None,
                 then: Callable[[Exchange, Response], Response] | None = None) -> None:
        """`then`: what the step just outside would do to every answer on its way out (the security headers),
        done here in the same frame when nothing stands between the two (decided at assembly)."""
        self.then = then
        self.origins = origins or OriginMatcher(settings.origins)  # the app's, shared with the WebSocket handshake
        self.methods = frozenset(m.upper() for m in settings.methods)
        self.any_method = "*" in settings.methods
        self.headers = frozenset(h.lower() for h in settings.headers)
        self.any_header = "*" in settings.headers
        self.credentials = settings.credentials
        self.allow_methods = ", ".join(m.upper() for m in settings.methods if m != "*")
        self.allow_headers = ", ".join(h for h in settings.headers if h != "*")
        self.expose = ", ".join(settings.expose)
        self.max_age = str(int(settings.max_age))
        constant_headers([VARY_ORIGIN])  # on nearly every answer: encoded for the wire once

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        origin = exchange.headers.get("origin")
        if origin is None:
            response = await call_next(exchange)
            add_vary(response, "Origin")
        elif exchange.method == "OPTIONS" and "access-control-request-method" in exchange.headers:
            response = self.preflight(exchange, origin)
        else:
            response = await call_next(exchange)
            add_vary(response, "Origin")
            _drop_cors_headers(response)  # the gateway is the one CORS authority: an upstream's own go
            if self.origins.allows(origin):
                self._mark_readable(response, origin)
        then = self.then
        return response if then is None else then(exchange, response)

    def preflight(self, exchange: Exchange, origin: str) -> Response:
        """204 with what the browser asked to use, or 403 problem+json (no CORS headers) saying why not."""
        exchange.source = "cors-preflight"
        method = exchange.headers["access-control-request-method"].strip()
        requested = [h.strip() for h in exchange.headers.get("access-control-request-headers", "").split(",") if h.strip()]
        refusal = self._refusal(origin, method, requested)
        if refusal is not None:
            exchange.notes["problem"] = refusal.slug
            response = Response.from_problem(refusal, exchange.path)
        else:
            response = Response(204, self._preflight_headers(origin, method, requested))
        add_vary(response, "Origin")
        return response

    def _refusal(self, origin: str, method: str, requested: list[str]) -> Problem | None:
        if not self.origins.allows(origin):
            return _cors_problem(f"origin {origin} is not allowed (cors.origins)")
        if not self.any_method and method.upper() not in self.methods and method not in SAFELISTED_METHODS:
            return _cors_problem(f"method {method} is not allowed for cross-origin requests (cors.methods)")
        if not self.any_header:
            refused = [h for h in requested if h.lower() not in self.headers]
            if refused:
                return _cors_problem(f"header {', '.join(refused)} not allowed for cross-origin requests (cors.headers)")
        return None

    def _preflight_headers(self, origin: str, method: str, requested: list[str]) -> list[tuple[str, str]]:
        headers = [
            ("access-control-allow-origin", origin),
            ("access-control-allow-methods", method if self.any_method else self.allow_methods),
            ("access-control-max-age", self.max_age),
        ]
        allow_headers = ", ".join(requested) if self.any_header else self.allow_headers
        if allow_headers:
            headers.append(("access-control-allow-headers", allow_headers))
        if self.credentials:
            headers.append(("access-control-allow-credentials", "true"))
        return headers

    def _mark_readable(self, response: Response, origin: str) -> None:
        headers = response.headers
        headers.append(("access-control-allow-origin", origin))
        if self.expose:
            headers.append(("access-control-expose-headers", self.expose))
        if self.credentials:
            headers.append(("access-control-allow-credentials", "true"))


def _cors_problem(detail: str) -> Problem:
    return Problem(403, detail=detail, title="Cross-origin request refused", slug="cors-refused")


def _drop_cors_headers(response: Response) -> None:
    if any(k[:15].lower() == "access-control-" for k, _ in response.headers):
        response.headers = [(k, v) for k, v in response.headers if k[:15].lower() != "access-control-"]


def add_vary(response: Response, name: str) -> None:
    """Add `name` to the response's Vary, keeping what an upstream already listed."""
    headers = response.headers
    if not _VARY.carried_by(headers):  # the common answer: no Vary yet, told by one set test per header
        headers.append(VARY_ORIGIN if name == "Origin" else ("vary", name))
        return
    current = response.header("vary")
    if current is None:
        headers.append(("vary", name))
    elif current.strip() != "*" and name.lower() not in (v.strip().lower() for v in current.split(",")):
        response.set_header("vary", f"{current}, {name}")
