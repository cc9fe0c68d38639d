"""The operator's pages (dashboard, docs index): Jinja templates and static files inside the package.

Server-rendered HTML plus a little vanilla JS and CSS, served from here: nothing to build, nothing
fetched from a CDN, so the pages work offline and on a fresh `pip install`.
"""

from __future__ import annotations

import mimetypes
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.exchange import Exchange, Response
from ...core.problems import Problem

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
HTML = "text/html; charset=utf-8"

if TYPE_CHECKING:
    import jinja2


@cache
def _environment() -> jinja2.Environment:
    import jinja2  # when the first page is asked for: a gateway whose pages nobody opens never loads it (~40 ms)

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True,
                              lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def read_only_page(exchange: Exchange, prefix: str) -> bool:
    """Whether the request is for a page under `prefix` (the gateway answers it: GET and HEAD only, 405
    otherwise); False lets it walk on."""
    path = exchange.path
    if path != prefix and not path.startswith(prefix + "/"):
        return False
    if exchange.method not in ("GET", "HEAD"):
        raise Problem(405, detail=f"{exchange.method} is not allowed on {path}; allowed: GET, HEAD",
                      headers={"Allow": "GET, HEAD"})
    exchange.source = "gateway"
    return True


def render_page(template: str, **context: Any) -> Response:
    """An HTML page; never cached, since it shows the gateway's state at the time of asking."""
    return html_response(_environment().get_template(template).render(**context))


def html_response(text: str) -> Response:
    """A page of the gateway's own, never cached: it shows the gateway's state at the time of asking."""
    return Response(200, [("content-type", HTML), ("cache-control", "no-store")], text.encode())


class StaticFiles:
    """The files of one folder by name, listed once at start: a request can never name anything else."""

    def __init__(self, folder: Path, exclude: frozenset[str] = frozenset()) -> None:
        self.folder = folder
        self.names = frozenset(p.name for p in folder.iterdir() if p.is_file() and p.name not in exclude)

    def response(self, name: str) -> Response | None:
        """The file's bytes with its media type, or None when it is not one of ours."""
        if name not in self.names:
            return None
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if media.startswith("text/") or media in ("application/javascript", "text/javascript"):
            media += "; charset=utf-8"
        body = (self.folder / name).read_bytes()
        return Response(200, [("content-type", media), ("cache-control", "public, max-age=3600")], body)
