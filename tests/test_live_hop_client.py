"""The live hop over gw's own upstream client (forwarder/http1.py), end to end: a real gateway forwarding to a raw
loopback upstream that answers byte by byte (kept connections, repeated headers, 1xx, garbage, a body cut short)."""

from __future__ import annotations

import base64
import socketserver
import threading
from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest

from tests.conftest import TEST_SPECS, GatewayProcess, GatewayThread

ECHO = str(TEST_SPECS / "echo.yaml")
JSON = b'{"ok": true}'
ANSWERS = {
    b"/items/1": (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(JSON), JSON)),
    b"/items/2": b"SMTP ready\r\n\r\n",
    b"/items/3": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"cut\": ",
    b"/items/4": (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(JSON), JSON)),
    b"/items/5": (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                  b"HTTP/1.1 500 Evil\r\nSet-Cookie: injected=1\r\nContent-Length: 0\r\n\r\n" % (len(JSON), JSON)),
    b"/items/6": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
}
CLOSE_AFTER = {b"/items/2", b"/items/3"}


class RawUpstream(socketserver.BaseRequestHandler):
    """Answers each request on a connection by its path (ANSWERS); counts connections and keeps the Host seen."""

    connections: ClassVar[list[int]] = []
    hosts: ClassVar[list[str]] = []
    authorizations: ClassVar[list[str]] = []
    expects: ClassVar[list[str]] = []

    def handle(self) -> None:
        self.connections.append(1)
        buffered = b""
        while True:
            while b"\r\n\r\n" not in buffered:
                data = self.request.recv(65536)
                if not data:
                    return
                buffered += data
            head, _, buffered = buffered.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1]
            self.hosts.extend(line.split(b":", 1)[1].strip().decode() for line in lines if line.lower().startswith(b"host:"))
            self.authorizations.extend(line.split(b":", 1)[1].strip().decode() for line in lines
                                       if line.lower().startswith(b"authorization:"))
            self.expects.extend(line.decode() for line in lines if line.lower().startswith(b"expect:"))
            for line in lines:  # a body by its length (a POST), read whole before the answer
                if line.lower().startswith(b"content-length:"):
                    while len(buffered) < int(line.split(b":", 1)[1]):
                        buffered += self.request.recv(65536)
                    buffered = buffered[int(line.split(b":", 1)[1]):]
            self.request.sendall(ANSWERS[path])
            if path in CLOSE_AFTER:
                return


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), RawUpstream)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def gateway(start_gateway: Callable[..., GatewayThread], upstream: str) -> GatewayThread:
    RawUpstream.connections.clear()
    RawUpstream.hosts.clear()
    return start_gateway({"echo": {"spec": ECHO, "mode": "live", "upstream": [upstream], "retries": 0}})


def test_answers_keep_repeated_headers_and_requests_share_one_kept_upstream_connection(
        gateway: GatewayThread, upstream: str) -> None:
    with gateway.client() as client:
        answers = [client.get("/echo/items/1", headers={"Host": "client.example"}) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert answers[0].headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert answers[0].json() == {"ok": True}
    assert len(RawUpstream.connections) == 1  # kept alive and reused
    assert RawUpstream.hosts == [upstream.removeprefix("http://")] * 5  # the upstream's Host, never the client's


def test_an_informational_answer_is_skipped_for_the_final_one(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        answer = client.get("/echo/items/4")
    assert answer.status_code == 200 and answer.json() == {"ok": True}


def test_an_answer_that_is_not_http_is_a_502_problem(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        answer = client.get("/echo/items/2")
    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"] == "echo upstream could not be reached: InvalidAnswer"


def test_a_small_answer_cut_short_is_the_broke_off_502(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        answer = client.get("/echo/items/3")
        again = client.get("/echo/items/1")  # the gateway is fine, and so is the next request
    assert answer.status_code == 502
    assert answer.json()["detail"] == "echo upstream broke off its answer"
    assert again.status_code == 200


def test_a_configured_header_with_a_line_break_is_never_sent_upstream(
        start_gateway: Callable[..., GatewayThread], upstream: str, monkeypatch: pytest.MonkeyPatch) -> None:
    RawUpstream.connections.clear()
    monkeypatch.setenv("GW_TEST_SMUGGLING_TOKEN", "abc\r\nX-Smuggled: 1")  # a token file read with its line break
    gateway = start_gateway({"echo": {"spec": ECHO, "mode": "live", "upstream": [upstream], "retries": 0,
                                      "upstream_auth": {"bearer": "${GW_TEST_SMUGGLING_TOKEN}"}}})
    with gateway.client() as client:
        answer = client.get("/echo/items/1")
    assert answer.status_code == 502
    assert answer.json()["detail"] == "echo upstream request not sent: CR, LF or NUL in its target or headers"
    assert RawUpstream.connections == []  # nothing reached the upstream


def test_credentials_in_an_upstream_url_are_sent_as_basic_auth_and_shown_nowhere(
        start_gateway: Callable[..., GatewayThread], upstream: str) -> None:
    """`http://user:pass@host` authenticates the gateway to that instance (as curl sends it), in place of the
    client's own Authorization; the password never appears where the instance is named (readiness, metrics)."""
    RawUpstream.authorizations.clear()
    with_credentials = upstream.replace("http://", "http://ada:s%3Ecret@")
    gateway = start_gateway({"echo": {"spec": ECHO, "mode": "live", "upstream": [with_credentials], "retries": 0}})
    with gateway.client() as client:
        answer = client.get("/echo/items/1", headers={"Authorization": "Bearer the-clients-own"})
        ready = client.get("/_gw/ready").text
        metrics = client.get("/_gw/metrics").text
    assert answer.status_code == 200
    assert RawUpstream.authorizations == ["Basic " + base64.b64encode(b"ada:s>cret").decode()]
    assert "ada:***@" in ready
    assert not [text for text in (ready, metrics) if "cret" in text]


def test_a_second_answer_sent_with_the_first_never_reaches_the_client(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        answers = [client.get("/echo/items/5") for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.headers.get_list("content-length") for a in answers] == [[str(len(JSON))]] * 2
    assert [a.headers.get_list("set-cookie") for a in answers] == [[], []]
    assert len(RawUpstream.connections) == 2  # the connection that carried two answers was closed, not reused


def test_a_transfer_coding_gw_cannot_undo_is_a_502_problem(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        answer = client.get("/echo/items/6")
    assert answer.status_code == 502
    assert answer.json()["detail"] == "echo upstream could not be reached: InvalidAnswer"


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_start_banner_masks_a_password_in_an_upstream_url(gw_process: Callable[..., GatewayProcess],
                                                               log_format: str) -> None:
    served = gw_process(ECHO, "--mode", "live", "--upstream", "http://u:p%40ss@127.0.0.1:9/base",
                        env={"GW_LOG_FORMAT": log_format, "COLUMNS": "200"}).wait_ready()
    banner = served.stop()
    assert "u:***@127.0.0.1:9/base" in banner
    assert "p%40ss" not in banner and "p@ss" not in banner


def test_expect_is_not_passed_on_the_body_goes_with_the_head(gateway: GatewayThread) -> None:
    RawUpstream.expects.clear()
    with gateway.client() as client:
        answer = client.put("/echo/items/1", content=b'{"a": 1}',
                             headers={"Expect": "100-continue", "Content-Type": "application/json"})
    assert answer.status_code == 200
    assert RawUpstream.expects == []
