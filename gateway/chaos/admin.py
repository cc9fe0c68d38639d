"""The admin API's chaos endpoints: `/_gw/api/services/{service}[/operations/{operation}]/chaos`.

GET shows what applies now (the runtime switch, gateway.yaml's setting, and the two resolved), PUT
switches chaos on that level in every process (gateway/chaos/switches.py), DELETE clears the switch so
gateway.yaml's chaos (if any) applies again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.exchange import Exchange, Response
from ..core.problems import Problem
from ..runtime.shared_state import StateUnavailable
from ..settings.chaos import check_chaos
from ..settings.policy_settings import SettingsError
from .step import Chaos, configured_levels

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ..operator.admin.targets import Targets


class ChaosApi:
    """Handlers by operationId, for AdminApi's handler map."""

    def __init__(self, chaos: Chaos, targets: Targets) -> None:
        self.chaos = chaos  # its runtime switches, gateway.yaml's chaos, and the two resolved
        self.targets = targets  # the admin API's own lookup: 404s worded alike

    def handlers(self) -> dict[str, Callable[[Exchange], Awaitable[Response]]]:
        return {"getServiceChaos": self.show, "setServiceChaos": self.switch, "clearServiceChaos": self.clear,
                "getOperationChaos": self.show, "setOperationChaos": self.switch, "clearOperationChaos": self.clear}

    async def show(self, exchange: Exchange) -> Response:
        return Response.json(200, self.view(*self._target(exchange)))

    async def switch(self, exchange: Exchange) -> Response:
        service, operation = self._target(exchange)
        try:
            settings = check_chaos(await exchange.json())
        except SettingsError as exc:
            raise Problem(400, detail=f"{exc.key}: {exc.reason}" if exc.key else exc.reason) from None
        await _shared(self.chaos.switches.set(service, operation, settings))
        return Response.json(200, self.view(service, operation))

    async def clear(self, exchange: Exchange) -> Response:
        service, operation = self._target(exchange)
        await _shared(self.chaos.switches.clear(service, operation))
        return Response.json(200, self.view(service, operation))

    def _target(self, exchange: Exchange) -> tuple[str, str | None]:
        if "operation" in exchange.path_params:
            return self.targets.operation(exchange)
        return self.targets.service(exchange), None

    def view(self, service: str, operation: str | None) -> dict[str, Any]:
        chaos = self.chaos
        switched = chaos.switches.get(service, operation)
        configured = configured_levels(chaos.services[service], operation)[0 if operation else 1]
        effective = chaos.effective(service, operation)
        return {"service": service, "operation": operation,
                "switched": switched.to_json() if switched is not None else None,
                "configured": configured.to_json() if configured is not None else None,
                "effective": effective.to_json(), "summary": effective.describe()}


async def _shared(change: Any) -> None:
    try:
        await change
    except StateUnavailable as exc:
        raise Problem(503, detail=f"chaos was not switched: {exc}", slug="state-unavailable") from None
