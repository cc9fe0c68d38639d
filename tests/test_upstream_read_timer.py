"""The read timeout's one timer per upstream connection (forwarder/http1.py: Connection.arm), against real loopback
servers: requests one after another on a kept connection share it, and each request still gets its own timeout,
a shorter one than the timer was armed for included; an answer's hop-by-hop fields are left out as its head is read
(Answer.passed), what its Connection header names too."""

from __future__ import annotations

import asyncio

import pytest

from gw.forwarder.connection_pool import HttpClient, Origin
from tests.test_upstream_client import OK, Upstream, answering, get, run


def test_a_shorter_timeout_on_a_kept_connection_is_not_waited_out_for_the_longer_one_armed_before() -> None:
    async def answers_once_then_stalls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(60)  # the second request is never answered

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[bytes, str, int]:
        _, body = await get(client, origin, timeout=60)  # arms the connection's timer a minute ahead
        async with asyncio.timeout(20):  # a guard only: the client's own timeout must say it first
            with pytest.raises(TimeoutError) as waited:
                await get(client, origin, timeout=0.2)
        return body, str(waited.value), upstream.connections

    assert run(lambda u: answers_once_then_stalls, scenario) == (b"ok", "no answer within 0.2s", 1)


def test_sequential_answers_on_one_connection_each_keep_their_own_timeout() -> None:
    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[list[bytes], int]:
        bodies = [(await get(client, origin, timeout=0.2))[1] for _ in range(3)]
        await asyncio.sleep(0.5)  # the timer fires on an idle connection: nothing to end
        bodies.append((await get(client, origin, timeout=0.2))[1])
        return bodies, upstream.connections

    assert run(lambda u: answering(OK, upstream=u), scenario) == ([b"ok"] * 4, 1)


def test_hop_by_hop_fields_and_those_connection_names_are_not_passed_on_but_kept_in_the_head() -> None:
    answer_bytes = (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=9\r\nX-Hop: 1\r\n"
                    b"Content-Type: text/plain\r\nSet-Cookie: a=1\r\nTE: trailers\r\nUpgrade: h2c\r\n"
                    b"Proxy-Connection: x\r\nContent-Length: 2\r\n\r\nok")

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[object, ...]:
        answer, body = await get(client, origin)
        return answer.passed, len(answer.headers), answer.keep_for, answer.length, body

    assert run(lambda u: answering(answer_bytes, upstream=u), scenario) == (
        [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Content-Length", "2")], 9, 9.0, 2, b"ok")


@pytest.mark.parametrize("head_answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",  # the parser ends the message with its head
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",  # a length with no body behind it
])
def test_after_an_answer_to_head_the_kept_connection_reads_the_next_answer_with_a_parser_of_its_own(
        head_answer: bytes) -> None:
    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[object, ...]:
        head, head_body = await get(client, origin, "HEAD")
        results = [(await get(client, origin))[1] for _ in range(2)]
        return head.status, head_body, head.keep_alive, results, upstream.connections

    status = int(head_answer.split()[1])
    assert run(lambda u: answering(head_answer, OK, upstream=u), scenario) == (status, b"", True, [b"ok", b"ok"], 1)


def test_a_second_answer_behind_an_answer_to_head_reaches_nothing_and_the_connection_is_not_reused() -> None:
    split = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 500 Evil\r\nContent-Length: 0\r\n\r\n"

    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> tuple[object, ...]:
        head, _ = await get(client, origin, "HEAD")
        after, body = await get(client, origin)
        return head.status, head.keep_alive, after.status, body, upstream.connections

    assert run(lambda u: answering(split, upstream=u), scenario) == (200, False, 200, b"", 2)  # each on a connection of its own
