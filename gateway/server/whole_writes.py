"""A response's head and body leave in one write: a process killed mid-answer sends all of it or nothing.

An ASGI app sends the status line and headers with `http.response.start` and the body with `http.response.body`:
two `send()` calls. A gateway process killed between two writes (SIGKILL, OOM, a node gone) would leave its proxy
with a complete head and no body; nginx has then already passed the head on and can no longer retry the request
on another process, so the client gets a truncated answer (`peer closed connection without sending complete
message body`). Killed before one whole write, the proxy sees a connection closed unanswered and retries
(proxy_next_upstream); killed after, the kernel still delivers what was written.

So gw's protocol (gateway/server/connections.py) holds the encoded head until the body's first piece and writes
them together; if no piece comes within the loop's step (a stream waiting for its first event), the head leaves
alone at the end of that step. A body larger than `WHOLE_UP_TO` is written after the head (joining it would copy
it), as are a stream's later pieces, each as the app sends it: the promise is for answers that fit in one write,
which is nearly every API answer.
"""

from __future__ import annotations

import asyncio

WHOLE_UP_TO = 64 * 1024  # bytes: head and body up to this size leave in one write


def write_whole(transport: asyncio.Transport, head: bytes, data: bytes) -> None:
    """The head and the body's first piece: one write when together they fit, else the head, then the piece."""
    if transport.is_closing():
        return
    if not data:
        transport.write(head)
    elif len(head) + len(data) <= WHOLE_UP_TO:
        transport.write(head + data)
    else:
        transport.write(head)
        transport.write(data)
