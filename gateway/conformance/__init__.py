"""Contract testing: schemathesis over every operation of the gateway's services (`gw contract`, contracts/).

`runner` drives schemathesis and decides what counts as a failure, `target` says what is tested
(the gateway in stub or live mode, started here by `inprocess`, or any URL), `report` shows the
result to people (rich), CI (JUnit XML) and scripts (JSON).
"""

from .inprocess import InProcessGateway, free_port
from .runner import ContractReport, Failure, Options, ServiceResult, run_contract
from .target import ContractError, Target

__all__ = ["ContractError", "ContractReport", "Failure", "InProcessGateway", "Options", "ServiceResult", "Target",
           "free_port", "run_contract"]
