"""Hardening: refuse Hosts the gateway does not serve, and send security headers on its own answers.

`allowed_hosts` stops DNS-rebinding pages (a site whose name suddenly resolves to 127.0.0.1) from
talking to a developer's gateway: one rule for every HTTP request and every WebSocket handshake
(the gateway's `/_gw/ws` and the pass-through sockets alike). The security headers go on what the gateway itself makes
(stubs, problem+json, /_gw/ endpoints, preflights); a proxied upstream answer keeps its own policy.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from ..core.exchange import UPSTREAM_SOURCES, Exchange, NamesSeen, Response, constant_headers
from ..core.pipeline import Next
from ..core.problems import Problem

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),  # a stub's JSON is never run as script or shown as HTML
    ("X-Frame-Options", "DENY"),  # no clickjacking through the gateway's pages (/_gw/ui, Swagger UI)
    ("Content-Security-Policy", "frame-ancestors 'none'"),  # the same, for browsers that read CSP
    ("Referrer-Policy", "no-referrer"),  # gateway URLs (tokens in query strings) do not leak onward
)


class AllowedHosts:
    """Early step: 400 problem+json for a `Host` not in `allowed_hosts` (exact names or `*.suffix`)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        names = [_bare_host(p) for p in patterns]
        self.any = "*" in names
        self.exact = frozenset(n for n in names if not n.startswith("*."))
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*."))  # "*.example.com" -> ".example.com"

    def allows(self, host: str) -> bool:
        host = _bare_host(host)
        return self.any or host in self.exact or (bool(host) and host.endswith(self.suffixes))

    def refusal(self, host: str) -> Problem | None:
        """The 400 problem for a Host that is not served here; None when it is."""
        if self.allows(host):
            return None
        return Problem(400, detail=f"host {host or '(none)'} is not served here (allowed_hosts)",
                       title="Host not allowed", slug="host-not-allowed")

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        problem = self.refusal(exchange.headers.get("host", ""))
        if problem is None:
            return await call_next(exchange)
        exchange.notes["problem"] = problem.slug
        return Response.from_problem(problem, exchange.path)  # before the problem step: it renders its own


def rebinding_proof(host: str, bind_host: str = "") -> bool:
    """A name no DNS rebinding can point here: an IP literal, `localhost` (browsers resolve it themselves) or the bind name.

    What a browser page may be served from when `allowed_hosts` is not set (the gateway's own origin).
    """
    host = _bare_host(host)
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost") or host == _bare_host(bind_host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class OwnPages:
    """Which browser pages speak for the gateway: served from the Host asked, when that Host is one of its own, or a CORS origin.

    A DNS-rebinding page has `Origin` and `Host` both `evil.example`: same host, yet not the gateway's
    own name, so it is another site. `own_host` is `allowed_hosts` when set, else `rebinding_proof`.
    """

    def __init__(self, own_host: Callable[[str], bool], cors_allowed: Callable[[str], bool] | None = None) -> None:
        self.own_host = own_host
        self.cors_allowed = cors_allowed

    def allows(self, origin: str, host: str) -> bool:
        if same_host(origin, host) and self.own_host(host):
            return True
        return self.cors_allowed is not None and self.cors_allowed(origin)


def same_host(origin: str, host: str) -> bool:
    """The page came from this gateway: the Origin's host is the Host the request was sent to.

    Ports are not compared: a proxy in front (nginx) may rewrite Host without the client's port.
    """
    origin_host = urlsplit(origin).hostname or ""
    with contextlib.suppress(ValueError):
        return bool(origin_host) and origin_host == urlsplit(f"//{host}").hostname
    return False


def _bare_host(host: str) -> str:
    """Lower-case, without port, brackets or a trailing dot: `[::1]:8000` -> `::1`, `Api.Test.:80` -> `api.test`."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


class SecurityHeaders:
    """Adds the security headers to gateway-made answers, never replacing one already set."""

    def __init__(self) -> None:
        constant_headers(SECURITY_HEADERS)  # encoded for the wire once

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        return self.amend(exchange, await call_next(exchange))

    def amend(self, exchange: Exchange, response: Response) -> Response:
        """The headers put on `response` (in place), as the step does: for the CORS step to call when the two are
        next to each other in the pipeline (no `allowed_hosts` between them), saving a frame on every answer."""
        if exchange.source in UPSTREAM_SOURCES and "problem" not in exchange.notes:
            return response
        headers = response.headers
        if _SECURITY_NAMES.carried_by(headers):  # one is set already (a stub file's own): only the missing ones go on
            present = {name.lower() for name, _ in headers}
            headers.extend((name, value) for name, value in SECURITY_HEADERS if name.lower() not in present)
        else:  # the common case: none of them set yet, all four go on
            headers.extend(SECURITY_HEADERS)
        return response


_SECURITY_NAMES = NamesSeen(name for name, _ in SECURITY_HEADERS)
