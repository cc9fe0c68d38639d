"""The target contracts/test_contracts.py sends its cases to, started once per session.

Settings come from gateway.yaml (beside this folder by default) and GW_CONTRACT_* variables; see
`gateway/contract/conformance/contracts.py` or contracts/README.md. For stub and live the gateway runs in
this process with every chosen service forced to that mode, exactly as `gw contract` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gw.contract.conformance.contracts import plan_from_env
from gw.contract.conformance.runner import serving

GATEWAY_YAML = str(Path(__file__).resolve().parent.parent / "gateway.yaml")


@pytest.fixture(scope="session")
def gw_contract_origin() -> Iterator[str]:
    """Where requests go: the gateway started here (stub, live), or the target URL."""
    with serving(plan_from_env(GATEWAY_YAML)) as origin:
        yield origin
