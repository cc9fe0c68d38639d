"""A real HTTP upstream on loopback for the live-mode tests (aiohttp.web in its own thread)."""

from __future__ import annotations

import asyncio
import collections
import threading

from aiohttp import web

CHUNK = b"x" * 65536


def make_app(name: str = "up") -> web.Application:
    hits: collections.Counter[str] = collections.Counter()
    app = web.Application(client_max_size=64 * 1024 * 1024)

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({
            "instance": name,
            "method": request.method,
            "path": request.path,
            "raw_path": request.raw_path,
            "query": dict(request.query),
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }, headers={"Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "drop-me", "X-Upstream": name})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(int(request.query.get("ms", "1000")) / 1000)
        return web.json_response({"slow": True})

    async def flaky(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        hits[key] += 1
        if hits[key] <= int(request.query.get("fail", "0")):
            return web.json_response({"error": "try again"}, status=503)
        return web.json_response({"hits": hits[key], "instance": name})

    async def hit_count(request: web.Request) -> web.Response:
        return web.json_response({"hits": hits[request.match_info["key"]]})

    async def big(request: web.Request) -> web.StreamResponse:
        megabytes = int(request.query.get("mb", "1"))
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = megabytes * 16 * len(CHUNK)
        await response.prepare(request)
        for _ in range(megabytes * 16):
            await response.write(CHUNK)
        return response

    app.router.add_route("*", "/items/{tail:.*}", echo)
    app.router.add_route("*", "/items", echo)
    app.router.add_route("*", "/{tail:(?!slow|flaky|hits|big).*}", echo)
    app.router.add_get("/slow", slow)
    app.router.add_route("*", "/flaky/{key}", flaky)
    app.router.add_get("/hits/{key}", hit_count)
    app.router.add_get("/big", big)
    return app


class UpstreamServer:
    """Starts `make_app()` on 127.0.0.1:`port` in a thread; `stop()` takes it down (a dead upstream)."""

    def __init__(self, port: int, name: str = "up") -> None:
        self.port = port
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> UpstreamServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(make_app(self.name), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def main() -> None:
    """`python -m tests.upstream PORT [NAME]`: the same upstream as a process of its own."""
    import sys

    port = int(sys.argv[1])
    name = sys.argv[2] if len(sys.argv) > 2 else "up"
    web.run_app(make_app(name), host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
