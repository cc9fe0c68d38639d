"""The baseline of gw's live hop: a bare Starlette + aiohttp proxy, as fast as a Python hop reasonably gets.

`python bench/bare_hop.py PORT UPSTREAM_URL` serves every path by forwarding it (method, path,
query, body, end-to-end headers) through one aiohttp ClientSession and answering what came back.
It routes nothing, validates nothing and logs nothing: issue #15 holds gw's live throughput to
80% of it, measured in the same run, so it is tuned the way gw's own hop is, never below it:

- uvicorn with the uvloop event loop and the httptools parser named explicitly (uvicorn's "auto"
  falls back silently when one is missing), one worker, no access log, no Server header;
- one ClientSession for the process, built like gw's (`gateway/forwarder/upstreams.py`
  `new_session`): a keep-alive pool with no overall cap (256 per host), no cookie jar, bodies
  passed through undecoded (`auto_decompress=False`), no headers aiohttp would add on its own,
  no client timeout. If uvloop or httptools is missing the hop refuses to start rather than
  quietly measuring a slower floor.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# RFC 9110 7.6.1: connection-specific headers are not forwarded, and the body is re-framed.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade", "host", "content-length"})
NOT_ANSWERED = HOP_BY_HOP | {"date", "server"}  # uvicorn writes its own Date
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# What gw's forwarder runs on (gateway/server/runner.py `uvicorn_options`, `event_loop`): the fast loop and parser.
UVICORN = {"loop": "uvloop", "http": "httptools", "workers": 1, "access_log": False, "server_header": False,
           "log_level": "warning", "lifespan": "on"}


def new_session() -> aiohttp.ClientSession:
    """One pooled client, configured as gw's forwarder configures its own (`new_session` there)."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=256, ttl_dns_cache=300)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
                                 skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
                                 timeout=aiohttp.ClientTimeout(total=None))


def build(upstream: str) -> Starlette:
    session: dict[str, aiohttp.ClientSession] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        session["client"] = new_session()
        yield
        await session["client"].close()

    async def forward(request: Request) -> Response:
        query = request.url.query
        url = f"{upstream}{request.url.path}?{query}" if query else upstream + request.url.path
        headers = [(k, v) for k, v in request.headers.items() if k not in HOP_BY_HOP]
        body = await request.body()
        async with session["client"].request(request.method, url, headers=headers, data=body or None,
                                             allow_redirects=False) as answer:
            content = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in NOT_ANSWERED}
            return Response(content, status_code=answer.status, headers=kept)

    return Starlette(routes=[Route("/{path:path}", forward, methods=METHODS)], lifespan=lifespan)


def missing_speedups() -> list[str]:
    """The fast loop and parser the hop is measured with, where this interpreter lacks them."""
    import importlib.util

    return [name for name in ("uvloop", "httptools") if importlib.util.find_spec(name) is None]


def main() -> None:
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")
    if missing := missing_speedups():
        sys.exit(f"bare_hop: {', '.join(missing)} not installed (pip install 'uvicorn[standard]'): the baseline "
                 "would be slower than gw's own hop")
    uvicorn.run(build(upstream), host="127.0.0.1", port=port, **UVICORN)


if __name__ == "__main__":
    main()
