"""What the live hop does per answer, pinned by behaviour (no timings): a streamed answer goes through as it
comes with the validation proxy on (judged event by event, or by its head, never buffered whole), and the
cheaper per-answer work (declared status and media type looked up once per Content-Type, headers filtered
in one pass) still judges and forwards what it did."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml

from tests.conftest import GatewayThread, eventually, gateway_config, threaded_server

ITEMS = {"type": "array", "items": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}}
SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "held streams", "version": "1"},
    "paths": {
        "/feed": {"get": {"operationId": "feed", "responses": {"200": {
            "description": "a JSON array, sent chunked without a length",
            "content": {"application/json": {"schema": ITEMS}}}}}},
        "/lines": {"get": {"operationId": "lines", "responses": {"200": {
            "description": "JSON Lines, one item a line",
            "content": {"application/x-ndjson": {"schema": ITEMS}}}}}},
        "/typed": {"get": {"operationId": "typed", "responses": {"200": {
            "description": "declared for JSON only",
            "headers": {"X-Count": {"required": True, "schema": {"type": "integer"}}},
            "content": {"application/json": {"schema": ITEMS}}}}}},
    },
}
FIRST = b'[{"n": 1},' + b" " * 70_000  # more than the forwarder reads whole (64 KiB): streamed on
REST = b'{"n": 2}]'


class HeldUpstream(BaseHTTPRequestHandler):
    """Sends the first part of its answer, then holds the rest until the test's client has read that part."""

    protocol_version = "HTTP/1.1"
    gate = threading.Event()
    released: ClassVar[list[bool]] = []
    parts: ClassVar[dict[str, tuple[str, list[bytes]]]] = {
        "/feed": ("application/json", [FIRST, REST]),
        "/lines": ("application/x-ndjson", [b'{"n": 1}\n', b'{"n": "two"}\n{"n": 3}\n']),
    }

    def do_GET(self) -> None:
        if self.path == "/typed":
            self._typed()
            return
        media, parts = self.parts[self.path]
        self.send_response(200)
        self.send_header("Content-Type", media)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "keep-alive, X-Hop-Secret")
        self.send_header("X-Hop-Secret", "dropped")
        self.end_headers()
        self._chunk(parts[0])
        self.released.append(self.gate.wait(5))
        for part in parts[1:]:
            self._chunk(part)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _typed(self) -> None:
        body = json.dumps([{"n": 1}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", self.headers.get("X-Answer-Type", "application/json"))
        self.send_header("Content-Length", str(len(body)))
        if self.headers.get("X-Send-Count"):
            self.send_header("X-Count", self.headers["X-Send-Count"])
        self.end_headers()
        self.wfile.write(body)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        self.wfile.flush()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    spec = tmp_path_factory.mktemp("held") / "held.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    with threaded_server(HeldUpstream) as url:
        config = gateway_config({"held": {"spec": str(spec), "base_path": "/", "mode": "live", "upstream": url,
                                          "retries": 0}})
        with GatewayThread(config) as served:
            yield served


def read_releasing(client: httpx.Client, path: str) -> tuple[httpx.Response, bytes]:
    """Read the answer; once its first bytes are in, let the upstream send the rest."""
    HeldUpstream.gate.clear()
    HeldUpstream.released.clear()
    received = b""
    with client.stream("GET", path) as response:
        for chunk in response.iter_raw():
            received += chunk
            HeldUpstream.gate.set()
    return response, received


def test_an_unsized_json_answer_goes_through_as_it_comes_with_the_validation_proxy_on(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        response, received = read_releasing(client, "/feed")
    assert HeldUpstream.released == [True]  # the client had the first part while the upstream held the rest
    assert response.status_code == 200 and response.headers["x-gw-source"] == "live"
    assert json.loads(received) == [{"n": 1}, {"n": 2}]
    assert "x-gw-contract" not in response.headers  # its head was judged; a streamed body is never held to be
    assert "x-hop-secret" not in response.headers  # named in the upstream's Connection header: hop-by-hop


def test_json_lines_are_judged_one_by_one_as_they_pass(gateway: GatewayThread) -> None:
    before = gateway.app.contract.violations[("held", "lines")]
    with gateway.client() as client:
        _, received = read_releasing(client, "/lines")
    assert HeldUpstream.released == [True]  # the first line reached the client before the upstream sent the second
    assert received == b'{"n": 1}\n{"n": "two"}\n{"n": 3}\n'  # passed on unchanged, the breaking line too
    assert eventually(lambda: gateway.app.contract.violations[("held", "lines")]) == before + 1  # counted once


def test_a_media_type_the_status_does_not_declare_is_still_a_violation_every_time(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        for _ in range(2):  # the second answer is judged from the looked-up declaration: the same verdict
            response = client.get("/typed", headers={"X-Answer-Type": "text/csv", "X-Send-Count": "1"})
            assert response.headers["x-gw-contract"] == "violation"
            assert "content type text/csv is not declared for 200" in response.headers["x-gw-contract-reason"]


def test_declared_headers_are_judged_only_where_declared(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        missing = client.get("/typed")
        wrong = client.get("/typed", headers={"X-Send-Count": "many"})
        right = client.get("/typed", headers={"X-Send-Count": "3"})
        elsewhere = client.get("/feed")  # declares no headers: nothing asked of them
    assert missing.headers["x-gw-contract-reason"] == "header X-Count: required header is missing"
    assert wrong.headers["x-gw-contract"] == "violation" and "X-Count" in wrong.headers["x-gw-contract-reason"]
    assert "x-gw-contract" not in right.headers
    assert "x-gw-contract" not in elsewhere.headers


def test_forwarded_request_headers_keep_their_order_and_the_forwarded_chain(tmp_path: Path) -> None:
    seen: list[list[tuple[str, str]]] = []

    class Echo(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append(list(self.headers.items()))
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    spec = tmp_path / "held.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    with threaded_server(Echo) as url, GatewayThread(gateway_config(
            {"held": {"spec": str(spec), "base_path": "/", "mode": "live", "upstream": url, "retries": 0}})) as served:
        headers = [("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-For", "198.51.100.2"), ("X-One", "1"),
                   ("Connection", "keep-alive, X-Drop"), ("X-Drop", "secret"), ("X-Two", "2")]
        with served.client() as client:
            assert client.get("/feed", headers=headers).status_code == 200
    names = [name.lower() for name, _ in seen[0]]
    assert "x-drop" not in names  # named in the client's Connection header: hop-by-hop
    assert names.index("x-one") < names.index("x-two")
    forwarded = dict((k.lower(), v) for k, v in seen[0])
    assert forwarded["x-forwarded-for"] == "203.0.113.7, 198.51.100.2, 127.0.0.1"
    assert forwarded["x-forwarded-host"].startswith("127.0.0.1:")
