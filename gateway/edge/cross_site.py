"""Cross-site request forgery: a state-changing call to the gateway's own API must prove it is not a form.

Loopback is an operator address by default, so any web page a developer opens could otherwise make
their browser `POST /_gw/api/stubs/reload` or reset a circuit with a "simple" request (a form, or
`fetch` with `text/plain`), which browsers send cross-site without asking. Such requests cannot
carry a JSON content type or a custom header without a CORS preflight, so every non-safe method
under `/_gw/api/` (where the loopback address itself is the credential) needs one of the below, and
so does one under `/_gw/auth/` when a credential the browser attaches by itself rides along (a
cookie, Basic credentials). A non-safe call under either from a page that is not the gateway's own
(its `Origin` neither this gateway's host, when that is one of its own names, nor a CORS origin:
see `OwnPages`) is refused whatever it carries, which also stops a DNS-rebinding page, and no foreign
page can log in, burn a user's login attempts or log out. `curl -d` (no Origin) keeps working.

- `Content-Type: application/json` (or any `+json` type);
- the header `X-GW-Admin` (any value; `gw mode` and `gw journal` send `X-GW-Admin: 1`), or `X-GW-Admin-Key`;
- `Authorization: Bearer ...` (a browser never attaches a bearer token on its own).

Anything else is a 403 problem+json naming what to send.
"""

from __future__ import annotations

from ..core.admin_headers import ADMIN_HEADER
from ..core.exchange import Exchange, Response
from ..core.media_types import base_type
from ..core.pipeline import Next
from ..core.problems import Problem
from .hardening import OwnPages

ADMIN_PREFIX = "/_gw/api/"
AUTH_PREFIX = "/_gw/auth/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PROOF_HEADERS = ("x-gw-admin", "x-gw-admin-key")


def is_json_media_type(content_type: str) -> bool:
    """JSON or a `+json` type: never a simple request's (wildcards, which `media_types.is_json` admits, do not count)."""
    media = base_type(content_type)
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def not_a_simple_request(exchange: Exchange) -> bool:
    """Whether the request carries something a cross-site form or simple `fetch` cannot send."""
    headers = exchange.headers
    if any(name in headers for name in PROOF_HEADERS):
        return True
    if is_json_media_type(headers.get("content-type", "")):
        return True
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


class CrossSiteGuard:
    """Pipeline step: 403 for a state-changing call to the gateway's API that a foreign page could have sent."""

    def __init__(self, pages: OwnPages) -> None:
        self.pages = pages

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        path = exchange.path + "/"
        admin, auth = path.startswith(ADMIN_PREFIX), path.startswith(AUTH_PREFIX)
        if exchange.method in SAFE_METHODS or not (admin or auth):
            return await call_next(exchange)
        headers = exchange.headers
        origin = headers.get("origin")
        if origin is not None and not self.pages.allows(origin, headers.get("host", "")):
            raise Problem(403, title="Cross-site request refused", slug="cross-site-refused",
                          detail=f"a page from {origin} may not change the gateway's state (a host name of the "
                                 "gateway's own belongs in allowed_hosts, a frontend's origin in cors.origins)")
        ambient = admin or "cookie" in headers or "authorization" in headers
        if ambient and not not_a_simple_request(exchange):
            raise Problem(403, title="Cross-site request refused", slug="cross-site-refused",
                          detail=f"{exchange.method} {exchange.path} changes the gateway's state: send it with "
                                 f"Content-Type: application/json or the header {ADMIN_HEADER}: 1 (a web page "
                                 "from another site cannot)")
        return await call_next(exchange)
