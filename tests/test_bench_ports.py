"""Each server started gets a port of its own (gw.core.port_check.free_port), and a benchmarked server counts as
ready only when it answers its ready path with a success (another server answering 404 on that port is not it)."""

from __future__ import annotations

import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from bench import peers
from gw.core import port_check
from tests.conftest import threaded_server


class OfferedPorts:
    """A socket whose bind(0) is given the ports in `offered`, one per socket, as the kernel might choose them."""

    def __init__(self, offered: list[int]) -> None:
        self.offered = iter(offered)

    def __call__(self) -> OfferedPorts:
        self.port = next(self.offered)
        return self

    def __enter__(self) -> OfferedPorts:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def bind(self, address: tuple[str, int]) -> None:
        pass

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


def test_a_port_the_kernel_offers_twice_goes_to_one_server_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(port_check.socket, "socket", OfferedPorts([41001, 41001, 41001, 41002, 41003]))
    monkeypatch.setattr(port_check, "_given", {})
    assert [port_check.free_port(), port_check.free_port(), port_check.free_port()] == [41001, 41002, 41003]


def test_only_the_last_ports_given_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    offered = list(range(42000, 42000 + port_check.GIVEN_KEPT + 1))
    monkeypatch.setattr(port_check.socket, "socket", OfferedPorts([*offered, 42000]))
    monkeypatch.setattr(port_check, "_given", {})
    given = [port_check.free_port() for _ in offered]
    assert given == offered
    assert port_check.free_port() == 42000  # the oldest, forgotten: offered again, it is taken


class NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_404_on_the_ready_path_is_not_the_server_being_ready(tmp_path: Path) -> None:
    with threaded_server(NotFound) as url:
        port = int(url.rsplit(":", 1)[1])
        server = peers.Server("late", [], port, "/_gw/health", tmp_path / "log")
        server.proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            assert peers.wait_ready(server, timeout=1) == "was not ready after 1s"
        finally:
            server.proc.kill()
            server.proc.wait()


def test_a_server_that_exited_is_not_ready_even_if_its_port_answers(tmp_path: Path) -> None:
    class Ok(NotFound):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with threaded_server(Ok) as url:
        port = int(url.rsplit(":", 1)[1])
        server = peers.Server("gone", [], port, "/_gw/health", tmp_path / "log")
        server.proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
        server.proc.wait()
        assert peers.wait_ready(server, timeout=1) == "exited with code 3"
