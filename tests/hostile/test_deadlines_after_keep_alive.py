"""The head and body deadlines hold for every request on a kept-alive connection, not only the first.

connections.py arms a deadline's timer only when a head or body is still unfinished after a read (a
request that arrives whole in one read costs no timer): these pin that the second and later requests
of a connection still get their 408 when they stall.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import TEST_SPECS, GatewayProcess
from tests.hostile.test_connections import (
    BODY_TIMEOUT,
    HEADER_TIMEOUT,
    LIMITS,
    assert_problem,
    connect,
    head,
    parse,
    read_answer,
    read_until_closed,
)


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    process = GatewayProcess([str(TEST_SPECS / "echo.yaml")], env=LIMITS)
    try:
        yield process.wait_ready()
    finally:
        process.stop()


def test_a_second_head_left_half_sent_gets_408_after_the_header_timeout(gateway: GatewayProcess) -> None:
    sock = connect(gateway)
    try:
        sock.sendall(head())
        assert parse(read_answer(sock))[0] == 200
        sock.sendall(b"GET /_gw/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        answer, took = read_until_closed(sock)
        assert assert_problem(answer, 408)["type"] == "/_gw/problems/request-head-timeout"
        assert HEADER_TIMEOUT * 0.8 <= took < HEADER_TIMEOUT + 1.5
    finally:
        sock.close()


def test_a_second_request_whose_body_stops_gets_408_after_the_body_timeout(gateway: GatewayProcess) -> None:
    sock = connect(gateway)
    try:
        for _ in range(2):  # whole requests in one read each: no deadline left behind to fire
            sock.sendall(head())
            assert parse(read_answer(sock))[0] == 200
        sock.sendall(head("/items", "POST", "Content-Type: application/json\r\nContent-Length: 100\r\n") + b'{"name"')
        answer, took = read_until_closed(sock)
        assert_problem(answer, 408)
        assert BODY_TIMEOUT * 0.8 <= took < BODY_TIMEOUT + 1.5
    finally:
        sock.close()


def test_a_kept_alive_connection_with_whole_requests_is_never_cut(gateway: GatewayProcess) -> None:
    sock = connect(gateway)
    try:
        deadline = time.monotonic() + HEADER_TIMEOUT + BODY_TIMEOUT
        while time.monotonic() < deadline:  # longer than both deadlines, one whole request at a time
            sock.sendall(head())
            assert parse(read_answer(sock))[0] == 200
    finally:
        sock.close()
