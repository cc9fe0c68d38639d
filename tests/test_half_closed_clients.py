"""A half-closed client (its request, then `shutdown(SHUT_WR)`, then it waits, as `nc -q` and some HTTP/1.0 tools
do). By default (`server.half_close: close`) the FIN means the client has gone and an answer not yet written is
never sent (as nginx and uvicorn have it); with `server.half_close: answer` what it sent whole is answered, then
the connection closes. A request cut short by the FIN is never answered either way.

A real gateway on loopback proxies to an upstream that takes a moment, so the FIN arrives before the answer; the
clients are raw sockets, so the wire is what is seen.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from gw.settings.config import ConfigError, build_config
from tests.conftest import TEST_SPECS, GatewayThread, gateway_config, threaded_server

ECHO = str(TEST_SPECS / "echo.yaml")
STREAMS = str(TEST_SPECS / "streams.yaml")
REQUEST = b"GET /echo/items/%d HTTP/1.1\r\nHost: t\r\n\r\n"


class Late(BaseHTTPRequestHandler):
    """Answers `{"item": N}` after 0.3 s: the client's FIN is in long before."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        time.sleep(0.3)
        body = b'{"item": %s}' % self.path.rsplit("/", 1)[-1].encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.do_GET()


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with threaded_server(Late) as url:
        yield url


@pytest.fixture
def served(upstream: str) -> Iterator[Callable[[str], int]]:
    """Start a gateway with `server.half_close` set as asked; its port."""
    started: list[GatewayThread] = []

    def start(half_close: str) -> int:
        services = {"echo": {"spec": ECHO, "mode": "live", "upstream": upstream}, "streams": {"spec": STREAMS}}
        gateway = GatewayThread(gateway_config(services, server={"half_close": half_close},
                                               streams={"interval": "100ms"})).__enter__()
        started.append(gateway)
        return gateway.port

    yield start
    for gateway in started:
        gateway.__exit__(None, None, None)


def half_closed(port: int, data: bytes) -> bytes:
    """Send `data`, shut the sending side, and read everything until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while piece := sock.recv(65536):
                received += piece
        except ConnectionResetError:
            pass
    return received


def test_by_default_a_client_that_shuts_its_sending_side_has_gone(served: Callable[[str], int]) -> None:
    assert half_closed(served("close"), REQUEST % 1) == b""


def test_half_close_answer_answers_what_was_sent_then_closes(served: Callable[[str], int]) -> None:
    received = half_closed(served("answer"), REQUEST % 1)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nconnection: close" in head.lower()
    assert body == b'{"item": 1}'


def test_half_close_answer_answers_http_1_0_and_pipelined_requests_in_order(served: Callable[[str], int]) -> None:
    port = served("answer")
    assert half_closed(port, b"GET /echo/items/7 HTTP/1.0\r\n\r\n").endswith(b'{"item": 7}')
    put = b'PUT /echo/items/5 HTTP/1.1\r\nHost: t\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}'
    assert half_closed(port, put).endswith(b'{"item": 5}')  # a body sent whole is read after the FIN
    received = half_closed(port, REQUEST % 1 + REQUEST % 2 + REQUEST % 3)
    assert received.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert received.index(b'{"item": 1}') < received.index(b'{"item": 2}') < received.index(b'{"item": 3}')


def test_half_close_answer_sends_a_paced_stream_whole(served: Callable[[str], int]) -> None:
    received = half_closed(served("answer"), b"GET /streams/ticks HTTP/1.1\r\nHost: t\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.count(b"data: ") == 3 and received.endswith(b"\r\n0\r\n\r\n")  # every event, then the last chunk


@pytest.mark.parametrize("cut_short", [b"GET /echo/items/1 HTTP/1.1\r\nHost: t\r\n",
                                       b"PUT /echo/items/1 HTTP/1.1\r\nHost: t\r\ncontent-length: 10\r\n\r\n{}"])
def test_half_close_answer_never_answers_a_request_cut_short(served: Callable[[str], int], cut_short: bytes) -> None:
    assert half_closed(served("answer"), cut_short) == b""


def test_half_close_takes_close_or_answer() -> None:
    assert build_config({}, "test").server.half_close == "close"
    with pytest.raises(ConfigError, match=r"server.half_close: must be one of close, answer"):
        build_config({"server": {"half_close": "keep"}}, "test")


@pytest.mark.parametrize("cut_short", [b"GET /echo/items/2 HT",
                                       b"PUT /echo/items/2 HTTP/1.1\r\nHost: t\r\ncontent-length: 10\r\n\r\n{}"])
def test_half_close_answer_answers_the_whole_requests_before_one_cut_short(served: Callable[[str], int],
                                                                           cut_short: bytes) -> None:
    received = half_closed(served("answer"), REQUEST % 1 + cut_short)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")  # (its head may have gone out before the FIN: no `connection: close`)
    assert body == b'{"item": 1}'  # the whole one, nothing for the one cut short, then the close (half_closed reads to it)
