"""Contract tests: every operation of every service in gateway.yaml, fuzzed by schemathesis, each
answer checked against the spec. Set GW_CONTRACT_TARGET=stub|live|URL (see contracts/README.md).

One test per operation (`test_operation_honours_its_contract[GET /users/{user_id}][users]`). A
negative case (invalid data sent on purpose) that the gateway's validator refuses with a 4xx
problem+json is the expected answer and is not checked further; every other answer goes through
schemathesis' checks (all of them by default, as `gw contract`).
"""

from __future__ import annotations

from pathlib import Path

import schemathesis

from gw.contract.conformance.contracts import contract_schemas, plan_from_env, retarget
from gw.contract.conformance.runner import refused_case

GATEWAY_YAML = str(Path(__file__).resolve().parent.parent / "gateway.yaml")

contracts = schemathesis.pytest.parametrize(**contract_schemas(plan_from_env(GATEWAY_YAML)))


@contracts
def test_operation_honours_its_contract(case: schemathesis.Case, gw_contract_origin: str) -> None:
    response = case.call(base_url=retarget(case, gw_contract_origin))
    if refused_case(case, response):
        return
    case.validate_response(response)
