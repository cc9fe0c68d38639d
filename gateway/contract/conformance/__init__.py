"""Contract testing: schemathesis over every operation of the gateway's services (`gw contract`, contracts/).

`runner` drives schemathesis and decides what counts as a failure, `target` says what is tested
(the gateway in stub or live mode, started here by `inprocess`, or any URL), `report` shows the
result to people (rich), CI (JUnit XML) and scripts (JSON).

The names below are imported on first use (PEP 562), not with the package: `gw.contract.conformance.phases` and
`gw.contract.conformance.process` are read by the CLI and the pytest plugin, which must not pay for schemathesis
and the whole gateway when they do not run a contract.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...core.port_check import free_port
    from .inprocess import InProcessGateway
    from .runner import ContractReport, Failure, Options, ServiceResult, run_contract
    from .target import ContractError, Target

_HOMES = {"free_port": "...core.port_check", "InProcessGateway": ".inprocess", "ContractReport": ".runner", "Failure": ".runner",
          "Options": ".runner", "ServiceResult": ".runner", "run_contract": ".runner", "ContractError": ".target",
          "Target": ".target"}

__all__ = ["ContractError", "ContractReport", "Failure", "InProcessGateway", "Options", "ServiceResult", "Target",
           "free_port", "run_contract"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)
