"""Aborted uploads: a client that declares a body and leaves half-way never reaches the upstream as a
complete, shorter request, is never recorded or journaled as answered, and is counted
(`gw_aborted_requests_total`). Real `gw serve` processes, a raw loopback upstream that reports what it
received and whether the body was whole, and raw-socket clients."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gw.core.logs import SERVER_LOGGERS, setup_logging
from gw.core.port_check import free_port
from gw.edge.aborted import BodyGuard, ClientAborted
from tests.conftest import ROOT, GatewayProcess

SPEC = ROOT / "tests" / "specs" / "uploads.yaml"
DECLARED = 1_000_000
SENT = 300_000
STREAM_DECLARED = 1_000_000
STREAM_SENT = 200_000


@dataclass
class Seen:
    method: str
    path: str
    declared: int | None  # Content-Length, None when chunked
    received: int
    complete: bool


class RawUpstream:
    """A loopback HTTP/1.1 upstream, on a raw asyncio server, that records every request it gets and
    whether its body arrived whole. `GET /download` answers a Content-Length it never finishes."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.seen: list[Seen] = []
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RawUpstream:
        self.thread.start()
        self.started.wait(5)
        return self

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self.started.set()
        self.loop.run_forever()
        server.close()
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        seen = Seen(method, path, None, 0, False)
        self.seen.append(seen)
        if "content-length" in headers:
            seen.declared = int(headers["content-length"])
            while seen.received < seen.declared:
                chunk = await reader.read(min(65536, seen.declared - seen.received))
                if not chunk:
                    return False  # the body broke off: the request is not answered
                seen.received += len(chunk)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await reader.readexactly(size + 2)
                seen.received += size
                if size == 0:
                    break
                del data
        seen.complete = True
        if path == "/download":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
                         b"content-length: %d\r\n\r\n" % STREAM_DECLARED)
            writer.write(b"y" * STREAM_SENT)
            await writer.drain()
            return False  # cut: the connection closes with the answer unfinished
        body = json.dumps({"received": seen.received}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                     % (len(body), body))
        await writer.drain()
        return True

    def requests_to(self, prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(prefix)]


def serve(folder: Path, start: Callable[..., GatewayProcess], mode: str, upstream: str) -> GatewayProcess:
    (folder / "gateway.yaml").write_text(
        f"services:\n  files:\n    spec: {SPEC}\n    base_path: /\n    mode: {mode}\n    upstream: {upstream}\n")
    return start(cwd=folder).wait_ready()


@dataclass
class Proxied:
    """A `gw serve` in a proxying mode in front of a RawUpstream, shared by the tests of one mode."""

    mode: str
    gateway: GatewayProcess
    upstream: RawUpstream
    folder: Path


