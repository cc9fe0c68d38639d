"""A response's head and body leave in one write: a process killed mid-answer sends all of it or nothing.

An ASGI app sends the status line and headers with `http.response.start` and the body with `http.response.body`:
two `send()` calls. A gateway process killed between two writes (SIGKILL, OOM, a node gone) would leave its proxy
with a complete head and no body; nginx has then already passed the head on and can no longer retry the request
on another process, so the client gets a truncated answer (`peer closed connection without sending complete
message body`). Killed before one whole write, the proxy sees a connection closed unanswered and retries
(proxy_next_upstream); killed after, the kernel still delivers what was written.

So gw's protocol (gateway/server/request_cycle.py) gathers the encoded head and what the app sends with it while
the event loop runs one step of the app (for an answer whose body is at hand, head and body together) and hands
them to the socket at the end of that step. A body larger than `WHOLE_UP_TO` is written as it comes (joining it
would copy it), as are a stream's later pieces: the promise is for answers that fit in one write, which is nearly
every API answer.

When the process has only that one request in flight, a whole answer leaves as soon as its last piece is sent,
before the app's bookkeeping after it (metrics, the access line, the journal): nothing else could share the write's
wake-up, and the client waits less (~40 µs of a live hop's p50 at one connection here). Under load, answers of one
step still leave at its end, so a client reading many connections wakes once for several.
"""

from __future__ import annotations

import asyncio

WHOLE_UP_TO = 64 * 1024  # bytes: head and body up to this size leave in one write


def gather(pending: bytes, data: bytes, transport: asyncio.Transport) -> bytes:
    """`data` joined to what waits for the end of the step; when together they are too big to join, what waits is
    written now, then `data`, and nothing waits any more."""
    if len(pending) + len(data) <= WHOLE_UP_TO:
        return pending + data
    if not transport.is_closing():
        transport.write(pending)
        if data:
            transport.write(data)
    return b""
