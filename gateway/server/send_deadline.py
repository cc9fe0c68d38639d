"""How long a client may leave its answer untaken (`server.send_timeout`), as nginx's send_timeout.

A client that stops reading (its TCP window full) would otherwise hold its request, the answer's memory and, on a
live hop, an upstream connection for as long as it stays connected. asyncio already says when the connection's
write buffer is over its high-water mark (`pause_writing`) and when it drains (`resume_writing`); a deadline runs
only between the two, so a client that keeps up costs nothing. The connection is cut once the client has taken
nothing for the whole `send_timeout`: a slow reader that keeps reading is never cut, however long its answer takes.
It looks CHECKS times per `send_timeout`, so a stalled client is cut between one and 1 + 1/CHECKS `send_timeout`
after the last bytes it took (the last of them often arrive just after writing pauses, as its window closes).

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

CHECKS = 4  # looks per send_timeout while writing is paused


class SendDeadline:
    """One connection's deadline while its writing is paused: `expired()` once a whole `seconds` passes without the
    client taking any of what waits."""

    __slots__ = ("_since", "_timer", "_unsent", "expired", "loop", "seconds", "transport")

    def __init__(self, loop: asyncio.AbstractEventLoop, transport: asyncio.Transport, seconds: float,
                 expired: Callable[[], None]) -> None:
        self.loop = loop
        self.transport = transport
        self.seconds = seconds
        self.expired = expired
        self._timer: asyncio.TimerHandle | None = None
        self._unsent = 0
        self._since = 0.0  # when the client was last seen taking some

    def start(self) -> None:
        """Writing paused: one timer for the paused period."""
        self.stop()
        self._unsent = unsent(self.transport)
        self._since = self.loop.time()
        self._timer = self.loop.call_later(self.seconds / CHECKS, self._check)

    def stop(self) -> None:
        """Writing resumed (or the connection ended)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        left, now = unsent(self.transport), self.loop.time()
        if left < self._unsent:  # the client took some: a whole send_timeout again to take more
            self._since = now
        elif now >= self._since + self.seconds:
            self.expired()
            return
        self._unsent = left  # (more than before: the app wrote while paused; the client's next bytes count from here)
        self._timer = self.loop.call_later(min(self.seconds / CHECKS, self._since + self.seconds - now), self._check)


def unsent(transport: asyncio.Transport) -> int:
    """Bytes written to `transport` the client has not acknowledged: its buffer and, where the kernel says, the
    socket's queue."""
    size = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if OUTQ is not None and sock is not None:
        with contextlib.suppress(OSError, ValueError):  # not a TCP socket (a Unix socket may answer; TLS still counts)
            size += struct.unpack("i", fcntl.ioctl(sock.fileno(), OUTQ, b"\0\0\0\0"))[0]
    return size
