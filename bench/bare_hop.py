"""The baseline of gw's live hop: a bare Starlette + aiohttp proxy, as little as a Python hop can be.

`python bench/bare_hop.py PORT UPSTREAM_URL` serves every path by forwarding it (method, path,
query, body, end-to-end headers) through one aiohttp ClientSession and answering what came back,
on uvicorn with one worker and no access log. It routes nothing, validates nothing and logs
nothing: issue #15 holds gw's live throughput to 80% of it, measured in the same run.
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
OWN = frozenset({"date", "server"})  # uvicorn writes its own


def build(upstream: str) -> Starlette:
    session: dict[str, aiohttp.ClientSession] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        session["client"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        yield
        await session["client"].close()

    async def forward(request: Request) -> Response:
        url = upstream + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = {k: v for k, v in request.headers.items() if k not in HOP_BY_HOP}
        async with session["client"].request(request.method, url, headers=headers, data=await request.body(),
                                             allow_redirects=False) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP | OWN}
            return Response(body, status_code=answer.status, headers=kept)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)], lifespan=lifespan)


def main() -> None:
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")
    uvicorn.run(build(upstream), host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
