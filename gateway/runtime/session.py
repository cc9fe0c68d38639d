"""`X-GW-Session`: which simulation a request belongs to.

Stateful resources and scenario states are kept per session, so parallel test runs (each sending its own
`X-GW-Session: <id>`) never see each other's data; requests without the header share the `default` session.
"""

from __future__ import annotations

import re

from ..core.exchange import Exchange
from ..core.problems import Problem

HEADER = "x-gw-session"
DEFAULT = "default"
_NAME = re.compile(r"[A-Za-z0-9._:~-]{1,128}")


def session_of(exchange: Exchange) -> str:
    """The request's session name; a malformed one is the client's mistake (400), never a key into shared state."""
    value = exchange.headers.get(HEADER)
    if value is None or value == "":
        return DEFAULT
    if not _NAME.fullmatch(value):
        raise Problem(400, f"X-GW-Session must be 1-128 characters of A-Z a-z 0-9 . _ : ~ -, got {value[:40]!r}",
                      slug="bad-session")
    return value
