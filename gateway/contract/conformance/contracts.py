"""What contracts/ (the pytest module a team drops into CI) needs: settings from gateway.yaml and
GW_CONTRACT_*, one schemathesis schema per service, and each case sent to the running target.

    GW_CONTRACT_TARGET        stub (default) | live | a base URL (http://host:port)
    GW_CONTRACT_CONFIG        the gateway.yaml to read (default: ./gateway.yaml)
    GW_CONTRACT_SERVICES      comma-separated service names (default: every service)
    GW_CONTRACT_CHECKS        comma-separated schemathesis checks (default: all, as gw contract)
    GW_CONTRACT_MAX_EXAMPLES  generated cases per operation and phase (default 5: a CI gate, not a soak)
    GW_CONTRACT_SEED          same seed, same requests (default 1, so CI runs are reproducible)

The schemas are built when pytest collects, before any server runs, aimed at a placeholder
origin; `retarget` swaps in the real one (the gateway started for the session, or the URL).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ...settings.config import ConfigError, load_config
from .runner import Options, Plan, load_schema, prepare, service_url
from .target import ContractError, Target

PLACEHOLDER = "http://gw-contract.invalid"


def _split(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


@cache
def plan_from_env(default_config: str = "gateway.yaml") -> Plan:
    """What to test; a bad setting stops pytest with one line (pytest.UsageError), not a traceback."""
    try:
        options = Options(checks=_split("GW_CONTRACT_CHECKS") or None,
                          max_examples=int(os.environ.get("GW_CONTRACT_MAX_EXAMPLES", "5")),
                          seed=int(os.environ.get("GW_CONTRACT_SEED", "1")))
        config_file = Path(os.environ.get("GW_CONTRACT_CONFIG") or default_config)
        if not config_file.is_file():
            raise ContractError(f"{config_file}: no such file (set GW_CONTRACT_CONFIG)")
        target = Target.parse(os.environ.get("GW_CONTRACT_TARGET", "stub"))
        return prepare(load_config(config_file), _split("GW_CONTRACT_SERVICES"), target, options)
    except (ContractError, ConfigError, ValueError) as exc:
        raise pytest.UsageError(f"contracts: {exc}") from None


def contract_schemas(plan: Plan) -> dict[str, Any]:
    """service name -> schemathesis schema, for `schemathesis.pytest.parametrize(**...)`."""
    return {name: load_schema(service, service_url(PLACEHOLDER, service), plan) for name, service in plan.services.items()}


def retarget(case: Any, origin: str) -> str:
    """The base URL to send `case` to: its service's base path on `origin`."""
    return origin + case.operation.base_url.removeprefix(PLACEHOLDER)
