"""Authenticate: the policy step that admits a caller to the routed operation, or answers 401/403.

It runs once the operation is known and before its request is validated (a caller without a
token hears so before any word about its body). Each operation's plan is worked out on its first
request and kept, so the hot path is a dict lookup plus the credential check itself.
"""

from __future__ import annotations

from collections.abc import Awaitable

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

    def __call__(self, exchange: Exchange, call_next: Next) -> Awaitable[Response]:
        """An operation open to all (no plan) hands on the rest's awaitable: no frame of this step's own."""
        known = self._plans.get(id(exchange.operation))
        plan = known[1] if known is not None and known[0] is exchange.operation else self._plan(exchange)
        if plan is None:
            return call_next(exchange)
        return self._admitted(plan, exchange, call_next)

    @staticmethod
    async def _admitted(plan: Plan, exchange: Exchange, call_next: Next) -> Response:
        exchange.identity = await plan.admit(exchange)
        return await call_next(exchange)

    def _plan(self, exchange: Exchange) -> Plan | None:
        """The operation's plan, worked out on its first request and kept."""
        operation, service = exchange.operation, exchange.service
        assert operation is not None and service is not None
        plan = self.auth.plan_for(service, operation)
        self._plans[id(operation)] = (operation, plan)
        return plan
