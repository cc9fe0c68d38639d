"""A streamed answer ends when its client goes away.

An ASGI server's `send` quietly drops what is written after a disconnect, so without watching
`receive` a streamed body would be read to its end for nobody: an upstream's endless SSE feed
held open for ever, a paced mock stream ticking on. Here the stream stops at the disconnect and
its `on_close` releases the upstream connection. A stream whose source fails half-way (an
upstream that dies) is ended unfinished, so the client sees it broken rather than complete, with
one log line instead of a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable

from .exchange import ASGIReceive, ASGISend, Response

log = logging.getLogger("gw")


def send_answer(response: Response, send: ASGISend, receive: ASGIReceive, head_only: bool = False) -> Awaitable[None]:
    """Send `response`; a streamed body is cut off (and released) as soon as the client disconnects. A body at
    hand is simply sent: its awaitable as it is, no frame of this function's own."""
    if isinstance(response.body, bytes):
        return response.send(send, head_only)
    return _send_stream(response, send, receive, head_only)


async def _send_stream(response: Response, send: ASGISend, receive: ASGIReceive, head_only: bool) -> None:
    if head_only:  # the head of a stream, as GET would send it (no length); its body is never made
        await response.close()
        response.body = _nothing()
    sending = asyncio.ensure_future(response.send(send, head_only))
    watching = asyncio.ensure_future(_disconnect(receive))
    try:
        await asyncio.wait({sending, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        cut_off = not sending.done()
        watching.cancel()
        sending.cancel()  # nothing when it has finished
        _, outcome = await asyncio.gather(watching, sending, return_exceptions=True)
    if cut_off:
        await response.close()  # idempotent: released here if the stream never reached its own finally
    elif isinstance(outcome, OSError):
        raise outcome  # the client went away: the caller says so
    elif isinstance(outcome, Exception):  # the body's source failed after the head was sent: end it unfinished
        log.warning("a streamed answer broke off: %s: %s", type(outcome).__name__, outcome)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield


async def _disconnect(receive: ASGIReceive) -> None:
    """Returns when the client has gone (the request body, if still unread, is read past)."""
    while (await receive())["type"] != "http.disconnect":
        pass
