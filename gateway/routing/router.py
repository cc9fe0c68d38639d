"""Route a request to its service and operation, run the policies, validate the request: all gw's own.

Each service's path templates are compiled once into the route table (table.py): path parameters route as
plain strings, literal segments first, so `/users/abc` reaches the operation and fails validation with a 400
naming `user_id` (a typed route would give a bare 404), while `/users/me` still beats `/users/{id}`; a stray
trailing slash reaches the operation (never a redirect); each service is mounted at its base path.

Between routing and validation sit the policies (auth, rate limit): they need to know the operation, and a
caller without a token gets its 401 before any word about its request body. Each is asked once per operation,
on its first request, what it asks of that operation: an operation no policy applies to (public, unlimited) goes
straight to validation, no policy called on its requests. Then the operation's validator
(validation/request.py, compiled once per operation at start-up) checks the request and reports every failure
with its place, and the rest of the pipeline runs with the exchange's `service` and `operation` set.

Until session 6 connexion built the routes and validators, through private parts of its middleware; importing
it cost every `gw serve` ~0.45 s (it brings Flask, werkzeug, httpx, jinja2). Nothing of it is left on this path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

from ..core.exchange import Exchange, Response
from ..core.pipeline import Next, Pipeline, Step
from ..core.problems import Problem
from ..settings.config import mount_prefix
from ..spec.load import Operation, Service, route_order
from ..spec.operations import OperationModel
from ..validation.request import OperationValidator
from .paths import as_declared, decode, routing_path
from .table import MethodNotAllowed, RouteTable, route_path

_ROUTED = "routed"  # exchange.notes key: (routed scope, the operation's validator, the rest of the walk)


class Policy(Protocol):
    """A policy (auth, rate limit): asked once per operation, on its first request, for the step that operation
    needs; None when it asks nothing of that operation's requests."""

    def for_operation(self, service: Service, operation: Operation) -> Step | None: ...


class Router:
    """Pipeline step: the route table finds the operation, the policies that apply to it run, the operation's
    validator checks the request, then the rest of the pipeline runs."""

    def __init__(self, services: dict[str, Service], policies: Sequence[Policy] = ()) -> None:
        self.mounts = {mount_prefix(s.base_path) for s in services.values()} - {""}
        self.targets: dict[str, tuple[Service, Operation, OperationValidator]] = {}  # by operation id: one lookup a request
        mounts = []
        for service in services.values():
            routes = self._add_service(service)
            mounts.append((mount_prefix(service.base_path), routes))
        self.table = RouteTable(mounts)
        self.policies = list(policies)
        self.gates: dict[str, Next | None] = {}  # by operation id, on its first request: its policies chained, or None

    def _add_service(self, service: Service) -> list[tuple[str, dict[str, str]]]:
        """The service's operations and validators; its routes (template, {METHOD: operation id}) in the order
        they are tried: most specific first, each path's trailing-slash twin beside it (specs.route_order)."""
        by_path: dict[str, dict[str, str]] = {}
        specification = service.specification
        for operation in service.operations.values():
            operation_id = f"{service.name}:{operation.key}"
            model = OperationModel(specification, operation.path, operation.method)
            validator = OperationValidator(model, openapi31=service.openapi31, brackets=service.brackets)
            self.targets[operation_id] = (service, operation, validator)
            by_path.setdefault(operation.path, {})[operation.method] = operation_id
        return [(template, by_path[declared]) for template, declared in route_order(by_path)]

    def __call__(self, exchange: Exchange, call_next: Next) -> Awaitable[Response]:
        """Routed and checked here (a problem raised on failure); the rest's awaitable handed on: no frame of the
        router's own in the request's walk, unless a policy applies to the operation."""
        scope = dict(exchange.scope)
        path = routing_path(scope)
        if path in self.mounts:
            path += "/"  # `/api` is the root (`/`) of the service mounted there
        try:
            routed = self.table.find(route_path(scope, path) if scope.get("root_path") else path, scope["method"])
        except MethodNotAllowed as exc:
            raise Problem(405, detail=f"{exchange.method} is not allowed on {exchange.path}; allowed: {exc.allow}",
                          headers={"Allow": exc.allow}) from None
        operation_id = routed.operation_id if routed is not None else None
        target = self.targets.get(operation_id) if operation_id is not None else None
        if target is None:
            raise Problem(404, detail=f"No operation of any service matches {exchange.path}")
        exchange.service, operation, validator = target
        exchange.operation = operation
        # routed with `%2F` kept encoded and a stray trailing slash (paths.py); from here on, as declared
        escaped = "%" in path
        scope["path"] = as_declared(decode(path) if escaped else path, operation.path)
        if escaped or "path_params" in scope:
            scope["path_params"] = _path_params(scope, routed.path_params)
        else:
            scope["path_params"] = routed.path_params  # nothing to decode: the table's own dict, as it is
        try:
            gate = self.gates[operation_id]
        except KeyError:
            gate = self._gate(operation_id, target[0], operation)
        if gate is None:  # no policy applies to this operation: checked at once
            return _checked(exchange, scope, validator, call_next)
        return _gated(gate, exchange, (scope, validator, call_next))

    def _gate(self, operation_id: str, service: Service, operation: Operation) -> Next | None:
        """The steps of the policies that apply to the operation chained once, the validator last; None when none do."""
        steps = [step for policy in self.policies if (step := policy.for_operation(service, operation)) is not None]
        gate = self.gates[operation_id] = Pipeline(steps, self._validated).handler if steps else None
        return gate

    @staticmethod
    def _validated(exchange: Exchange) -> Awaitable[Response]:
        """After the policies: the routed request checked, then the rest of the walk."""
        scope, validator, call_next = exchange.notes.pop(_ROUTED)
        return _checked(exchange, scope, validator, call_next)


async def _gated(gate: Next, exchange: Exchange, routed: tuple[dict[str, Any], OperationValidator, Next]) -> Response:
    """The operation's policies, then `Router._validated`: what it needs rides in the notes, never left behind there
    (it holds the body)."""
    exchange.notes[_ROUTED] = routed
    try:
        return await gate(exchange)
    finally:
        exchange.notes.pop(_ROUTED, None)


def _checked(exchange: Exchange, scope: dict[str, Any], validator: OperationValidator, call_next: Next) -> Awaitable[Response]:
    """The request checked (a problem raised on failure), then the rest of the walk with the routed scope (and the body
    validation read, replayed). A request without a body is checked here and hands on the rest's awaitable: no frame
    of its own."""
    if validator.expects_body:
        return _body_checked(exchange, scope, validator, call_next)
    validator.check_parameters(scope)
    exchange.scope = scope
    return call_next(exchange)


async def _body_checked(exchange: Exchange, scope: dict[str, Any], validator: OperationValidator, call_next: Next) -> Response:
    exchange.receive = await validator(scope, exchange.receive, exchange)
    exchange.scope = scope
    return await call_next(exchange)


def _path_params(scope: dict[str, Any], routed: dict[str, Any]) -> dict[str, Any]:
    """The path parameters as the client meant them (`a%2Fb` is `a/b`), over any a step before set."""
    params = {**scope["path_params"], **routed} if "path_params" in scope else routed
    return {name: decode(value) if isinstance(value, str) else value for name, value in params.items()}
