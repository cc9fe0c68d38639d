"""gw's own HTTP/1.1 client for upstreams (forwarder/http1.py, forwarder/connection_pool.py), against real loopback
servers that answer byte by byte as each test needs: well-behaved, stale, slow, oversized or cut short."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from gw.forwarder import connection_pool
from gw.forwarder.connection_pool import HttpClient, Origin
from gw.forwarder.health_checks import drain
from gw.forwarder.http1 import HIGH_WATER, Answer, encode_request
from gw.forwarder.upstream_errors import BrokeOff, ConnectFailed, Disconnected, InvalidAnswer, UnsafeRequest

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Upstream:
    """A raw loopback server: `handler` runs per connection; it counts connections and the requests' heads."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.heads: list[bytes] = []
        self.closed_by_client = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Upstream:
        self.server = await asyncio.start_server(self._connected, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: Any) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> URL:
        assert self.server is not None
        return URL(f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}")

    async def read_head(self, reader: asyncio.StreamReader) -> bytes:
        """One request's head (and its body, by Content-Length); b"" when the client closed."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.closed_by_client += 1
            return b""
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                head += await reader.readexactly(int(line.split(b":")[1]))
        self.heads.append(head)
        return head

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def answering(*answers: bytes, upstream: list[Upstream]) -> Handler:
    """A handler that answers each request on a connection with the next of `answers` (the last repeats)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        count = 0
        while await upstream[0].read_head(reader):
            writer.write(answers[min(count, len(answers) - 1)])
            await writer.drain()
            count += 1

    return handle


def run(handler_of: Callable[[list[Upstream]], Handler], scenario: Callable[[HttpClient, Origin, Upstream], Awaitable[Any]],
        limit: int = 256) -> Any:
    """Serve the handler, run the scenario with a fresh client, close both; the scenario's result."""

    async def main() -> Any:
        holder: list[Upstream] = []
        async with Upstream(handler_of(holder)) as upstream:
            holder.append(upstream)
            client = HttpClient(limit)
            try:
                return await scenario(client, client.origin(upstream.url), upstream)
            finally:
                client.close()

    return asyncio.run(main())


async def get(client: HttpClient, origin: Origin, method: str = "GET", body: bytes = b"", timeout: float = 5,
              headers: list[tuple[str, str]] | None = None) -> tuple[Answer, bytes]:
    answer = await client.request(origin, method, "/x", headers or [], body, timeout, 5)
    try:
        return answer, await answer.read()
    finally:
        answer.release()


def test_sequential_requests_share_one_kept_connection_and_concurrent_ones_open_more() -> None:
    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[int, int, list[bytes]]:
        bodies = [(await get(client, origin))[1] for _ in range(3)]
        one = upstream.connections
        await asyncio.gather(*(get(client, origin) for _ in range(3)))
        return one, upstream.connections, bodies

    one, after, bodies = run(lambda u: answering(OK, upstream=u), scenario)
    assert bodies == [b"ok"] * 3
    assert one == 1
    assert after == 3  # two more for the concurrent three, the kept one reused


def test_the_request_carries_the_upstreams_host_the_headers_given_and_a_length() -> None:
    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> list[bytes]:
        await get(client, origin, "POST", b'{"a": 1}', headers=[("x-one", "1"), ("x-one", "2")])
        await get(client, origin, "POST")
        await get(client, origin, "GET")
        return upstream.heads

    post, empty_post, plain_get = run(lambda u: answering(OK, upstream=u), scenario)
    port = post.split(b"Host: 127.0.0.1:")[1].split(b"\r\n")[0]
    assert post == (b"POST /x HTTP/1.1\r\nHost: 127.0.0.1:" + port + b"\r\nx-one: 1\r\nx-one: 2\r\n"
                    b"Content-Length: 8\r\n\r\n{\"a\": 1}")
    assert b"Content-Length: 0\r\n" in empty_post  # as aiohttp sent it for a POST without a body
    assert b"content-length" not in plain_get.lower()


