"""The request path as the router matches it: one reading of what a client's path means.

Clients and proxies send paths a spec never spells: `//users//1`, `/users/1/`, `/files/a%2Fb`.
The router matches a normalised text instead of the server's decoded path:

* runs of slashes collapse to one (`//users//1` is `/users/1`);
* percent-escapes are decoded, except an encoded slash or percent sign, which stay encoded
  (`%2F`, `%25`): `/files/a%2Fb` is two segments, `files` and `a/b`, and reaches `/files/{name}`;
* a trailing slash is matched leniently by the router itself (see `slash_twin`), never redirected.

After routing, `decode` turns the kept escapes back, in the path and in each path parameter.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

_KEPT = re.compile(r"(%2[fF]|%25)")
_SLASHES = re.compile(r"/{2,}")


def collapse(path: str) -> str:
    """Runs of slashes as one slash."""
    return _SLASHES.sub("/", path)


def slash_twin(path: str) -> str | None:
    """The same path with its trailing slash toggled (`/x` <-> `/x/`); None for the root."""
    if path in ("", "/"):
        return None
    return path[:-1] if path.endswith("/") else path + "/"


def routing_path(scope: dict[str, Any]) -> str:
    """The text the router matches for this request (see the module's docstring)."""
    path: str = scope["path"]
    raw = scope.get("raw_path")
    text = raw.decode("latin-1").partition("?")[0] if raw else ""
    if text == path and "%" not in text and "//" not in text:
        return text  # the common case: nothing escaped, nothing to collapse (each step below would give it back)
    if not text or unquote(text) != path:
        # no raw path, or a step before us rewrote the path: route what we were given
        return collapse(path.replace("%", "%25"))
    pieces = _KEPT.split(text)
    return collapse("".join(piece.upper() if _KEPT.fullmatch(piece) else unquote(piece) for piece in pieces))


def decode(routed: str) -> str:
    """A routed path or path parameter as the client meant it: `a%2Fb` is `a/b`."""
    return unquote(routed) if "%" in routed else routed


def as_declared(path: str, template: str) -> str:
    """The routed path with its trailing slash as the operation's path template has it, so a stray
    slash changes nothing downstream (stub matching, generated data seeded by the path)."""
    if path not in ("", "/") and (path[-1] == "/") != (template[-1:] == "/"):
        return slash_twin(path) or path
    return path
