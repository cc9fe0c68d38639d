"""A real HTTP upstream on loopback for the live-mode tests (aiohttp.web in its own thread)."""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any

import httpx
from aiohttp import web
from aiohttp.typedefs import Handler

CHUNK = b"x" * 65536


def make_app(name: str = "up") -> web.Application:
    hits: collections.Counter[str] = collections.Counter()
    control = {"status": 0}  # 0: answer normally; else every non-admin request gets this status
    seen: collections.Counter[str] = collections.Counter()  # requests per path, admin ones left out
    busy = {"now": 0}

    @web.middleware
    async def on_command(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Fail on command, count requests, and say which instance answered (X-Upstream)."""
        if request.path.startswith("/_admin/"):
            return await handler(request)
        seen[request.path] += 1
        if control["status"]:
            return web.json_response({"error": "failing on command", "instance": name}, status=control["status"],
                                     headers={"X-Upstream": name})
        busy["now"] += 1
        try:
            response = await handler(request)
        finally:
            busy["now"] -= 1
        if not response.prepared:
            response.headers.setdefault("X-Upstream", name)
        return response

    async def fail(request: web.Request) -> web.Response:
        control["status"] = int(request.query.get("status", "500"))
        return web.json_response(control)

    async def recover(_request: web.Request) -> web.Response:
        control["status"] = 0
        return web.json_response(control)

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response({"requests": sum(seen.values()), "paths": dict(seen), "in_flight": busy["now"]})

    app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[on_command])

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
    app.router.add_route("*", "/{tail:(?!slow|flaky|hits|big|_admin/).*}", echo)
    app.router.add_get("/slow", slow)
    app.router.add_route("*", "/flaky/{key}", flaky)
    app.router.add_get("/hits/{key}", hit_count)
    app.router.add_get("/big", big)
    app.router.add_post("/_admin/fail", fail)  # ?status=500 (default): fail on command
    app.router.add_post("/_admin/recover", recover)
    app.router.add_get("/_admin/stats", stats)
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
        # a dead upstream does not finish its slow answers: stop() waits at most half a second for them (not 60 s)
        self._runner = web.AppRunner(make_app(self.name), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def fail(self, status: int = 500) -> None:
        """From now on answer every request with `status` (admin requests excepted)."""
        httpx.post(f"{self.url}/_admin/fail", params={"status": status}, timeout=5).raise_for_status()

    def recover(self) -> None:
        httpx.post(f"{self.url}/_admin/recover", timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        """Requests seen (in all and per path) and in flight now, admin requests left out."""
        return httpx.get(f"{self.url}/_admin/stats", timeout=5).json()

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


SLOW_MS = 1500  # how long /slow holds each answer in the drain tests: long enough to signal while they wait


def slow_requests(url: str, count: int, ms: int = SLOW_MS) -> tuple[list[threading.Thread], list[httpx.Response | Exception]]:
    """`count` GETs of `url`/slow?ms=`ms` started in threads; each answer (or error) lands in the list as it ends."""
    answers: list[httpx.Response | Exception] = []

    def ask() -> None:
        try:
            answers.append(httpx.get(f"{url}/slow", params={"ms": ms}, timeout=15))
        except httpx.HTTPError as exc:
            answers.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, answers
