"""WebSocket pass-through in live mode, against a real WebSocket upstream on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import TEST_SPECS, free_port, mint_token
from tests.upstream import UpstreamServer

SECRET = "websocket-test-secret-long-enough-for-hs256"


def socket_app(name: str = "ws") -> web.Application:
    """Echoes every message; the first message it sends tells what the handshake carried."""

    async def echo(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(protocols=("chat.v1",))
        await socket.prepare(request)
        await socket.send_json({"path": request.path_qs, "headers": {k.lower(): v for k, v in request.headers.items()}})
        async for message in socket:
            if message.type == aiohttp.WSMsgType.TEXT:
                if message.data == "bye":
                    await socket.close(code=4000, message=b"upstream says bye")
                    break
                await socket.send_str(f"{name}:{message.data}")
            elif message.type == aiohttp.WSMsgType.BINARY:
                await socket.send_bytes(message.data[::-1])
        return socket

    app = web.Application()
    app.router.add_get("/events", echo)
    app.router.add_get("/rooms/{room}", echo)
    return app


class SocketUpstream(UpstreamServer):
    async def _start(self) -> None:
        self._runner = web.AppRunner(socket_app(self.name), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()


@pytest.fixture
def socket_upstream() -> Iterator[SocketUpstream]:
    server = SocketUpstream(free_port(), "ws").start()
    yield server
    server.stop()


def services(upstream_url: str, mode: str = "live") -> dict[str, dict[str, Any]]:
    return {"chat": {"spec": str(TEST_SPECS / "echo.yaml"), "base_path": "/chat", "mode": mode,
                     "upstream": upstream_url, "websockets": ["/events", "/rooms/{room}"]}}


def converse(url: str, *messages: str | bytes, headers: dict[str, str] | None = None,
             protocols: tuple[str, ...] = ()) -> dict[str, Any]:
    """Open a socket, read the upstream's hello, send each message and read one answer per message."""

    async def run() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            try:
                socket = await session.ws_connect(url, headers=headers or {}, protocols=protocols,
                                                  timeout=aiohttp.ClientWSTimeout(ws_close=5))
            except aiohttp.WSServerHandshakeError as exc:
                return {"refused": exc.status, "headers": dict(exc.headers or {})}
            hello = await socket.receive_json(timeout=5)
            answers = []
            for message in messages:
                await (socket.send_str(message) if isinstance(message, str) else socket.send_bytes(message))
                answer = await socket.receive(timeout=5)
                answers.append(answer.data if answer.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)
                               else ("closed", socket.close_code))
            await socket.close()
            return {"hello": hello, "answers": answers, "protocol": socket.protocol}

    return asyncio.run(run())


def ws_url(gateway: Any, path: str) -> str:
    return gateway.url.replace("http://", "ws://") + path


def test_messages_pass_both_ways_with_the_request_id_and_subprotocol(start_gateway, socket_upstream) -> None:
    gateway = start_gateway(services(socket_upstream.url))
    result = converse(ws_url(gateway, "/chat/rooms/42?since=3"), "hello", b"\x01\x02\x03",
                      headers={"X-Request-ID": "trace-ws-1"}, protocols=("chat.v1",))
    assert result["hello"]["path"] == "/rooms/42?since=3"
    assert result["hello"]["headers"]["x-request-id"] == "trace-ws-1"
    assert result["answers"] == ["ws:hello", b"\x03\x02\x01"]
    assert result["protocol"] == "chat.v1"


def test_an_upstream_close_reaches_the_client(start_gateway, socket_upstream) -> None:
    gateway = start_gateway(services(socket_upstream.url))
    result = converse(ws_url(gateway, "/chat/events"), "bye")
    assert result["answers"] == [("closed", 4000)]


def test_paths_not_listed_are_refused(start_gateway, socket_upstream) -> None:
    gateway = start_gateway(services(socket_upstream.url))
    assert converse(ws_url(gateway, "/chat/items/1"))["refused"] == 404


def test_stub_mode_does_not_pass_sockets(start_gateway, socket_upstream) -> None:
    gateway = start_gateway(services(socket_upstream.url, mode="stub"))
    assert converse(ws_url(gateway, "/chat/events"))["refused"] == 409


def test_a_page_from_a_refused_origin_cannot_open_a_socket(start_gateway, socket_upstream) -> None:
    gateway = start_gateway(services(socket_upstream.url))
    refused = converse(ws_url(gateway, "/chat/events"), headers={"Origin": "https://evil.example"})
    allowed = converse(ws_url(gateway, "/chat/events"), "hi", headers={"Origin": "http://localhost:5173"})
    assert refused["refused"] == 403
    assert allowed["answers"] == ["ws:hi"]


def test_the_handshake_needs_a_valid_token_when_auth_is_on(start_gateway, socket_upstream) -> None:
    gateway = start_gateway(services(socket_upstream.url), auth={"require": "always", "jwt": {"secret": SECRET}})
    now = int(time.time())
    token = mint_token(SECRET, sub="ada", iat=now, exp=now + 60)
    forged = mint_token("another-secret-long-enough-for-hs256", sub="ada", iat=now, exp=now + 60)
    assert converse(ws_url(gateway, "/chat/events"))["refused"] == 401
    assert converse(ws_url(gateway, f"/chat/events?token={forged}"))["refused"] == 401
    by_query = converse(ws_url(gateway, f"/chat/events?token={token}"), "q")
    by_header = converse(ws_url(gateway, "/chat/events"), "h", headers={"Authorization": f"Bearer {token}"})
    assert by_query["answers"] == ["ws:q"] and by_header["answers"] == ["ws:h"]


def test_an_unreachable_upstream_refuses_the_handshake(start_gateway) -> None:
    gateway = start_gateway(services(f"http://127.0.0.1:{free_port()}"))
    assert converse(ws_url(gateway, "/chat/events"))["refused"] == 502


def test_refusals_are_problem_json(start_gateway, socket_upstream) -> None:
    gateway = start_gateway(services(socket_upstream.url, mode="stub"))
    handshake = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    with gateway.client() as client:
        refused = client.get("/chat/events", headers=handshake)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "stub mode" in refused.json()["detail"]
