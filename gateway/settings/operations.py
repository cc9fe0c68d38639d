"""The per-operation override (`services.X.operations.OP`): mode, rate limit, roles and chaos for one operation.

Each part is read as at service level; a part left out (None) follows the service.
"""

from __future__ import annotations

from typing import Annotated, Any

from .chaos import ChaosSettings, check_chaos
from .policy_settings import RateLimitSettings, check_roles
from .types import Block, choice, optional, parsed_by

MODES = ("stub", "live", "record", "fallback", "spy")
PROXIED_MODES = frozenset({"live", "record", "fallback", "spy"})  # the modes that reach the upstream


def _roles(value: Any) -> list[str]:
    return check_roles(value).get("*", [])


class OperationOverride(Block):
    """What one operation changes from its service's settings."""

    mode: Annotated[str | None, parsed_by(optional(choice(*MODES)))] = None
    rate_limit: RateLimitSettings | None = None
    roles: Annotated[list[str] | None, parsed_by(optional(_roles))] = None
    chaos: Annotated[ChaosSettings | None, parsed_by(optional(check_chaos))] = None
