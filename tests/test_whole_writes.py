"""A small answer's head and body leave the gateway in one write, so a process killed mid-answer sends all of it
or nothing, and a proxy in front (nginx) can retry "nothing" on another process
(tests/test_several_processes.py::test_killing_one_process_loses_no_request shows it end to end).

Here the gateway's connection protocol runs on a recording transport: each `write()` that reaches the socket
is one entry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from bench.protocol import RecordingTransport
from gw.server.connections import GuardedHttpProtocol
from gw.server.whole_writes import WHOLE_UP_TO
from gw.settings.policy_settings import ServerSettings


def answered(body: bytes, chunks: int = 1) -> list[bytes]:
    """The writes the protocol makes for one GET answered with `body` (sent in `chunks` ASGI messages)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        size = -(-len(body) // chunks)
        for start in range(0, len(body), size):
            more = start + size < len(body)
            await send({"type": "http.response.body", "body": body[start:start + size], "more_body": more})
            if more:
                await asyncio.sleep(0)  # a stream: the next piece comes in a later step of the loop

    async def run() -> list[bytes]:
        config = uvicorn.Config(app, log_level="error", access_log=False)
        config.load()
        protocol = GuardedHttpProtocol(config=config, server_state=ServerState(), app_state={},
                                       settings=ServerSettings())
        transport = RecordingTransport()
        protocol.connection_made(transport)
        protocol.data_received(b"GET /items/1 HTTP/1.1\r\nHost: gw\r\n\r\n")
        for _ in range(200):  # until the answer is written whole
            await asyncio.sleep(0)
            if b"".join(transport.writes).endswith(body):
                break
        protocol.connection_lost(None)
        return transport.writes

    return asyncio.run(run())


def test_head_and_body_of_a_small_answer_leave_in_one_write() -> None:
    body = b'{"id": 1, "name": "alice"}'
    writes = answered(body)
    assert len(writes) == 1, writes
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n" + body)


def test_a_large_body_is_written_as_it_comes_not_copied() -> None:
    body = b"x" * (WHOLE_UP_TO + 1)
    writes = answered(body)
    assert len(writes) == 2
    assert writes[0].endswith(b"\r\n\r\n") and writes[1] == body


def test_a_stream_leaves_piece_by_piece() -> None:
    body = b"0123456789" * 3
    writes = answered(body, chunks=3)
    assert len(writes) == 3  # the head with the first piece, then each later piece as the app sends it
    assert writes[0].endswith(b"\r\n\r\n" + body[:10]) and writes[1:] == [body[10:20], body[20:]]
