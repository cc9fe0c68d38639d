"""gw's own HTTP/1.1 protocol (gateway/server/connections.py, request_cycle.py, answer_head.py) keeps what uvicorn's
promised an ASGI app and its clients: framing, HEAD, HTTP/1.0, `Connection: close`, chunked bodies both ways,
`100 Continue`, a disconnect told to the app, a 500 for an answer never started, 400 for garbage, the scope's
addresses and root_path, and answer headers checked (CR/LF in a value never reaches the wire).

A bare ASGI app runs on uvicorn with the protocol, on loopback; clients speak raw bytes so the wire is what is seen.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from gw.core.port_check import free_port
from gw.server.answer_head import Framing, encode_head
from gw.server.connections import uvicorn_limits
from gw.settings.policy_settings import ServerSettings
from tests.conftest import uvicorn_in_thread, whole_body

SEEN: dict[str, Any] = {}  # what the app saw, by test


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path.endswith("/echo"):  # the body read whole, then answered with the scope's facts
        body = await whole_body(receive)
        facts = {"body": body.decode(), "client": scope["client"][0], "server": list(scope["server"]),
                 "root_path": scope["root_path"], "path": path, "raw_path": scope["raw_path"].decode(),
                 "query": scope["query_string"].decode(), "version": scope["http_version"], "scheme": scope["scheme"],
                 "connection": "gw.connection" in scope["extensions"]}
        answer = json.dumps(facts).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})
    elif path.endswith("/stream"):  # no content-length: chunked, each piece as it is sent
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for n in range(3):
            await send({"type": "http.response.body", "body": b"data: %d\n\n" % n, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path.endswith("/split"):  # a header value smuggling a second header
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-evil", b"a\r\nset-cookie: b=c")]})
        await send({"type": "http.response.body", "body": b""})
    elif path.endswith("/silent"):  # never starts an answer
        return
    elif path.endswith("/wait-disconnect"):
        SEEN["disconnect"] = (await receive())["type"]  # the request's body (none)
        SEEN["disconnect"] = (await receive())["type"]  # then the client goes away
    else:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"Content-Type", b"text/plain"), (b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with uvicorn_in_thread(app, root_path="/api", **uvicorn_limits(ServerSettings(keep_alive=30))) as (port, _):
        yield port


def exchange(port: int, data: bytes, *, until_close: bool = True, wait: float = 5.0) -> bytes:
    """Send `data`, read until the server closes (or until `wait` passes without a byte)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        got = b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
                if not until_close and got.count(b"\r\n\r\n") and b"ok" in got:
                    break
        except TimeoutError:
            pass
        return got


def test_an_answer_keeps_the_connection_and_lower_cases_the_app_s_header_names(port: int) -> None:
    got = exchange(port, b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n", until_close=False)
    head, body = got.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\ndate: ") and b"\r\ncontent-type: text/plain\r\n" in head
    assert b"connection: close" not in head and body == b"ok"


def test_http_1_0_and_connection_close_are_answered_then_closed(port: int) -> None:
    for request in (b"GET /x HTTP/1.0\r\n\r\n", b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"):
        got = exchange(port, request)
        assert got.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nconnection: close\r\n" in got and got.endswith(b"\r\n\r\nok")


def test_a_head_answer_has_its_length_and_no_body(port: int) -> None:
    got = exchange(port, b"HEAD /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 2\r\n" in got and got.endswith(b"\r\n\r\n")


def test_a_chunked_request_body_reaches_the_app_and_the_scope_is_whole(port: int) -> None:
    got = exchange(port, b"POST /echo?a=1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                         b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    facts = json.loads(got.split(b"\r\n\r\n", 1)[1])
    assert facts == {"body": "abcde", "client": "127.0.0.1", "server": ["127.0.0.1", port], "root_path": "/api",
                     "path": "/api/echo", "raw_path": "/api/echo", "query": "a=1", "version": "1.1", "scheme": "http",
                     "connection": True}


def test_expect_100_continue_is_answered_when_the_app_reads(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        got = b""
        while b'"body": "hello"' not in got:
            chunk = sock.recv(65536)
            assert chunk, got
            got += chunk


def test_an_answer_without_length_is_chunked_piece_by_piece(port: int) -> None:
    got = exchange(port, b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head, body = got.split(b"\r\n\r\n", 1)
    assert b"\r\ntransfer-encoding: chunked" in head
    assert body == b"9\r\ndata: 0\n\n\r\n9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n"


def test_a_header_value_carrying_a_line_end_never_reaches_the_wire(port: int) -> None:
    got = exchange(port, b"GET /split HTTP/1.1\r\nHost: t\r\n\r\n")
    assert b"set-cookie" not in got and b"x-evil" not in got


def test_an_answer_never_started_is_a_500(port: int) -> None:
    got = exchange(port, b"GET /silent HTTP/1.1\r\nHost: t\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 500 Internal Server Error\r\n") and got.endswith(b"\r\n\r\nInternal Server Error")


def test_garbage_is_a_400(port: int) -> None:
    got = exchange(port, b"NOT HTTP AT ALL\x00\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 400 Bad Request\r\n") and got.endswith(b"Invalid HTTP request received.")


def test_the_app_hears_of_a_client_that_left(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /wait-disconnect HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.2)
    deadline = time.monotonic() + 5
    while SEEN.get("disconnect") != "http.disconnect":
        assert time.monotonic() < deadline, SEEN
        time.sleep(0.02)


def test_the_head_is_encoded_as_uvicorn_did() -> None:
    framing = Framing(keep_alive=False)
    head = encode_head(201, [(b"Content-Type", b"application/json"), (b"content-length", b"2"), (b"x-tab", b"a\tb")],
                       b"date: today\r\n", False, framing)
    assert head == (b"HTTP/1.1 201 Created\r\ndate: today\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
                    b"x-tab: a\tb\r\nconnection: close\r\n\r\n")
    assert (framing.chunked, framing.length, framing.keep_alive) == (False, 2, False)


@pytest.mark.parametrize(("name", "value", "error"), [
    (b"x-a", b"one\r\ntwo", "value"), (b"x-a", b"one\ntwo", "value"), (b"x-a", b"one\rtwo", "value"),
    (b"x-a", b"nul\x00", "value"), (b"x-a", b"del\x7f", "value"), (b"x a", b"v", "name"), (b"x:a", b"v", "name"),
])
def test_a_bad_header_is_refused(name: bytes, value: bytes, error: str) -> None:
    with pytest.raises(RuntimeError, match=f"Invalid HTTP header {error}"):
        encode_head(200, [(b"content-length", b"0"), (name, value)], b"", False, Framing(keep_alive=True))


def test_an_idle_keep_alive_connection_is_closed_and_a_busy_one_is_not() -> None:
    async def run() -> None:
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                lifespan="off", **uvicorn_limits(ServerSettings(keep_alive=0.5)))
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(6):  # 1.2 s of requests 0.2 s apart: longer than the keep-alive, never idle that long
            writer.write(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
            assert (await reader.readuntil(b"\r\n\r\nok")).startswith(b"HTTP/1.1 200 OK")
            await asyncio.sleep(0.2)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # then idle: closed by the server
        writer.close()
        server.should_exit = True
        await task

    asyncio.run(run())
