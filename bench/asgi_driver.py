"""An ASGI app driven in process as uvicorn drives it: its lifespan started, then one request at a time.

bench/micro.py (a stub answer's cost) and bench/hop.py (the live hop's) time apps through it, so what they
measure is the app's own work, with no socket, parser or load generator sharing the CPU.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

Answer = tuple[int, dict[bytes, bytes], bytes]


class AsgiDriver:
    """`app` started through its lifespan; `request` hands it one request the way uvicorn does."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.3"}, "state": {}}
        self._task = asyncio.create_task(self.app(scope, self._inbox.get, self._outbox.put))
        await self._inbox.put({"type": "lifespan.startup"})
        message = await self._outbox.get()
        if message["type"] != "lifespan.startup.complete":
            raise SystemExit(f"error: the app did not start: {message}")

    async def stop(self) -> None:
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._outbox.get()
        if self._task is not None:
            await self._task

    async def request(self, method: str, path: str, query: str = "", headers: list[tuple[bytes, bytes]] | None = None,
                   body: bytes = b"") -> Answer:
        """One request; after the body, receive() waits like a connection that stays open."""
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": query.encode(), "root_path": "", "headers": headers or [],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}
        delivered = False
        status = 0
        answer_headers: dict[bytes, bytes] = {}
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.get_running_loop().create_future()  # never: the client stays
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                answer_headers.update((key.lower(), value) for key, value in message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, answer_headers, b"".join(chunks)


def load_checkout(repo: Path) -> None:
    """Make `gw` the checkout's own `gateway/` folder (its modules import each other relatively), so one script
    times any checkout, each in its own process. Nothing of the installed gw may be imported before this."""
    folder = repo / "gateway"
    spec = importlib.util.spec_from_file_location("gw", folder / "__init__.py", submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: {repo}: no gateway/ package here")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gw"] = module
    spec.loader.exec_module(module)


def rooted(config: Any, root: Path) -> Any:
    """`config` reading relative paths from `root`: frozen settings make a copy, older checkouts are set in place."""
    if hasattr(config, "with_root"):
        return config.with_root(root)
    config.root = str(root)
    return config