@pytest.fixture(scope="module", params=["live", "record"])
def proxied(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    folder = tmp_path_factory.mktemp(request.param)
    with RawUpstream() as upstream:
        gateway = serve(folder, lambda **kw: GatewayProcess([], **kw), request.param, upstream.url)
        try:
            yield Proxied(request.param, gateway, upstream, folder)
        finally:
            gateway.stop()


def cut_content_length(port: int, path: str, method: str = "PUT", media: str = "application/octet-stream") -> None:
    """Declares DECLARED bytes, sends SENT, and leaves."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {media}\r\n"
                     f"Content-Length: {DECLARED}\r\n\r\n".encode() + b"z" * SENT)


def cut_chunked(port: int, path: str, method: str = "PUT", media: str = "application/octet-stream") -> None:
    """Sends a chunked body without its terminating `0` chunk, and leaves."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {media}\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        for _ in range(5):
            sock.sendall(b"%x\r\n%s\r\n" % (SENT // 5, b"z" * (SENT // 5)))


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def aborted_count(gateway: GatewayProcess, service: str = "files") -> float:
    text = httpx.get(f"{gateway.url}/_gw/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("gw_aborted_requests_total{") and f'service="{service}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def journal_paths(gateway: GatewayProcess) -> list[tuple[str, int]]:
    entries = httpx.get(f"{gateway.url}/_gw/api/journal", timeout=5).json()
    items = entries.get("entries", entries) if isinstance(entries, dict) else entries
    return [(e["path"], e["status"]) for e in items]


def test_a_truncated_upload_never_reaches_the_upstream_whole(proxied: Proxied) -> None:
    gateway, upstream = proxied.gateway, proxied.upstream
    before = aborted_count(gateway)
    cut_content_length(gateway.port, "/files/cut-length")
    cut_chunked(gateway.port, "/files/cut-chunked")
    assert wait_for(lambda: aborted_count(gateway) == before + 2), gateway.log()[-2000:]

    # the body is read whole before the upstream is contacted: a truncated one opens no upstream request at all
    assert upstream.requests_to("/files/cut") == [], "a truncated upload reached the upstream"
    assert not any(p.startswith("/files/cut") and s < 400 for p, s in journal_paths(gateway))
    stubs = proxied.folder / "stubs"
    written = [p for p in stubs.rglob("*") if p.is_file() and b"/files/cut" in p.read_bytes()] if stubs.exists() else []
    assert written == [], "a truncated upload was recorded"
    lines = [json.loads(line) for line in gateway.log().splitlines() if line.startswith("{")]
    aborted = [line for line in lines if "aborted" in line.get("msg", "")]
    assert len(aborted) == 2 and {a["path"] for a in aborted} == {"/files/cut-length", "/files/cut-chunked"}

    whole = httpx.put(f"{gateway.url}/files/whole", content=b"w" * 1000, timeout=10,
                      headers={"content-type": "application/octet-stream"})
    assert whole.status_code == 200 and whole.json() == {"received": 1000}
    assert [s.complete for s in upstream.requests_to("/files/whole")] == [True]
    if proxied.mode == "record":
        assert any(p.is_file() and b"/files/whole" in p.read_bytes() for p in stubs.rglob("*"))


def test_a_truncated_post_in_stub_mode_is_not_answered_as_if_complete(
        tmp_path: Path, gw_process: Callable[..., GatewayProcess]) -> None:
    """/notes declares no body (the stub never reads it); /orders has a JSON body that validation reads."""
    gateway = serve(tmp_path, gw_process, "stub", "http://127.0.0.1:9")
    for path in ("/notes", "/orders"):
        cut_content_length(gateway.port, path, method="POST", media="application/json")
        cut_chunked(gateway.port, path, method="POST", media="application/json")
    assert wait_for(lambda: aborted_count(gateway) == 4), gateway.log()[-2000:]
    assert journal_paths(gateway) == []
    assert "unhandled error" not in gateway.log()
    answered = httpx.post(f"{gateway.url}/notes", content=b"{}", timeout=5, headers={"content-type": "application/json"})
    assert answered.status_code == 201
    assert journal_paths(gateway).count(("/notes", 201)) == 1


def test_json_logs_stay_one_object_per_line_when_an_upstream_cuts_a_streamed_answer(proxied: Proxied) -> None:
    """Live, the client sees the answer broken (never complete); record mode reads it whole first, so a 502."""
    gateway = proxied.gateway
    with httpx.Client(timeout=10) as client:
        for _ in range(3):
            if proxied.mode == "record":
                assert client.get(f"{gateway.url}/download").status_code == 502
                continue
            with pytest.raises(httpx.HTTPError), client.stream("GET", f"{gateway.url}/download") as answer:
                b"".join(answer.iter_bytes())
        after = client.put(f"{gateway.url}/files/after", content=b"ok", headers={"content-type": "application/octet-stream"})
        assert after.status_code == 200
    assert wait_for(lambda: after.headers["x-request-id"] in gateway.log())
    assert not [p for p in (proxied.folder / "stubs").rglob("*") if p.is_file() and b"/download" in p.read_bytes()]
    lines = [line for line in gateway.log().splitlines() if line.strip()]
    assert len(lines) > 5
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object: no traceback lines in between
        assert isinstance(entry, dict) and "level" in entry, line


def test_json_logs_put_a_servers_traceback_in_one_field(capsys: pytest.CaptureFixture[str]) -> None:
    """uvicorn's "Exception in ASGI application" (and asyncio's task errors) are one JSON object, not many lines."""
    loggers = [logging.getLogger(name) for name in ("gw", *SERVER_LOGGERS)]
    saved = [(each.handlers[:], each.propagate, each.level) for each in loggers]
    try:
        setup_logging("json", "info")
        try:
            raise RuntimeError("upstream cut the body")
        except RuntimeError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application\n")
            logging.getLogger("asyncio").exception("Task exception was never retrieved")
    finally:
        for each, (handlers, propagate, level) in zip(loggers, saved, strict=True):
            each.handlers[:], each.propagate = handlers, propagate
            each.setLevel(level)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    for line in lines:
        entry = json.loads(line)
        assert "RuntimeError: upstream cut the body" in entry["exc"] and entry["level"] == "error"


def _scripted(*messages: dict) -> Callable[[], Awaitable[dict]]:
    queue = list(messages)

    async def receive() -> dict:
        return queue.pop(0)

    return receive


@pytest.mark.parametrize(("headers", "messages", "aborted"), [
    ([(b"content-length", b"10")], [{"type": "http.request", "body": b"12345", "more_body": True},
                                    {"type": "http.disconnect"}], True),
    ([(b"transfer-encoding", b"chunked")], [{"type": "http.disconnect"}], True),
    ([(b"content-length", b"5")], [{"type": "http.request", "body": b"12345"}, {"type": "http.disconnect"}], False),
    ([], [{"type": "http.request", "body": b""}, {"type": "http.disconnect"}], False),
    ([(b"content-length", b"0")], [{"type": "http.disconnect"}], False),
], ids=["short-length", "chunked-without-end", "whole-then-gone", "no-body", "empty-body"])
def test_the_body_guard_stops_only_a_declared_body_cut_short(headers: list, messages: list, aborted: bool) -> None:
    """A disconnect before a declared body's end raises; after it, or without a body, it is the client leaving."""
    guard = BodyGuard({"headers": headers}, _scripted(*messages))

    async def read_all() -> None:
        for _ in messages:
            await guard()

    if aborted:
        with pytest.raises(ClientAborted):
            asyncio.run(read_all())
    else:
        asyncio.run(read_all())
        assert guard.complete
