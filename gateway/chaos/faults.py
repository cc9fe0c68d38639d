"""How each fault reaches the client.

Socket faults happen below HTTP, where ASGI has no words: the answer becomes a `SocketFault`, whose
`send` works on the request's connection (`gw.connection` in the scope, set by gateway/server/connections.py)
instead of writing an HTTP answer:

* `connection_reset`: a TCP RST (linger 0, then close): the client's read fails with ECONNRESET;
* `empty_response`: closed without a byte: "server disconnected without sending a response";
* `malformed_chunk`: the real status line and headers, chunked, one good chunk, then a chunk whose
  size line is not hexadecimal, and the end: the client's chunked decoding fails;
* `random_data_then_close`: bytes that are no status line, then the end: a protocol error.

A status fault is an answer like any other: the operation's documented error (the status asked for,
else its lowest documented 5xx, `5XX` or `default`, else its lowest documented 4xx), built by the mocker
as `Prefer: code=...` builds it, so its body is valid against the spec; an operation that documents no
error at all gets none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from ..core.exchange import CONNECTION_EXTENSION, ASGIReceive, ASGISend, Exchange, Response
from ..core.problems import Problem
from ..mocker.error_answers import documented_status
from ..mocker.mocker import build_answer
from ..mocker.negotiator import Preferences
from ..mocker.streams import EventStream, Pacing
from ..settings.chaos import SOCKET_FAULTS, Fault
from ..spec.load import Operation

log = logging.getLogger("gw.chaos")

NO_STATUS = 0  # what the journal, metrics and access log say of an answer that never was (a cut connection)
CLOSED_WAIT = 5.0  # seconds to wait for the server to see the cut connection before the app returns
NO_BODY = frozenset({204, 304})
SOCKET_FAULTS_SET = frozenset(SOCKET_FAULTS)
HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass
class SocketFault(Response):
    """An answer that is a cut or garbled connection; `payload`: the bytes written before the close."""

    kind: str = ""
    payload: bytes = b""
    scope: dict[str, Any] = field(default_factory=dict)
    receive: ASGIReceive | None = None

    async def send(self, send: ASGISend, head_only: bool = False) -> None:
        connection = self.scope.get("extensions", {}).get(CONNECTION_EXTENSION)
        if connection is None:  # served by something other than `gw serve`'s uvicorn protocol: say so, as HTTP
            problem = Problem(501, detail=f"the {self.kind} fault needs gw's own HTTP server (gw serve)",
                              title="Fault cannot be injected here", slug="chaos-fault-unavailable")
            await Response.from_problem(problem).send(send, head_only)
            return
        if self.kind == "connection_reset":
            connection.reset()
        else:
            connection.close(self.payload)
        await self._closed()

    async def _closed(self) -> None:
        """Return once the server has seen the connection end, so it adds no answer of its own."""
        if self.receive is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSED_WAIT):
                while (await self.receive())["type"] != "http.disconnect":
                    pass


async def socket_fault(kind: str, exchange: Exchange, answer: Response, rng: random.Random) -> SocketFault:
    """The fault in place of `answer` (whose streamed body, if any, is released unread)."""
    payload = b""
    if kind == "malformed_chunk":
        payload = await _malformed(answer, rng)
    elif kind == "random_data_then_close":
        payload = _garbage(rng)
    await answer.close()
    return SocketFault(NO_STATUS, [], b"", None, kind, payload, exchange.scope, exchange.receive)


async def _malformed(answer: Response, rng: random.Random) -> bytes:
    """The answer's head, chunked, its first half as one good chunk, then a chunk size that is no number."""
    status = answer.status if answer.status >= 200 and answer.status not in NO_BODY else 200  # a body must follow
    body = answer.body if isinstance(answer.body, bytes) else b""
    if not isinstance(answer.body, bytes):
        with contextlib.suppress(Exception):
            body = await anext(aiter(answer.body), b"")
    piece = body[: max(1, len(body) // 2)] or b"{"
    lines = [f"HTTP/1.1 {status} {_phrase(status)}"]
    lines += [f"{k}: {v}" for k, v in answer.headers if k.lower() not in HOP_HEADERS]
    lines += ["transfer-encoding: chunked", "connection: close"]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    broken = b"%x;chunk\r\n" % len(piece) + piece + b"\r\n" + b"zz" + rng.randbytes(6).hex().encode() + b"\r\n"
    return head + broken


def _garbage(rng: random.Random) -> bytes:
    """Bytes no HTTP server would send: never a status line, not even its first letter."""
    data = bytearray(rng.randbytes(rng.randint(64, 512)))
    if data[:1] == b"H":
        data[0] = 0
    return bytes(data)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


def status_fault(exchange: Exchange, fault: Fault, pacing: Pacing) -> Response | None:
    """The operation's documented error answer for the fault, or None when it documents none."""
    operation, service = exchange.operation, exchange.service
    assert operation is not None and service is not None
    code = _error_code(operation, fault.status)
    if code is None:
        return None
    prefs = Preferences(code=str(code))
    try:
        answer = build_answer(service, operation, prefs, exchange.headers.get("accept"), exchange)
    except Problem:  # the client's Accept fits none of the error's media types: the first one, as the spec lists
        answer = build_answer(service, operation, prefs, None, exchange)
    _, status, headers, body = answer
    if isinstance(body, EventStream):
        body = body.body(pacing)
    return Response(status, list(headers), body)


def _error_code(operation: Operation, wanted: int) -> int | None:
    """`wanted` when the operation documents it (exactly, by range or `default`), else its lowest documented
    server error (`5XX` and `default` as 500), else its lowest documented client error; None when it documents
    no error at all."""
    if wanted and documented_status(operation, wanted) is not None:
        return wanted
    responses = operation.responses
    for first in "54":
        codes = sorted(int(c) for c in responses if c.isdigit() and c.startswith(first))
        if codes:
            return codes[0]
        if any(c.upper() == f"{first}XX" for c in responses) or (first == "5" and "default" in responses):
            return int(first) * 100
    return None
