"""Every response carries X-Request-ID: the client's when it sent a sane one, else a new one."""

from __future__ import annotations

import os
import re

from ..exchange import Exchange, Response
from ..pipeline import Next

_SANE = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")


def request_id_for(exchange: Exchange) -> str:
    """The client's id when it is sane (so one id follows a request across services), else a new one."""
    given = exchange.headers.get("x-request-id", "")
    return given if _SANE.match(given) else new_request_id()


def new_request_id() -> str:
    """A random UUID (version 4) as 32 hex digits, what `uuid.uuid4().hex` gives, without making the UUID
    object each request pays for."""
    value = int.from_bytes(os.urandom(16), "big")
    value = (value & ~(0xC000 << 48) | 0x8000 << 48) & ~(0xF000 << 64) | 0x4000 << 64  # RFC 4122 variant, version 4
    return f"{value:032x}"


class RequestId:
    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        exchange.request_id = request_id_for(exchange)
        response = await call_next(exchange)
        response.headers.append(("x-request-id", exchange.request_id))
        return response
