"""Real servers on loopback: upstreams (aiohttp), the gateway in a thread, the gateway as `gw serve`."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt
import pytest

from gw.contract.conformance import InProcessGateway
from gw.contract.conformance.process import GatewayProcess as ServedGateway
from gw.contract.conformance.process import gw_command, stop_process_group
from gw.core.port_check import free_port
from gw.settings.config import GatewayConfig, build_config
from tests.upstream import UpstreamServer

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
TEST_SPECS = Path(__file__).resolve().parent / "specs"
CORPUS = ROOT.parent / "shared" / "corpus"
OUTSIDER = "127.0.0.2"  # a loopback address other than 127.0.0.1: reaches the gateway, outside 127.0.0.1/32
T = TypeVar("T")


def refuses_connections(port: int) -> bool:
    """Whether nothing accepts a TCP connection on the loopback `port` (a server's listener is closed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def eventually(read: Callable[[], T], done: Callable[[T], object] = bool, timeout: float = 5.0,
               step: float = 0.05) -> T:
    """Poll `read()` until `done(value)` holds and return that value; AssertionError with the last one if not."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s; last value: {value!r}")
        time.sleep(step)


@contextlib.contextmanager
def log_records(name: str, level: int | None = None, at_least: int = logging.NOTSET) -> Iterator[list[logging.LogRecord]]:
    """The records of `at_least` that a gw logger emits while the block runs (gw's loggers may not propagate to
    pytest's caplog); `level`: the logger's level meanwhile (setLevel, which clears its cached isEnabledFor)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(at_least)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger(name)
    before = logger.level
    if level is not None:
        logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)


def mint_token(secret: Any, *, algorithm: str = "HS256", headers: dict[str, Any] | None = None, **claims: Any) -> str:
    """A JWT made with PyJWT, independently of the gateway's own signing: sub/iat/exp (now + 300s) overridable."""
    now = int(time.time())
    return jwt.encode({"sub": "alice", "iat": now, "exp": now + 300, **claims}, secret, algorithm=algorithm,
                      headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class GatewayThread(InProcessGateway):
    """The gateway served by uvicorn in a background thread: real HTTP, fast to start."""

    def __enter__(self) -> GatewayThread:
        super().__enter__()
        return self

    def client(self, source: str | None = None, **kwargs: Any) -> httpx.Client:
        """A client to this gateway; with `source`, its connections come from that address (any 127.x)."""
        if source is not None:
            kwargs["transport"] = httpx.HTTPTransport(local_address=source)
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


def gateway_config(services: dict[str, dict[str, Any]], **top: Any) -> GatewayConfig:
    return build_config({"services": services, **top}, "test", root=ROOT)


@pytest.fixture
def start_gateway() -> Iterator[Callable[..., GatewayThread]]:
    started: list[GatewayThread] = []

    def start(services: dict[str, dict[str, Any]], **top: Any) -> GatewayThread:
        gateway = GatewayThread(gateway_config(services, **top)).__enter__()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.__exit__()


@pytest.fixture(scope="session")
def samples() -> Iterator[GatewayThread]:
    """The bundled sample services from gateway.yaml, in stub mode."""
    from gw.settings.config import load_config

    with GatewayThread(load_config(ROOT / "gateway.yaml", env={})) as gateway:
        yield gateway


@pytest.fixture
def sample_client(samples: GatewayThread) -> Iterator[httpx.Client]:
    with samples.client() as client:
        yield client


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def make_upstream() -> Iterator[Callable[[str], UpstreamServer]]:
    servers: list[UpstreamServer] = []

    def make(name: str = "up") -> UpstreamServer:
        server = UpstreamServer(free_port(), name).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


class UpstreamProcess:
    """tests/upstream.py as a process of its own, for end-to-end runs that stop and start it."""

    def __init__(self, name: str = "up") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.upstream", str(self.port), name], cwd=ROOT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60  # a busy machine starts a process slowly: the wait ends when it answers
        while True:
            try:
                httpx.get(f"{self.url}/items/0", timeout=1)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("upstream process did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        stop_process_group(self.proc)


@pytest.fixture
def upstream_process() -> Iterator[Callable[[str], UpstreamProcess]]:
    started: list[UpstreamProcess] = []

    def start(name: str = "up") -> UpstreamProcess:
        started.append(UpstreamProcess(name))
        return started[-1]

    yield start
    for process in started:
        process.stop()


class GatewayProcess(ServedGateway):
    """`gw serve ...` as a real process, as a user starts it, logging JSON lines."""

    def __init__(self, args: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
        super().__init__(args, cwd, {"GW_LOG_FORMAT": "json", **(env or {})})


@pytest.fixture
def gw_process() -> Iterator[Callable[..., GatewayProcess]]:
    started: list[GatewayProcess] = []

    def start(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> GatewayProcess:
        process = GatewayProcess(list(args), cwd, env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def run_gw(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a gw command to completion, as a user types it."""
    return subprocess.run([*gw_command(), *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


def run_cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a gw command in this process (typer's CliRunner), for commands that read files and print (routes,
    lint, stubs, init, token): what they print and their exit code are the same as `run_gw`'s, without ~2 s of
    imports per call. An exception escapes and fails the test (where a process would print a traceback).
    The process itself (signals, the console script, the start-up) is what `run_gw` and `gw_process` test."""
    from typer.testing import CliRunner

    from gw import cli
    from gw.core.console import make_console

    saved = os.environ.copy()
    consoles = cli.out, cli.err
    try:
        os.environ.update(env or {})
        cli.out, cli.err = make_console(), make_console(stderr=True)  # as a process makes them, under its env
        with contextlib.chdir(cwd):
            result = CliRunner().invoke(cli.app, list(args), catch_exceptions=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        cli.out, cli.err = consoles
    return subprocess.CompletedProcess(["gw", *args], result.exit_code, result.stdout, result.stderr)


class RedisServer:
    """A real `redis-server` (Debian's package) on a free loopback port, nothing saved to disk."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (.ci/run installs Debian's redis-server)")
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while not self._answers():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def send_json(handler: BaseHTTPRequestHandler, body: bytes, status: int = 200) -> None:
    """Answer a stdlib handler's request with a JSON body (the loopback servers tests write)."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


async def whole_body(receive: Any) -> bytes:
    """A test ASGI app's request body, read to its last message."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


@contextlib.contextmanager
def uvicorn_in_thread(app: Any, **options: Any) -> Iterator[tuple[int, Any]]:
    """An ASGI app on a real uvicorn (its protocol and limits in `options`) on a free loopback port, served from a
    thread: the port and the server. uvicorn leaves logging alone (`log_config=None`, as gw's runner has it)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="off", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield port, server
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def threaded_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A stdlib HTTP server for `handler` on a free loopback port, in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
