"""Every response carries X-Request-ID: the client's when it sent a sane one, else a new one."""

from __future__ import annotations

import re
import uuid

from ..exchange import Exchange, Response
from ..pipeline import Next

_SANE = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")


class RequestId:
    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        given = exchange.headers.get("x-request-id", "")
        exchange.request_id = given if _SANE.match(given) else uuid.uuid4().hex
        response = await call_next(exchange)
        response.headers.append(("x-request-id", exchange.request_id))
        return response
