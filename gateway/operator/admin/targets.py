"""The service or operation an admin API path names, or the admin API's 404 saying which exist.

Every admin handler that takes `{service}` or `{service}/operations/{operation}` asks here, so the
refusals are worded alike whichever handler answers (modes, chaos, stubs, simulated state).
"""

from __future__ import annotations

from ...core.exchange import Exchange
from ...core.problems import Problem
from ..state import GatewayState


class Targets:
    """Looks a path's names up in the read model: the configured services, the loaded services' operations."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state

    def service(self, exchange: Exchange) -> str:
        return self.known_service(param(exchange, "service"))

    def known_service(self, name: str) -> str:
        if name not in self.state.settings:
            raise Problem(404, detail=f"no service {name!r}; services: {', '.join(self.state.names)}")
        return name

    def operation(self, exchange: Exchange) -> tuple[str, str]:
        name = self.service(exchange)
        key = param(exchange, "operation")
        if not self.state.has_operation(name, key):
            raise Problem(404, detail=f"service {name} has no operation {key!r} (URL-encode the key: "
                                      "GET%20%2Fme for `GET /me`)")
        return name, key


def param(exchange: Exchange, name: str) -> str:
    return str(exchange.path_params.get(name, ""))  # decoded by the router, `%2F` included
