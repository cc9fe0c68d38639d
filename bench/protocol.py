"""The server side of one answer: CPU per request of gw's HTTP/1.1 protocol, for any checkout, load-proof.

Why this exists: bench/micro.py drives the gateway with raw ASGI calls and never sees the server, and
bench/ceiling.py's CPU per request moves with the neighbours' load on a shared box. This drives the connection
protocol gw gives uvicorn (`uvicorn_limits(...)["http"]`) on uvloop with a transport that only records what it
would send: keep-alive GETs on 32 connections, a request in flight on each (as wrk -c32), answered by a fixed
ASGI app with the headers of gw's stub answer (11 of them, as `gw serve specs/users.yaml` sends for
GET /users/1). What is left is the protocol's work: parsing, the scope, the ASGI cycle, encoding the head,
timers, the writes. uvicorn's own HttpToolsProtocol is measured
alongside as the reference. Checkouts run interleaved, each round in a fresh process; the table shows medians.

    python bench/protocol.py                                   # this checkout, 5 rounds
    python bench/protocol.py --repo /work/main --repo .        # before/after, interleaved
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/protocol.py`: make the bench package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.asgi_driver import load_checkout

REPO = Path(__file__).resolve().parent.parent
REQUEST = b"GET /users/1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
BODY = (b'{"id":1,"username":"alice","email":"alice@example.com","full_name":"Alice Liddell","role":"admin",'
        b'"active":true,"created_at":"2023-11-14T08:30:00Z","updated_at":"2024-03-01T12:00:00Z"}')
HEADERS = [(b"content-type", b"application/json"), (b"x-gw-source", b"example"),
           (b"x-gw-near-miss", b'getUser-42: path: expected "/users/42", got /users/1'), (b"vary", b"Origin"),
           (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"content-security-policy", b"frame-ancestors 'none'"), (b"referrer-policy", b"no-referrer"),
           (b"x-request-id", b"9cb312fa51634ae7ab63d5ff1b4db51e"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


class RecordingTransport(asyncio.Transport):
    """What the socket would be asked to send, one entry per write (kept only when `keep`); closed on close()/abort().
    `answered` (a future) is set once a write ends with `ends_with`. tests/test_whole_writes.py uses it too."""

    def __init__(self, keep: bool = True, ends_with: bytes = BODY) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.keep = keep
        self.ends_with = ends_with
        self.answered: asyncio.Future[None] | None = None
        self.closed = False

    def write(self, data: Any) -> None:
        data = bytes(data)
        if self.keep:
            self.writes.append(data)
        if self.answered is not None and data.endswith(self.ends_with) and not self.answered.done():
            self.answered.set_result(None)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def is_reading(self) -> bool:
        return True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return True


async def drive(factory: Any, requests: int, connections: int) -> float:
    """CPU µs per request over `requests` keep-alive GETs spread over `connections` connections, each round one
    request on every connection (as wrk -c N keeps N in flight), so the loop's iterations are shared as a loaded
    server shares them."""
    import uvicorn
    from uvicorn.server import ServerState

    config = uvicorn.Config(app, log_level="error", access_log=False, server_header=False, proxy_headers=False)
    config.load()
    state = ServerState()
    state.default_headers = [(b"date", b"Thu, 26 Nov 2026 14:22:58 GMT")]
    loop = asyncio.get_running_loop()
    pairs = []
    for _ in range(connections):
        protocol, transport = factory(config=config, server_state=state, app_state={}), RecordingTransport(keep=False)
        protocol.connection_made(transport)
        pairs.append((protocol, transport))
    rounds = max(1, requests // connections)
    started = 0.0
    for n in range(rounds + rounds // 5):
        if n == rounds // 5:  # the first fifth warms up
            started = time.process_time()
        for protocol, transport in pairs:
            transport.answered = loop.create_future()
            protocol.data_received(REQUEST)
        for _, transport in pairs:
            await transport.answered  # type: ignore[misc]
    spent = time.process_time() - started
    for protocol, _ in pairs:
        protocol.connection_lost(None)
    return spent / (rounds * connections) * 1e6


def child(repo: Path, requests: int, connections: int) -> dict[str, float]:
    load_checkout(repo)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from gw.server.connections import uvicorn_limits
    from gw.settings.policy_settings import ServerSettings

    try:
        import uvloop
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    gw_factory = uvicorn_limits(ServerSettings())["http"]
    return {"gw protocol": runner(drive(gw_factory, requests, connections)),
            "uvicorn httptools": runner(drive(HttpToolsProtocol, requests, connections))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", action="append", help="a checkout to measure (repeatable; default this one)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=32, help="connections each with a request in flight")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.repo[0]).resolve(), args.requests, args.connections)))
        return
    repos = [Path(r).resolve() for r in (args.repo or [str(REPO)])]
    figures: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for repo in repos:
            command = [sys.executable, __file__, "--child", "--repo", str(repo), "--requests", str(args.requests),
                       "--connections", str(args.connections)]
            done = subprocess.run(command, cwd=repo, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"error: {repo}: {done.stderr[-3000:]}")
            for name, figure in json.loads(done.stdout).items():
                figures.setdefault((str(repo), name), []).append(figure)
    print(f"CPU µs per keep-alive GET, the protocol alone, {args.connections} connections "
          f"(median of {args.rounds} rounds x {args.requests} requests)")
    for (repo, name), values in figures.items():
        print(f"{repo:<32} {name:<20} {statistics.median(values):8.1f}")


if __name__ == "__main__":
    main()
