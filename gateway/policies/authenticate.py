"""Authenticate: the policy that admits a caller to the routed operation, or answers 401/403.

It runs once the operation is known and before its request is validated (a caller without a
token hears so before any word about its body). The router asks it once per operation, on that
operation's first request, for the step that operation needs: none for an operation open to all (its
requests never call this policy at all), else the credential check of the operation's plan.
"""

from __future__ import annotations

from functools import partial

from ..auth.requirements import Plan
from ..auth.setup import Auth
from ..core.exchange import Exchange, Response
from ..core.pipeline import Next, Step
from ..spec.load import Operation, Service


class Authenticate:
    """Sets `exchange.identity` from a verified credential; refuses what the operation does not admit."""

    def __init__(self, auth: Auth) -> None:
        self.auth = auth

    def for_operation(self, service: Service, operation: Operation) -> Step | None:
        """The operation's check, its plan bound; None when the operation is open to all."""
        plan = self.auth.plan_for(service, operation)
        return None if plan is None else partial(_admitted, plan)


async def _admitted(plan: Plan, exchange: Exchange, call_next: Next) -> Response:
    exchange.identity = await plan.admit(exchange)
    return await call_next(exchange)
