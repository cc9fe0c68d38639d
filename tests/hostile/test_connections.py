"""Hostile connections against a real `gw serve`: idle, half-sent heads, dribbled bodies, too many sockets and
oversized heads are all cut on time with a clean answer, and a normal request still answers quickly.

Limits are small (gateway.yaml's `server:` through GW_SERVER__... variables) so each test takes about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gw.server.connections import GuardedHttpProtocol, uvicorn_limits
from gw.settings.config import ConfigError, load_config
from gw.settings.policy_settings import ServerSettings
from tests.conftest import ROOT, TEST_SPECS, GatewayProcess, eventually

KEEP_ALIVE = 0.5
HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 0.6
MAX_CONNECTIONS = 60
LIMITS = {
    "GW_SERVER__KEEP_ALIVE": f"{KEEP_ALIVE}s",
    "GW_SERVER__HEADER_TIMEOUT": f"{HEADER_TIMEOUT}s",
    "GW_SERVER__BODY_TIMEOUT": f"{BODY_TIMEOUT * 1000:g}ms",
    "GW_SERVER__BODY_MIN_RATE": "100",
    "GW_SERVER__MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "GW_SERVER__MAX_REQUEST_LINE": "2KiB",
    "GW_SERVER__MAX_HEADER_SIZE": "4KiB",
    "GW_LOG_LEVEL": "warning",
}


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    process = GatewayProcess([str(TEST_SPECS / "echo.yaml")], env=LIMITS)
    try:
        yield process.wait_ready()
    finally:
        process.stop()


def connect(gateway: GatewayProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def head(path: str = "/_gw/health", method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


def read_until_closed(sock: socket.socket, timeout: float = 5) -> tuple[bytes, float]:
    """Everything the server sends until it closes (a reset raises), and how long that took."""
    start = time.monotonic()
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data, time.monotonic() - start


def read_answers(sock: socket.socket, count: int) -> list[bytes]:
    """`count` whole answers with Content-Length bodies, leaving the connection open."""
    data, answers = b"", []
    while len(answers) < count:
        top, found, rest = data.partition(b"\r\n\r\n")
        if found:
            length = int(parse(top + found)[1]["content-length"])
            if len(rest) >= length:
                answers.append(top + found + rest[:length])
                data = rest[length:]
                continue
        data += sock.recv(65536)
    return answers


def read_answer(sock: socket.socket) -> bytes:
    return read_answers(sock, 1)[0]


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    top, _, body = answer.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def assert_problem(answer: bytes, status: int) -> dict:
    code, headers, body = parse(answer)
    assert code == status, answer[:300]
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert problem["status"] == status
    return problem


def answers_quickly(gateway: GatewayProcess) -> float:
    """A normal request's time; it must succeed."""
    start = time.monotonic()
    response = httpx.get(f"{gateway.url}/_gw/health", timeout=5)
    assert response.status_code == 200
    return time.monotonic() - start


@contextlib.contextmanager
def sockets(gateway: GatewayProcess, count: int) -> Iterator[list[socket.socket]]:
    opened = [connect(gateway) for _ in range(count)]
    try:
        yield opened
    finally:
        for sock in opened:
            sock.close()


def test_idle_keep_alive_connections_are_closed_after_the_keep_alive_timeout(gateway: GatewayProcess) -> None:
    with sockets(gateway, 50) as idle:
        for sock in idle:
            sock.sendall(head())
        for sock in idle:
            answer = read_answer(sock)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
        start = time.monotonic()
        for sock in idle:
            rest, _ = read_until_closed(sock)
            assert rest == b""
        assert KEEP_ALIVE * 0.8 <= time.monotonic() - start < KEEP_ALIVE + 1.5
    assert answers_quickly(gateway) < 1


def test_silent_connections_are_closed_after_the_header_timeout(gateway: GatewayProcess) -> None:
    with sockets(gateway, 50) as silent:
        start = time.monotonic()
        for sock in silent:
            data, _ = read_until_closed(sock)
            assert data == b""  # never said a word: closed without an answer
        assert HEADER_TIMEOUT * 0.8 <= time.monotonic() - start < HEADER_TIMEOUT + 1.5


