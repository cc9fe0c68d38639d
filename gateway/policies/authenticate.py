"""Authenticate: the policy step that admits a caller to the routed operation, or answers 401/403.

It runs once the operation is known and before its request is validated (a caller without a
token hears so before any word about its body). Each operation's plan is worked out on its first
request and kept, so the hot path is a dict lookup plus the credential check itself.
"""

from __future__ import annotations

from ..auth.requirements import Plan
from ..auth.setup import Auth
from ..core.exchange import Exchange, Response
from ..core.pipeline import Next
from ..spec.load import Operation


class Authenticate:
    """Sets `exchange.identity` from a verified credential; refuses what the operation does not admit."""

    def __init__(self, auth: Auth) -> None:
        self.auth = auth
        self._plans: dict[int, tuple[Operation, Plan | None]] = {}

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        plan = self._plan(exchange)
        if plan is not None:
            exchange.identity = await plan.admit(exchange)
        return await call_next(exchange)

    def _plan(self, exchange: Exchange) -> Plan | None:
        operation, service = exchange.operation, exchange.service
        assert operation is not None and service is not None
        known = self._plans.get(id(operation))
        if known is None or known[0] is not operation:
            known = self._plans[id(operation)] = (operation, self.auth.plan_for(service, operation))
        return known[1]
