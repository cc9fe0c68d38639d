"""A real upstream that has drifted from tests/specs/drift.yaml, one way per operation.

`gw contract --target live` (through the gateway) and `--target URL` (straight at it) must name
each drifting operation and the check it fails, and leave getHealth alone. Plain http.server in a
thread: no framework between the test and the bytes on the wire.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ROUTES: list[tuple[re.Pattern[str], int, object]] = [
    (re.compile(r"^/widgets$"), 201, [{"id": 1, "name": "sprocket"}]),  # undeclared status
    (re.compile(r"^/widgets/[^/]+$"), 200, {"id": "1", "name": "sprocket"}),  # id: string, not integer
    (re.compile(r"^/owners/[^/]+$"), 200, {"id": 1}),  # required email missing
    (re.compile(r"^/health$"), 200, {"status": "ok"}),  # as the contract says
]


class DriftingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        for pattern, status, body in ROUTES:
            if pattern.match(path):
                self._send(status, body)
                return
        self._send(404, {"error": "not found"})

    def do_HEAD(self) -> None:
        self._send(405, {"error": "method not allowed"}, {"Allow": "GET"})

    # Every other method, QUERY included (schemathesis tries it): 405 with Allow, as the check expects.
    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_TRACE = do_QUERY = do_HEAD

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


class DriftingUpstream:
    """Serves DriftingHandler on 127.0.0.1:<free port> until `stop()`."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), DriftingHandler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> DriftingUpstream:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
