"""gw's HTTP/1.1 protocol against the defects a raw-socket review found (notes/s8/review.md): framing headers that
contradict each other never reach the wire, a 204/304 with a length keeps the connection, trailers stay out of the
scope and under the head cap, pipelined requests queue in bounded numbers and a later request's refusal waits for
the answers before it, Host is required once, HTTP/1.0 never gets chunks, and upgrades never swallow or mix answers.

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

from gw.server.connections import MAX_QUEUED, uvicorn_limits
from gw.settings.policy_settings import ServerSettings
from tests.conftest import uvicorn_in_thread, whole_body

MAX_HEADER_SIZE = 4096
FRAMING: dict[str, list[tuple[bytes, bytes]]] = {
    "/cl-twice": [(b"content-length", b"2"), (b"content-length", b"0")],
    "/cl-te": [(b"content-length", b"2"), (b"transfer-encoding", b"chunked")],
    "/te-cl": [(b"transfer-encoding", b"chunked"), (b"content-length", b"2")],
    "/cl-plus": [(b"content-length", b"+2")],
    "/cl-negative": [(b"content-length", b"-1")],
    "/te-gzip": [(b"transfer-encoding", b"gzip")],
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close"})
        return
    if scope["type"] != "http":
        return
    path = scope["path"]
    await whole_body(receive)  # read to its end before any answer
    if path in FRAMING:
        await send({"type": "http.response.start", "status": 200, "headers": FRAMING[path]})
        await send({"type": "http.response.body", "body": b"{}"})
    elif path == "/te-gzip-chunked":  # the last coding is chunked: chunked it is, one transfer-encoding line
        await send({"type": "http.response.start", "status": 200, "headers": [(b"transfer-encoding", b"gzip, chunked")]})
        await send({"type": "http.response.body", "body": b"{}"})
    elif path in ("/204", "/304"):
        await send({"type": "http.response.start", "status": int(path[1:]), "headers": [(b"content-length", b"1234")]})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/headers":
        answer = json.dumps(sorted(name.decode() for name, _ in scope["headers"])).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(answer))]})
        await send({"type": "http.response.body", "body": answer})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"one,", "more_body": True})
        await send({"type": "http.response.body", "body": b"two"})
    else:
        if path == "/slow":
            await asyncio.sleep(0.6)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[int, uvicorn.Server]]:
    with uvicorn_in_thread(app, **uvicorn_limits(ServerSettings(keep_alive=30, max_header_size=MAX_HEADER_SIZE))) as served:
        yield served


@pytest.fixture
def port(served: tuple[int, uvicorn.Server]) -> int:
    return served[0]


def exchange(port: int, data: bytes, wait: float = 3.0) -> bytes:
    """Send `data`, read until the server closes (or `wait` passes without a byte)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        got = b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except TimeoutError:
            got += b"<TIMEOUT>"
        return got


def get(path: str, extra: bytes = b"") -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (path.encode(), extra)


CLOSE = b"Connection: close\r\n"


@pytest.mark.parametrize("path", sorted(FRAMING))
def test_framing_headers_that_contradict_each_other_never_reach_the_wire(port: int, path: str) -> None:
    got = exchange(port, get(path, CLOSE))
    assert not got.startswith(b"HTTP/1.1 200"), got  # refused as a value with CR/LF is: the connection is cut
    assert got.lower().count(b"content-length") + got.lower().count(b"transfer-encoding") <= 1, got


def test_a_transfer_encoding_ending_in_chunked_is_chunked(port: int) -> None:
    got = exchange(port, get("/te-gzip-chunked", CLOSE))
    head, body = got.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") and head.lower().count(b"transfer-encoding") == 1
    assert body == b"2\r\n{}\r\n0\r\n\r\n"


def test_a_204_or_304_with_a_length_keeps_the_connection_and_the_requests_behind_it(port: int) -> None:
    got = exchange(port, get("/304") + get("/204") + get("/x", CLOSE))
    assert got.count(b"HTTP/1.1 ") == 3, got
    first, second, third = got.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"304 ") and b"content-length: 1234\r\n" in first and first.endswith(b"\r\n\r\n")
    assert second.startswith(b"204 ") and b"content-length" not in second and second.endswith(b"\r\n\r\n")
    assert third.startswith(b"200 ") and third.endswith(b"ok")


