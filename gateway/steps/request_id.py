"""Every response carries X-Request-ID: the client's when it sent a sane one, else a new one."""

from __future__ import annotations

import re
import uuid

from ..exchange import Exchange, Response
from ..pipeline import Next

_SANE = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")


def request_id_for(exchange: Exchange) -> str:
    """The client's id when it is sane (so one id follows a request across services), else a new one."""
    given = exchange.headers.get("x-request-id", "")
    return given if _SANE.match(given) else uuid.uuid4().hex


class RequestId:
    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        exchange.request_id = request_id_for(exchange)
        response = await call_next(exchange)
        response.headers.append(("x-request-id", exchange.request_id))
        return response
