"""Refuse bodies over the configured size with 413, before reading them whole."""

from __future__ import annotations

from typing import Any

from ..exchange import Exchange, Response
from ..pipeline import Next
from ..problems import Problem
from ..specs import below_base


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

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        limit = self.limit_for(exchange.path)
        declared = exchange.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Problem(400, detail="Content-Length is not a number")
            if int(declared) > limit:
                raise _too_large(limit)
        elif exchange.headers.get("transfer-encoding"):
            exchange.receive = _counting(exchange.receive, limit)
        return await call_next(exchange)


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