@pytest.mark.parametrize(("target", "headers"), [
    ("/x HTTP/1.1\r\nHost: evil\r\n\r\nGET /y", []),
    ("/x", [("x-a", "1\r\nContent-Length: 5")]),
    ("/x", [("x-a\nx-b", "1")]),
    ("/x", [("x-a", "1\x00")]),
])
def test_cr_lf_or_nul_in_the_target_or_a_header_is_refused_before_anything_is_sent(
        target: str, headers: list[tuple[str, str]]) -> None:
    with pytest.raises(UnsafeRequest):
        encode_request("GET", target, "upstream", headers, b"")

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> int:
        with pytest.raises(UnsafeRequest):
            await client.request(origin, "GET", target, headers, b"", 5, 5)
        return upstream.connections

    assert run(lambda u: answering(OK, upstream=u), scenario) == 0


def test_headers_come_in_order_with_duplicates_kept() -> None:
    answer_bytes = (b"HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\nX-Other: y\r\nSet-Cookie: b=2\r\n"
                    b"Content-Length: 0\r\n\r\n")

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> Answer:
        return (await get(client, origin))[0]

    answer = run(lambda u: answering(answer_bytes, upstream=u), scenario)
    assert answer.status == 201
    assert answer.headers == [("Set-Cookie", "a=1"), ("X-Other", "y"), ("Set-Cookie", "b=2"), ("Content-Length", "0")]
    assert answer.length == 0


def test_an_answer_to_head_declaring_a_length_leaves_the_kept_connection_clean_for_the_next() -> None:
    head_answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"  # no body follows an answer to HEAD
    get_answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[Any, ...]:
        head, head_body = await get(client, origin, "HEAD")
        got, body = await get(client, origin)
        return head.status, head.length, head_body, got.status, body, upstream.connections

    assert run(lambda u: answering(head_answer, get_answer, upstream=u), scenario) == (200, 5, b"", 200, b"hello", 1)


def test_informational_answers_are_skipped_for_the_final_one() -> None:
    answer_bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + OK

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[Any, ...]:
        answer, body = await get(client, origin)
        again, _ = await get(client, origin)
        return answer.status, answer.headers, body, again.status, upstream.connections

    assert run(lambda u: answering(answer_bytes, upstream=u), scenario) == (
        200, [("Content-Length", "2")], b"ok", 200, 1)


def test_a_chunked_body_comes_de_chunked_and_an_unsized_one_ends_with_the_connection() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"

    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
        await writer.drain()

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[Any, ...]:
        answer, body = await get(client, origin)
        return answer.length, body, answer.keep_alive

    assert run(lambda u: answering(chunked, upstream=u), scenario) == (None, b"abcde", True)
    assert run(lambda u: until_close, scenario) == (None, b"all of it", False)


def test_answers_without_a_body_by_status() -> None:
    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> list[tuple[int, bytes]]:
        return [(a.status, b) for a, b in [await get(client, origin), await get(client, origin)]]

    answers = (b"HTTP/1.1 204 No Content\r\n\r\n", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")
    assert run(lambda u: answering(*answers, upstream=u), scenario) == [(204, b""), (304, b"")]


def test_a_stale_pooled_connection_is_retried_once_on_a_fresh_one_for_a_get() -> None:
    async def closes_on_second_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the kept connection's next request: closed unanswered (a FIN's race)

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[bytes, bytes, int]:
        _, first = await get(client, origin)
        _, second = await get(client, origin)
        return first, second, upstream.connections

    assert run(lambda u: closes_on_second_request, scenario) == (b"ok", b"ok", 2)


@pytest.mark.parametrize("body", [b"charge once", b""], ids=["with a body", "without"])
def test_a_post_is_never_sent_twice(body: bytes) -> None:
    async def closes_on_second_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> int:
        await get(client, origin)
        with pytest.raises(Disconnected):
            await get(client, origin, "POST", body)
        return upstream.connections

    assert run(lambda u: closes_on_second_request, scenario) == 1


def test_a_fresh_connection_closed_before_an_answer_is_disconnected_and_not_retried() -> None:
    async def closes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> int:
        with pytest.raises(Disconnected):
            await get(client, origin)
        return upstream.connections

    assert run(lambda u: closes, scenario) == 1


def test_an_idle_connection_the_upstream_closed_is_never_handed_out() -> None:
    async def one_answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[int, bytes]:
        await get(client, origin)
        for _ in range(100):  # until the close has reached the client
            if not origin.idle:
                break
            await asyncio.sleep(0.01)
        _, body = await get(client, origin, "POST", b"sent once, on a connection known to be open")
        return upstream.connections, body

    assert run(lambda u: one_answer_then_close, scenario) == (2, b"ok")


