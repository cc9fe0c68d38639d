"""A response's head and body leave in one write: a process killed mid-answer sends all of it or nothing.

uvicorn writes the status line and headers when the app sends `http.response.start`, and the body with
`http.response.body`: two `send()` calls. A gateway process killed between them (SIGKILL, OOM, a node
gone) leaves its proxy with a complete head and no body; nginx has then already passed the head on
and can no longer retry the request on another process, so the client gets a truncated answer
(`peer closed connection without sending complete message body`). Killed before one whole write, the
proxy sees a connection closed unanswered and retries (proxy_next_upstream); killed after, the kernel
still delivers what was written.

So the writes made while the event loop runs one step of the app (for an answer whose body is at hand,
head and body together) are joined and handed to the socket at the end of that step. A body larger than
`WHOLE_UP_TO` is written as it comes (joining it would copy it), as are the pieces of a stream: the
promise is for answers that fit in one write, which is nearly every API answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

WHOLE_UP_TO = 64 * 1024  # bytes: head and body up to this size leave in one write


class WholeWrites:
    """The transport as uvicorn's protocol sees it: `write()` gathers until the loop's step ends, everything
    else is the real transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.real = transport
        self._loop = loop
        self.is_closing = transport.is_closing  # asked several times a request (uvicorn, the guard): no __getattr__ detour
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        size = len(data)
        if not size:
            return
        if self._size + size > WHOLE_UP_TO:  # too big to join: what is pending first, then this, now
            self.flush()
            self.real.write(data)
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data if type(data) is bytes else bytes(data))  # a buffer the writer may reuse: copied
        self._size += size

    def writelines(self, pieces: Any) -> None:
        self.write(b"".join(pieces))

    def flush(self) -> None:
        """Hand what is gathered to the socket (at the end of the loop's step, or before a close)."""
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._size = 0
        if not self.real.is_closing():
            self.real.write(data)

    def get_write_buffer_size(self) -> int:
        return self.real.get_write_buffer_size() + self._size

    def write_eof(self) -> None:
        self.flush()
        self.real.write_eof()

    def close(self) -> None:
        self.flush()
        self.real.close()

    def abort(self) -> None:  # a reset drops what is queued, gathered bytes included
        self._pending.clear()
        self._size = 0
        self.real.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)
