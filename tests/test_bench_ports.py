"""bench/peers.py: each server of a run gets a port of its own, and a server counts as ready only when it answers
its ready path with a success (another server answering 404 on that port is not it)."""

from __future__ import annotations

import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from bench import peers
from tests.conftest import threaded_server


def test_a_port_the_kernel_hands_out_twice_goes_to_one_server_only(monkeypatch: pytest.MonkeyPatch) -> None:
    offered = iter([41001, 41001, 41001, 41002, 41003])
    monkeypatch.setattr(peers, "free_port", lambda: next(offered))
    monkeypatch.setattr(peers, "_given", set())
    assert [peers.fresh_port(), peers.fresh_port(), peers.fresh_port()] == [41001, 41002, 41003]


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
