"""An upstream that sends a whole answer and, in the same read, the start of another never finished: those bytes
stay in the connection's parser (one per connection), so the connection must not carry the next request, whose
real answer would be read as the rest of them (a wrong status or header, or a false 502)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_upstream_client import Handler, HttpClient, Origin, Upstream, get, run

CREATED = b"HTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\ncreated"
WHOLE = {
    "sized": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    "no content": b"HTTP/1.1 204 No Content\r\n\r\n",
}
UNFINISHED = [b"HTTP/1.1 200 OK\r\nX-Stale: ", b"HTTP/1.1 500 Internal Server Error\r\n", b"H"]


def first_then_created(first: bytes, upstream: list[Upstream]) -> Handler:
    """The upstream's first request, on whatever connection, gets `first`; every later one CREATED."""

    async def handle(reader: Any, writer: Any) -> None:
        while await upstream[0].read_head(reader):
            writer.write(first if len(upstream[0].heads) == 1 else CREATED)
            await writer.drain()

    return handle


@pytest.mark.parametrize("leftover", UNFINISHED)
@pytest.mark.parametrize("kind", list(WHOLE))
def test_the_start_of_a_second_answer_behind_a_whole_one_keeps_the_connection_from_the_next_request(
        kind: str, leftover: bytes) -> None:
    async def scenario(client: HttpClient, origin: Origin, upstream: Upstream) -> list[Any]:
        first, first_body = await get(client, origin)
        second, second_body = await get(client, origin, method="POST", body=b"x")  # a POST: never sent twice
        return [first.status, first_body, first.keep_alive, second.status, second.headers, second_body,
                upstream.connections]

    first_status, first_body, kept, status, headers, body, connections = run(
        lambda u: first_then_created(WHOLE[kind] + leftover, u), scenario)
    assert (first_status, first_body, kept) == (int(WHOLE[kind][9:12]), b"hi" if kind != "no content" else b"", False)
    assert (status, headers, body) == (201, [("Content-Length", "7")], b"created")  # its own answer, on a new connection
    assert connections == 2