def test_trailers_never_reach_the_scope(port: int) -> None:
    got = exchange(port, b"POST /headers HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                         b"2\r\n{}\r\n0\r\nX-Injected: yes\r\nHost: evil.example\r\n\r\n")
    assert json.loads(got.split(b"\r\n\r\n", 1)[1]) == ["connection", "host", "transfer-encoding"]


def test_trailers_count_against_the_head_cap(port: int) -> None:
    line = b"X-T: " + b"a" * 1000 + b"\r\n"
    got = exchange(port, b"POST /headers HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n"
                         + line * 8 + b"\r\n")
    assert got.startswith(b"HTTP/1.1 431 "), got[:200]
    assert b"application/problem+json" in got and b"trailer" in got



def test_one_endless_trailer_line_is_refused_once_past_the_head_cap(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /headers HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: ")
        got = b""
        try:
            for _ in range(64):  # 64 x 1 KB of one line, a read at a time; the cap is 4 KB
                sock.sendall(b"a" * 1024)
                time.sleep(0.01)
        except OSError:
            pass
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except (TimeoutError, OSError):
            pass
    assert got.startswith(b"HTTP/1.1 431 "), got[:200]



def test_a_chunked_body_dribbled_chunk_by_chunk_is_not_taken_for_trailers(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"POST /headers HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nc8\r\n")
        for _ in range(40):  # each read ends just after a size line: 40 x ~200 bytes, more than the 4 KB cap in all
            time.sleep(0.005)
            sock.sendall(b"a" * 200 + b"\r\nc8\r\n")
        sock.sendall(b"a" * 200 + b"\r\n0\r\n\r\n")
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
    assert got.startswith(b"HTTP/1.1 200 OK"), got[:200]


def test_pipelined_requests_queue_in_bounded_numbers_and_are_all_answered(served: tuple[int, uvicorn.Server]) -> None:
    port, server = served
    count = 2000
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(get("/slow") + get("/x") * count + get("/x", CLOSE))
        time.sleep(0.3)  # the slow answer holds the rest
        queued = max((len(conn.pipeline) for conn in list(server.server_state.connections)), default=0)
        got = b""
        while chunk := sock.recv(1 << 20):
            got += chunk
    assert 0 < queued <= MAX_QUEUED + 4096 // len(get("/x")) + 1, queued
    assert got.count(b"HTTP/1.1 200 OK") == count + 2


def test_a_later_requests_refusal_comes_after_the_earlier_answer(port: int) -> None:
    got = exchange(port, get("/slow") + get("/x", b"X-Big: " + b"a" * 2 * MAX_HEADER_SIZE + b"\r\n"))
    assert got.startswith(b"HTTP/1.1 200 OK"), got[:200]
    assert got.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 431 " in got and not got.endswith(b"<TIMEOUT>")


@pytest.mark.parametrize("request_", [b"GET /x HTTP/1.1\r\n\r\n", b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"])
def test_an_http_1_1_request_needs_exactly_one_host(port: int, request_: bytes) -> None:
    got = exchange(port, request_)
    assert got.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"content-type: application/problem+json" in got
    assert json.loads(got.split(b"\r\n\r\n", 1)[1])["status"] == 400


def test_http_1_0_never_gets_chunks_and_the_close_ends_the_body(port: int) -> None:
    got = exchange(port, b"GET /stream HTTP/1.0\r\n\r\n")
    head, body = got.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding" not in head.lower()
    assert b"connection: close" in head and body == b"one,two"


def test_a_websocket_upgrade_pipelined_behind_an_answer_never_mixes_with_it(port: int) -> None:
    upgrade = (b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    got = exchange(port, get("/slow") + upgrade)
    assert got.startswith(b"HTTP/1.1 200 OK") and b"101 Switching" not in got, got[:300]
    assert b"HTTP/1.1 400 " in got and not got.endswith(b"<TIMEOUT>")


def test_requests_after_an_unsupported_upgrade_in_the_same_read_are_answered(port: int) -> None:
    got = exchange(port, get("/x", b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n")
                   + get("/x", CLOSE))
    assert got.count(b"HTTP/1.1 200 OK") == 2, got



def test_the_body_of_an_unsupported_upgrade_is_never_read_as_a_request(port: int) -> None:
    smuggled = get("/smuggled")
    got = exchange(port, b"POST /x HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: %d\r\n\r\n%s"
                   % (len(smuggled), smuggled))
    assert got.count(b"HTTP/1.1 ") == 1 and got.startswith(b"HTTP/1.1 200 OK") and b"connection: close" in got, got
