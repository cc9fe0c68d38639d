"""`server.send_timeout`: a client that stops reading its answer is cut once it has taken nothing for that long, and
the app hears it has gone (a live hop lets go of its upstream connection); a slow reader that keeps reading is not.

A real gateway on loopback proxies a large answer from a threaded upstream; the client is a raw socket with a tiny
receive buffer, so its window fills after a few kilobytes and gw's write buffer fills behind it.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from gw.server.connections import uvicorn_limits
from gw.settings.config import ConfigError, build_config
from gw.settings.policy_settings import ServerSettings
from tests.conftest import GatewayThread, eventually, gateway_config, log_records, threaded_server, uvicorn_in_thread

SEND_TIMEOUT = 0.5
SIZE = 256 << 20  # far more than the kernel's and gw's buffers hold: the answer never fits in flight
SPEC = """openapi: 3.0.3
info: {title: large answers, version: "1.0"}
paths:
  /large:
    get:
      operationId: large
      responses:
        "200": {description: many bytes, content: {application/octet-stream: {schema: {type: string, format: binary}}}}
"""


class Upstream:
    """How the upstream's one answer ended: `done`, or the OSError its write met when gw let go of the connection."""

    ended: threading.Event
    how: str


class LargeAnswer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("content-length", str(SIZE))
        self.end_headers()
        piece = b"x" * 65536
        try:
            for _ in range(SIZE // len(piece)):
                self.wfile.write(piece)
            Upstream.how = "done"
        except OSError as exc:
            Upstream.how = type(exc).__name__
        Upstream.ended.set()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayThread]:
    spec = tmp_path / "large.yaml"
    spec.write_text(SPEC)
    Upstream.ended, Upstream.how = threading.Event(), ""
    with threaded_server(LargeAnswer) as url, GatewayThread(gateway_config(
            {"large": {"spec": str(spec), "mode": "live", "upstream": url}}, server={"send_timeout": SEND_TIMEOUT})) as gw:
        yield gw


def stalled_client(port: int) -> socket.socket:
    """A client that asks for the large answer with a receive buffer of a few kilobytes."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /large/large HTTP/1.1\r\nHost: t\r\n\r\n")
    return sock


def cut_lines(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if "server.send_timeout" in r.getMessage()]


def test_a_client_that_stops_reading_is_cut_and_the_upstream_let_go(gateway: GatewayThread) -> None:
    with log_records("gw.connections", logging.INFO) as records, stalled_client(gateway.port) as sock:
        assert Upstream.ended.wait(30), "the upstream connection was never let go"
        assert Upstream.how != "done"  # cut half-way: the upstream's write failed
        assert cut_lines(eventually(lambda: records, cut_lines))[0].endswith(
            f"it took none of its answer for {SEND_TIMEOUT:g}s (server.send_timeout)")
        sock.settimeout(30)
        received = 0
        try:
            while piece := sock.recv(1 << 20):  # what was in flight still arrives, then the end
                received += len(piece)
        except ConnectionResetError:
            pass
    assert 0 < received < SIZE


def test_a_slow_reader_that_keeps_reading_is_not_cut(gateway: GatewayThread) -> None:
    with log_records("gw.connections", logging.INFO) as records, stalled_client(gateway.port) as sock:
        sock.settimeout(10)
        received = 0
        started = time.monotonic()
        while time.monotonic() - started < 6 * SEND_TIMEOUT:  # a few kilobytes at a time, for several send_timeouts
            piece = sock.recv(8192)
            assert piece, "the connection was closed"
            received += len(piece)
            time.sleep(0.1)
        assert not Upstream.ended.is_set()  # still being answered
        assert cut_lines(records) == []


async def whole_answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An answer at hand, sent whole at once: the app is done long before the client has it."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % (64 << 20))]})
        await send({"type": "http.response.body", "body": b"x" * (64 << 20)})


def test_an_answer_left_untaken_after_the_app_is_done_is_dropped_with_its_connection() -> None:
    """Answered, idle past keep-alive, its close waiting for a buffer the client never takes: cut all the same."""
    limits = uvicorn_limits(ServerSettings(send_timeout=SEND_TIMEOUT, keep_alive=0.2))
    with (uvicorn_in_thread(whole_answer, **limits) as (port, _), log_records("gw.connections", logging.INFO) as records,
          socket.socket() as sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        eventually(lambda: records, cut_lines, timeout=30)
        sock.settimeout(30)
        received = 0
        try:
            while piece := sock.recv(1 << 20):
                received += len(piece)
        except ConnectionResetError:
            pass
    assert 0 < received < 64 << 20


def test_send_timeout_has_a_default_and_must_be_positive() -> None:
    assert ServerSettings().send_timeout == 30
    assert build_config({"server": {"send_timeout": "750ms"}}, "test").server.send_timeout == 0.75
    with pytest.raises(ConfigError, match=r"server.send_timeout: must be more than 0s"):
        build_config({"server": {"send_timeout": 0}}, "test")
