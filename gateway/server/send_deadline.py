"""How long a client may leave its answer untaken (`server.send_timeout`), as nginx's send_timeout.

A client that stops reading (its TCP window full) would otherwise hold its request, the answer's memory and, on a
live hop, an upstream connection for as long as it stays connected. asyncio already says when the connection's
write buffer is over its high-water mark (`pause_writing`) and when it drains (`resume_writing`); a deadline runs
only between the two, so a client that keeps up costs nothing. When it expires the connection is cut only if the
client took nothing meanwhile: a slow reader that keeps reading is never cut, however long its answer takes.

What the client took is read off what is still unsent: the transport's buffer and, on Linux, the bytes the kernel
holds unacknowledged (SIOCOUTQ). The kernel's buffer alone can hold megabytes and hands them to the transport only
once it is a third empty, so the transport's buffer alone would miss a slow reader's progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable

try:
    import fcntl
    import termios

    OUTQ: int | None = termios.TIOCOUTQ  # == SIOCOUTQ on Linux: a TCP socket's bytes not yet acknowledged
except (ImportError, AttributeError):  # Windows
    OUTQ = None


class SendDeadline:
    """One connection's deadline while its writing is paused: re-armed as long as the client takes some of what
    waits, `expired()` once a whole `seconds` passes without it."""

    __slots__ = ("_timer", "_unsent", "expired", "loop", "seconds", "transport")

    def __init__(self, loop: asyncio.AbstractEventLoop, transport: asyncio.Transport, seconds: float,
                 expired: Callable[[], None]) -> None:
        self.loop = loop
        self.transport = transport
        self.seconds = seconds
        self.expired = expired
        self._timer: asyncio.TimerHandle | None = None
        self._unsent = 0

    def start(self) -> None:
        """Writing paused: one timer for the paused period."""
        self._unsent = unsent(self.transport)
        self._timer = self.loop.call_later(self.seconds, self._check)

    def stop(self) -> None:
        """Writing resumed (or the connection ended)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        now = unsent(self.transport)
        if now < self._unsent:  # the client took some: another period to take more
            self._unsent = now
            self._timer = self.loop.call_later(self.seconds, self._check)
        else:
            self.expired()


def unsent(transport: asyncio.Transport) -> int:
    """Bytes written to `transport` the client has not acknowledged: its buffer and, where the kernel says, the
    socket's queue."""
    size = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if OUTQ is not None and sock is not None:
        with contextlib.suppress(OSError, ValueError):  # not a TCP socket (a Unix socket may answer; TLS still counts)
            size += struct.unpack("i", fcntl.ioctl(sock.fileno(), OUTQ, b"\0\0\0\0"))[0]
    return size
