"""The per-operation override (`services.X.operations.OP`): mode, rate limit, roles and chaos for one operation.

Each part is read as at service level; a part left out (None) follows the service.
"""

from __future__ import annotations

from typing import Annotated, Any

from .chaos import ChaosSettings, check_chaos
from .policy_settings import RateLimitSettings, check_roles
from .types import Block, parsed_by

MODES = ("stub", "live", "record", "fallback", "spy")
PROXIED_MODES = frozenset({"live", "record", "fallback", "spy"})  # the modes that reach the upstream


def _roles(value: Any) -> list[str]:
    return check_roles(value).get("*", [])


def _chaos(value: Any) -> ChaosSettings | None:
    return None if value is None else value if isinstance(value, ChaosSettings) else check_chaos(value)


def _mode(value: Any) -> str | None:
    from .types import SettingsError

    if value is not None and value not in MODES:
        raise SettingsError("", f"must be one of {', '.join(MODES)}, got {value!r}")
    return value


class OperationOverride(Block):
    """What one operation changes from its service's settings."""

    mode: Annotated[str | None, parsed_by(_mode)] = None
    rate_limit: RateLimitSettings | None = None
    roles: Annotated[list[str] | None, parsed_by(lambda v: None if v is None else _roles(v))] = None
    chaos: Annotated[ChaosSettings | None, parsed_by(_chaos)] = None