def test_an_answer_breaking_off_mid_body_raises_broke_off() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        await writer.drain()

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> list[bytes]:
        answer = await client.request(origin, "GET", "/x", [], b"", 5, 5)
        seen = []
        with pytest.raises(BrokeOff):
            async for chunk in answer.chunks():
                seen.append(chunk)
        answer.release()
        return seen

    assert run(lambda u: cut, scenario) == [b"only part"]


def test_the_read_timeout_bounds_the_wait_for_the_head_and_between_two_reads_of_the_body() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(5)

    async def drips_then_stops(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(3):  # each part within the timeout of the one before: the answer is alive
            await asyncio.sleep(0.1)
            writer.write(b"x")
            await writer.drain()
        await asyncio.sleep(5)

    async def no_head(client: HttpClient, origin: Origin, upstream: Upstream) -> None:
        with pytest.raises(TimeoutError):
            await client.request(origin, "GET", "/x", [], b"", 0.2, 5)

    async def stalled_body(client: HttpClient, origin: Origin, upstream: Upstream) -> bytes:
        answer = await client.request(origin, "GET", "/x", [], b"", 0.3, 5)
        seen = b""
        with pytest.raises(TimeoutError):
            async for chunk in answer.chunks():
                seen += chunk
        answer.release()
        return seen

    run(lambda u: silent, no_head)
    assert run(lambda u: drips_then_stops, stalled_body) == b"xxx"


def test_a_head_beyond_the_cap_is_an_invalid_answer() -> None:
    async def huge_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for n in range(2000):  # ~80 KB of headers, written in pieces
            writer.write(b"X-Filler-%d: %s\r\n" % (n, b"v" * 30))
            await writer.drain()
        writer.write(b"Content-Length: 0\r\n\r\n")
        await writer.drain()

    async def endless_value(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Endless: ")
        for _ in range(200):
            writer.write(b"v" * 1024)
            await writer.drain()
        await asyncio.sleep(5)

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> None:
        with pytest.raises(InvalidAnswer):
            await client.request(origin, "GET", "/x", [], b"", 5, 5)

    run(lambda u: huge_head, scenario)
    run(lambda u: endless_value, scenario)


def test_garbage_is_an_invalid_answer() -> None:
    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> None:
        with pytest.raises(InvalidAnswer):
            await client.request(origin, "GET", "/x", [], b"", 5, 5)

    run(lambda u: answering(b"SMTP ready\r\n\r\n", upstream=u), scenario)


def test_a_refused_connection_is_connect_failed_by_address_or_by_name() -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        client = HttpClient()
        for host in ("127.0.0.1", "localhost"):  # an address, and a name tried address by address
            with pytest.raises(ConnectFailed) as failed:
                await client.request(client.origin(URL(f"http://{host}:{port}")), "GET", "/", [], b"", 5, 5)
            assert isinstance(failed.value.os_error, ConnectionRefusedError)
            assert client.origin(URL(f"http://{host}:{port}")).open == 0

    asyncio.run(main())


def test_a_request_that_goes_away_closes_its_connection_rather_than_pooling_it() -> None:
    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.read()  # until the client closes
        upstream_seen_close.set()

    upstream_seen_close = asyncio.Event()

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[int, int]:
        waiting = asyncio.ensure_future(client.request(origin, "GET", "/x", [], b"", 5, 5))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.wait_for(upstream_seen_close.wait(), 5)
        return origin.open, len(origin.idle)

    assert run(lambda u: never_answers, scenario) == (0, 0)


def test_a_body_the_consumer_does_not_read_pauses_the_connection_and_comes_whole_when_read() -> None:
    size = 8 * HIGH_WATER

    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        writer.write(b"z" * size)
        await writer.drain()
        await asyncio.sleep(5)

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[bool, int]:
        answer = await client.request(origin, "GET", "/x", [], b"", 5, 5)
        for _ in range(200):
            if answer.paused:
                break
            await asyncio.sleep(0.01)
        paused = answer.paused
        total = 0
        async for chunk in answer.chunks():
            total += len(chunk)
        answer.release()
        return paused, total

    assert run(lambda u: big, scenario) == (True, size)


def test_beyond_the_limit_a_request_waits_for_a_free_connection() -> None:
    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[list[bytes], int, int]:
        bodies = await asyncio.gather(*(get(client, origin) for _ in range(4)))
        return [body for _, body in bodies], upstream.connections, origin.open

    assert run(lambda u: answering(OK, upstream=u), scenario, limit=1) == ([b"ok"] * 4, 1, 1)


def test_idle_connections_are_closed_after_the_keep_alive_idle_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_pool, "KEEP_ALIVE_IDLE", 0.05)

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[int, int]:
        await get(client, origin)
        for _ in range(200):
            if upstream.closed_by_client:
                break
            await asyncio.sleep(0.01)
        return upstream.closed_by_client, origin.open

    assert run(lambda u: answering(OK, upstream=u), scenario) == (1, 0)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, and its key (PEM files in `folder`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_an_https_upstream_is_verified_a_certificate_nobody_vouches_for_is_refused(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert_file, key_file)
    trusting = ssl.create_default_context(cafile=str(cert_file))

    async def main() -> tuple[bytes, bool]:
        holder: list[Upstream] = []
        upstream = Upstream(answering(OK, upstream=holder))
        holder.append(upstream)
        upstream.server = await asyncio.start_server(upstream._connected, "127.0.0.1", 0, ssl=server_side)
        url = URL(f"https://127.0.0.1:{upstream.server.sockets[0].getsockname()[1]}")
        try:
            default = HttpClient()  # the system's CAs: the self-signed certificate is refused
            with pytest.raises(ConnectFailed) as failed:
                await get(default, default.origin(url))
            trusted = HttpClient(tls=trusting)
            _, body = await get(trusted, trusted.origin(url))
            trusted.close()
            return body, isinstance(failed.value.os_error, ssl.SSLCertVerificationError)
        finally:
            upstream.server.close()

    assert asyncio.run(main()) == (b"ok", True)


def test_a_large_request_body_the_upstream_keeps_reading_is_not_a_timeout_one_it_stops_reading_is() -> None:
    body = b"u" * (32 * 1024 * 1024)  # beyond what the kernel's socket buffers take at once

    async def reads_slowly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        left, since_pause = len(body), 0
        while left:  # 2 MiB, then a pause of 0.05 s: the whole upload takes longer than the read timeout
            read = len(await reader.read(left))
            left, since_pause = left - read, since_pause + read
            if since_pause >= 2 * 1024 * 1024:
                since_pause = 0
                await asyncio.sleep(0.05)
        writer.write(OK)
        await writer.drain()

    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(10)

    async def upload(client: HttpClient, origin: Origin, upstream: Upstream) -> bytes:
        return (await get(client, origin, "PUT", body, timeout=0.3))[1]

    async def stuck(client: HttpClient, origin: Origin, upstream: Upstream) -> None:
        with pytest.raises(TimeoutError):
            await get(client, origin, "PUT", body, timeout=0.3)

    assert run(lambda u: reads_slowly, upload) == b"ok"
    run(lambda u: never_reads, stuck)


def test_a_post_carrying_an_idempotency_key_is_sent_again_on_a_fresh_connection() -> None:
    async def closes_on_second_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[bytes, int]:
        await get(client, origin)
        _, body = await get(client, origin, "POST", b"", headers=[("Idempotency-Key", "k-1")])
        return body, upstream.connections

    assert run(lambda u: closes_on_second_request, scenario) == (b"ok", 2)


def test_a_second_answer_in_the_same_read_reaches_nothing_and_the_connection_is_not_reused() -> None:
    split = OK + b"HTTP/1.1 500 Evil\r\nSet-Cookie: injected=1\r\nContent-Length: 0\r\n\r\n"  # response splitting

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> list[tuple[Any, ...]]:
        answers = [await get(client, origin) for _ in range(2)]
        return [(a.status, a.headers, body, a.keep_alive) for a, body in answers] + [(upstream.connections,)]

    first, second, connections = run(lambda u: answering(split, upstream=u), scenario)
    assert first == second == (200, [("Content-Length", "2")], b"ok", False)
    assert connections == (2,)  # each answer's connection closed, never pooled


def test_a_reset_in_the_middle_of_a_body_that_ends_with_the_close_is_broke_off() -> None:
    head_read = asyncio.Event()

    async def resets(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"partial": ')
        await writer.drain()
        await head_read.wait()
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST, not FIN

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> list[bytes]:
        answer = await client.request(origin, "GET", "/x", [], b"", 5, 5)
        seen = []
        with pytest.raises(BrokeOff):
            async for chunk in answer.chunks():
                seen.append(chunk)
                head_read.set()
        answer.release()
        assert not answer.complete
        return seen

    assert run(lambda u: resets, scenario) == [b'{"partial": ']


@pytest.mark.parametrize("coding", [b"gzip", b"gzip, chunked", b"chunked, gzip", b"chunked\r\nTransfer-Encoding: chunked"])
def test_a_transfer_coding_other_than_chunked_alone_is_an_invalid_answer(coding: bytes) -> None:
    coded = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + b"\r\n\r\n2\r\n{}\r\n0\r\n\r\n"

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> str:
        with pytest.raises(InvalidAnswer) as refused:
            await get(client, origin)
        return str(refused.value)

    assert run(lambda u: answering(coded, upstream=u), scenario) == "a transfer coding other than chunked alone"


def test_trailers_are_not_kept_and_count_toward_the_head_cap() -> None:
    small = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: t\r\n\r\n"
    endless = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n" + b"X-T: " + b"t" * 1000 + b"\r\n"

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(endless)
        for _ in range(200):  # 200 KB of trailer lines, never ending
            writer.write(b"X-T: " + b"t" * 1000 + b"\r\n")
            await writer.drain()
        await reader.read()

    async def kept(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[Any, ...]:
        answer, body = await get(client, origin)
        return answer.headers, body

    async def capped(client: HttpClient, origin: Origin, upstream: Upstream) -> None:
        with pytest.raises(InvalidAnswer, match="trailers over 64 KiB"):
            await get(client, origin)

    assert run(lambda u: answering(small, upstream=u), kept) == ([("Transfer-Encoding", "chunked")], b"ok")
    run(lambda u: flood, capped)


def test_waiting_for_a_connection_beyond_the_limit_is_bounded_by_the_connect_timeout() -> None:
    go_on = asyncio.Event()

    async def held(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await go_on.wait()
        writer.write(OK)
        await writer.drain()

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[Any, ...]:
        busy = asyncio.create_task(get(client, origin))
        while not upstream.connections:
            await asyncio.sleep(0.01)
        with pytest.raises(TimeoutError):
            await client.request(origin, "GET", "/x", [], b"", 5, 0.2)
        go_on.set()
        _, body = await busy
        return body, len(origin.waiters), origin.open, upstream.connections

    assert run(lambda u: held, scenario, limit=1) == (b"ok", 0, 1, 1)


def test_the_stale_connection_resend_waits_for_room_within_the_limit() -> None:
    def first_goes_stale(upstream: list[Upstream]) -> Handler:
        keeps = answering(OK, upstream=upstream)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if upstream[0].connections > 1:
                return await keeps(reader, writer)
            await reader.readuntil(b"\r\n\r\n")
            writer.write(OK)
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")  # the kept connection's next request: closed unanswered

        return handle

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[Any, ...]:
        await get(client, origin)
        most = 0

        async def watch() -> None:
            nonlocal most
            while True:
                most = max(most, origin.open)
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        bodies = await asyncio.gather(*(get(client, origin) for _ in range(3)))
        watcher.cancel()
        return [body for _, body in bodies], most

    bodies, most = run(first_goes_stale, scenario, limit=1)
    assert bodies == [b"ok"] * 3
    assert most == 1


def test_an_upstreams_shorter_keep_alive_timeout_is_honoured() -> None:
    brief = b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1, max=100\r\nContent-Length: 2\r\n\r\nok"  # gone within 1 s

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[int, int]:
        await get(client, origin)
        await get(client, origin)  # not within a second of its idle timeout: a fresh connection
        return upstream.connections, origin.open

    assert run(lambda u: answering(brief, upstream=u), scenario) == (2, 1)
    assert connection_pool.KEEP_ALIVE_IDLE < 5  # below Node's and uvicorn's idle timeout


def test_a_closed_client_makes_no_new_pool() -> None:
    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> None:
        client.close()
        with pytest.raises(Disconnected):
            client.origin(URL("http://127.0.0.1:9"))  # a late health probe's: refused, never a pool left open

    run(lambda u: answering(OK, upstream=u), scenario)


def test_a_health_probe_reads_a_large_body_only_so_far_and_closes_its_connection() -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
        while True:
            writer.write(b"x" * 65536)
            await writer.drain()

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[bool, int]:
        answer = await client.request(origin, "GET", "/health", [], b"", 5, 5)
        await drain(answer)
        answer.release()
        return answer.complete, origin.open

    assert run(lambda u: endless, scenario) == (False, 0)