def test_a_half_sent_head_gets_408_after_the_header_timeout(gateway: GatewayProcess) -> None:
    with sockets(gateway, 50) as half:
        for sock in half:
            sock.sendall(b"GET /_gw/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        start = time.monotonic()
        for sock in half:
            answer, _ = read_until_closed(sock)
            assert assert_problem(answer, 408)["type"] == "/_gw/problems/request-head-timeout"
        assert HEADER_TIMEOUT * 0.8 <= time.monotonic() - start < HEADER_TIMEOUT + 1.5
        assert answers_quickly(gateway) < 1


def test_a_head_dribbled_a_byte_at_a_time_is_cut_at_the_header_deadline(gateway: GatewayProcess) -> None:
    """The deadline is for the whole head: progress does not extend it (slowloris)."""
    with sockets(gateway, 1) as (sock,):
        start = time.monotonic()
        sock.sendall(b"GET /_gw/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sock.settimeout(0.1)
        answer = b""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while time.monotonic() - start < HEADER_TIMEOUT + 2:
                sock.sendall(b"X")
                with contextlib.suppress(TimeoutError):
                    answer = sock.recv(65536)
                    break
        assert HEADER_TIMEOUT * 0.8 <= time.monotonic() - start < HEADER_TIMEOUT + 1.5
        assert_problem(answer, 408)


def test_a_body_dribbled_slower_than_the_minimum_rate_gets_408(gateway: GatewayProcess) -> None:
    body = json.dumps({"name": "x" * 200}).encode()
    with sockets(gateway, 20) as slow:
        for sock in slow:
            sock.sendall(head("/items", "POST", f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"))
        start = time.monotonic()
        for step in range(30):  # one byte every 50 ms: each piece in time, the average far under 100 bytes/s
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(body[step:step + 1])
            time.sleep(0.05)
        for sock in slow:
            answer, _ = read_until_closed(sock)
            assert assert_problem(answer, 408)["type"] == "/_gw/problems/request-body-timeout"
        assert time.monotonic() - start < BODY_TIMEOUT + 2
    assert answers_quickly(gateway) < 1


def test_a_body_that_stops_gets_408_after_the_body_timeout(gateway: GatewayProcess) -> None:
    with sockets(gateway, 1) as (sock,):
        sock.sendall(head("/items", "POST", "Content-Type: application/json\r\nContent-Length: 100\r\n") + b'{"name"')
        answer, took = read_until_closed(sock)
        assert_problem(answer, 408)
        assert BODY_TIMEOUT * 0.8 <= took < BODY_TIMEOUT + 1.5


def test_a_slow_body_above_the_minimum_rate_is_served(gateway: GatewayProcess) -> None:
    body = json.dumps({"name": "y" * 1000}).encode()
    with sockets(gateway, 1) as (sock,):
        sock.sendall(head("/items", "POST", f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"))
        for offset in range(0, len(body), 100):  # 100 bytes every 100 ms: 1,000 bytes/s, a little over a second
            sock.sendall(body[offset:offset + 100])
            time.sleep(0.1)
        assert read_answer(sock).startswith(b"HTTP/1.1 201")


def test_a_client_waiting_for_100_continue_is_not_cut(gateway: GatewayProcess) -> None:
    body = b'{"name": "z"}'
    with sockets(gateway, 1) as (sock,):
        sock.sendall(head("/items", "POST", f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                                            "Expect: 100-continue\r\n"))
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        assert read_answer(sock).startswith(b"HTTP/1.1 201")


def test_connections_over_the_cap_get_a_clean_503_and_service_returns_once_they_go(gateway: GatewayProcess) -> None:
    with sockets(gateway, MAX_CONNECTIONS) as holders:
        for sock in holders[:5]:  # a few with requests under way: they count the same as idle ones
            sock.sendall(b"GET /_gw/health HTTP/1.1\r\n")
        extra = []
        for _ in range(20):
            sock = connect(gateway)
            extra.append(sock)
            sock.sendall(head())
        for sock in extra:
            answer, _ = read_until_closed(sock)  # a reset would raise here
            problem = assert_problem(answer, 503)
            assert problem["type"] == "/_gw/problems/too-many-connections"
            assert parse(answer)[1]["retry-after"] == "1"
            sock.close()
    assert eventually(lambda: answers_quickly(gateway), timeout=2) < 1


def test_a_request_target_over_the_cap_gets_414(gateway: GatewayProcess) -> None:
    with sockets(gateway, 1) as (sock,):
        sock.sendall(head("/items/1?q=" + "a" * 4096))
        answer, _ = read_until_closed(sock)
        assert assert_problem(answer, 414)["type"] == "/_gw/problems/request-line-too-long"
    assert answers_quickly(gateway) < 1


def test_headers_over_the_cap_get_431(gateway: GatewayProcess) -> None:
    with sockets(gateway, 2) as (many, long):
        many.sendall(head(extra="".join(f"X-Header-{i}: {'v' * 50}\r\n" for i in range(100))))
        long.sendall(head(extra=f"Cookie: {'c' * 5000}\r\n"))
        for sock in (many, long):
            answer, _ = read_until_closed(sock)
            assert assert_problem(answer, 431)["type"] == "/_gw/problems/request-headers-too-large"
    assert answers_quickly(gateway) < 1


def test_pipelined_requests_in_one_packet_are_all_answered(gateway: GatewayProcess) -> None:
    with sockets(gateway, 1) as (sock,):
        sock.sendall(head() + head("/items/1") + head())
        assert [answer.split(b" ", 2)[1] for answer in read_answers(sock, 3)] == [b"200", b"200", b"200"]


def test_a_request_just_under_the_caps_is_served(gateway: GatewayProcess) -> None:
    response = httpx.get(f"{gateway.url}/items/1", params={"q": "a" * 1800}, headers={"X-Big": "b" * 3500}, timeout=5)
    assert response.status_code == 200


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_a_huge_header_is_refused_at_once_and_others_are_served_meanwhile(gateway: GatewayProcess) -> None:
    """Two clients each pushing a 16 MB header: refused after a few KiB, little CPU, no memory kept, and a
    normal request during the attempt answers in well under a second."""
    pid = gateway.proc.pid
    cpu_before, rss_before = cpu_seconds(pid), rss_mib(pid)
    answers: list[bytes] = []

    def push() -> None:
        with connect(gateway) as sock:
            sock.sendall(b"GET /_gw/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bomb: ")
            chunk = b"a" * 65536
            with contextlib.suppress(OSError):
                for _ in range(256):
                    sock.sendall(chunk)
            with contextlib.suppress(OSError):
                answers.append(sock.recv(65536))

    pushers = [threading.Thread(target=push) for _ in range(2)]
    for thread in pushers:
        thread.start()
    during = [answers_quickly(gateway) for _ in range(5)]
    for thread in pushers:
        thread.join(10)
    assert max(during) < 1
    assert cpu_seconds(pid) - cpu_before < 1.5
    assert rss_mib(pid) - rss_before < 20
    assert answers_quickly(gateway) < 1


def test_server_settings_read_from_gateway_yaml_and_environment(tmp_path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("server:\n  keep_alive: 2s\n  header_timeout: 500ms\n  max_header_size: 32KiB\nservices: {}\n")
    config = load_config(path, env={"GW_SERVER__MAX_CONNECTIONS": "200", "GW_SERVER__BODY_TIMEOUT": "1m"})
    server = config.server
    assert (server.keep_alive, server.header_timeout, server.body_timeout) == (2, 0.5, 60)
    assert (server.max_connections, server.max_header_size, server.max_request_line) == (200, 32 * 1024, 16 * 1024)
    with pytest.raises(ConfigError, match=r"server.max_connections: must be 1 or more"):
        load_config(path, env={"GW_SERVER__MAX_CONNECTIONS": "0"})
    with pytest.raises(ConfigError, match=r"server.header_timeout: expected a duration"):
        load_config(path, env={"GW_SERVER__HEADER_TIMEOUT": "soon"})


def test_what_uvicorn_hands_every_http_protocol() -> None:
    """gateway/server/connections.py is a protocol of its own and reads of uvicorn only what uvicorn hands any `http=`
    protocol: its Config and the server state. This fails loudly if a release moves them."""
    from uvicorn import Config
    from uvicorn.server import ServerState

    async def app(scope: dict, receive: object, send: object) -> None:
        pass

    config = Config(app, lifespan="off", root_path="/api", timeout_keep_alive=7)
    config.load()
    assert config.loaded and config.loaded_app is not None and config.ws_protocol_class is not None
    assert (config.root_path, config.timeout_keep_alive, config.asgi_version) == ("/api", 7, "3.0")
    state = ServerState()
    assert isinstance(state.connections, set) and isinstance(state.tasks, set)
    assert state.default_headers == [] and state.total_requests == 0
    loop = asyncio.new_event_loop()
    try:
        protocol = GuardedHttpProtocol(config=config, server_state=state, app_state={}, _loop=loop, settings=ServerSettings())
        assert protocol.connections is state.connections and callable(protocol.shutdown)
    finally:
        loop.close()


def test_the_limits_reach_worker_processes() -> None:
    """`gw serve --workers N` spawns workers with uvicorn's config pickled: the guarded protocol goes with it."""
    options = uvicorn_limits(ServerSettings(header_timeout=3, max_connections=7))
    factory = pickle.loads(pickle.dumps(options["http"]))
    assert factory.func is GuardedHttpProtocol
    assert (factory.keywords["settings"].header_timeout, factory.keywords["settings"].max_connections) == (3, 7)


def test_the_open_file_limit_is_raised_for_max_connections() -> None:
    """With the common soft limit of 1,024 the default cap of 1,000 connections would run out of descriptors
    (a proxied request holds two): serving raises the soft limit as far as the hard one allows."""
    script = ("import resource; from gw.server.connections import make_room_for_connections as room; "
              "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; "
              "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)); room(1000); "
              "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)")
    soft, hard = map(int, subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                         cwd=ROOT).stdout.split())
    assert soft == (2256 if hard < 0 or hard >= 2256 else hard)
