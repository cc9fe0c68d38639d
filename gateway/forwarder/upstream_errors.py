"""How an attempt on an upstream fails without a whole answer: the HTTP client's own errors (forwarder/http1.py).

Each says what the forwarder needs to tell the client and the metrics: no connection, no answer, an answer cut
short, an answer that is not HTTP. A timeout is the builtin TimeoutError (504), as everywhere in gw.
"""

from __future__ import annotations


class UpstreamError(Exception):
    """An upstream did not give a whole, readable answer."""


class ConnectFailed(UpstreamError):
    """No connection: refused, no route, a name that does not resolve, a TLS handshake that failed."""

    def __init__(self, os_error: OSError) -> None:
        super().__init__(str(os_error))
        self.os_error = os_error


class Disconnected(UpstreamError):
    """The upstream closed the connection before the head of its answer was in."""


class BrokeOff(UpstreamError):
    """The upstream closed the connection in the middle of its answer's body."""


class InvalidAnswer(UpstreamError):
    """What came back is not an HTTP/1.x answer gw reads: a broken head or chunk, a head beyond the cap, an upgrade."""


class UnsafeRequest(ValueError):
    """A request gw will not write: CR, LF or NUL in its target or a header (they would smuggle a second request)."""
