"""A request body's two ends: over the configured size it is refused with 413 before it is read whole, and a
success waits for its end (gateway/edge/aborted.py: an upload cut short is never answered as whole)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from ..core.exchange import Exchange, Response
from ..core.pipeline import Next
from ..core.problems import Problem
from ..spec.load import below_base
from .aborted import GUARD, finish_body


class BodyLimit:
    """Gateway-wide limit, or a service's own `max_body` for paths under its base path."""

    def __init__(self, default: int, per_base_path: dict[str, int]) -> None:
        self.default = default
        self.per_base_path = sorted(per_base_path.items(), key=lambda item: -len(item[0]))

    def limit_for(self, path: str) -> int:
        for base, limit in self.per_base_path:
            if below_base(base, path) is not None:
                return limit
        return self.default

    def __call__(self, exchange: Exchange, call_next: Next) -> Awaitable[Response]:
        """The size checked; a request that declares no body (nearly every GET) has no end to wait for: the rest's
        awaitable as it is, no frame of this step's own."""
        limit = self.limit_for(exchange.path) if self.per_base_path else self.default
        declared = exchange.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Problem(400, detail="Content-Length is not a number")
            if int(declared) > limit:
                raise _too_large(limit)
        elif not exchange.bodyless and exchange.headers.get("transfer-encoding"):  # bodyless: it has none
            exchange.receive = _counting(exchange.receive, limit)
        if exchange.bodyless:
            return call_next(exchange)
        return self._to_the_end(exchange, call_next)

    @staticmethod
    async def _to_the_end(exchange: Exchange, call_next: Next) -> Response:
        response = await call_next(exchange)
        guard = exchange.scope.get(GUARD)
        if guard is not None and not guard.complete and response.status < 400:  # a success, its body unread
            await finish_body(exchange, response, guard)
        return response


def _too_large(limit: int) -> Problem:
    return Problem(413, detail=f"request body is larger than the limit of {limit} bytes", extra={"limit": limit})


def _counting(receive: Any, limit: int) -> Any:
    seen = 0

    async def counted() -> dict[str, Any]:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise _too_large(limit)
        return message

    return counted
