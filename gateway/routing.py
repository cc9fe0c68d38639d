"""Route a request to its service and operation, and validate it, with connexion.

connexion reads the specs and does the routing and request validation; we give it one resolver
for every operation (no view per route) and replace the stock routing and validation pieces of
its middleware stack where the gateway needs more than connexion gives:

* path parameters route as plain strings, literal segments first, so `/users/abc` reaches the
  operation and fails validation with a 400 naming `user_id` (connexion's typed converters gave
  a bare 404), while `/users/me` still beats `/users/{id}`;
* validators are compiled once per operation and report every failure with its place, not the
  first one.

Between routing and validation sit the policy steps (auth, rate limit): they need to know the
operation, and a caller without a token gets its 401 before any word about its request body.
What comes out of connexion is the exchange's `service` and `operation`; the pipeline goes on
from there. connexion builds the routes and validators once; a request is matched against those routes
by the route table (route_table.py) and handed to its operation's validator, never walking connexion's
middleware stack.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from connexion.exceptions import ProblemException
from connexion.middleware.main import API, ConnexionMiddleware
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
)
from connexion.middleware.routing import RoutingAPI, RoutingMiddleware
from connexion.operations import AbstractOperation
from connexion.resolver import Resolution, Resolver
from starlette.exceptions import HTTPException

from .exchange import Exchange, Response
from .pipeline import Next, Pipeline, Step
from .problems import Problem
from .request_path import as_declared, decode, routing_path
from .route_table import MethodNotAllowed, RouteTable, route_path
from .settings.config import mount_prefix
from .specs import Service, route_order
from .validation import OperationValidator


def _unreachable_handler(*_args: Any, **_kwargs: Any) -> None:
    raise RuntimeError("gw answers every operation in its pipeline; connexion never calls a view")


class OperationResolver(Resolver):
    """Resolves every operation of a service to the same id scheme: `service:operation-key`."""

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service
        self._keys = {(op.method.lower(), op.path): op.key for op in service.operations.values()}

    def resolve(self, operation: AbstractOperation) -> Resolution:
        key = self._keys[(operation.method.lower(), operation.path)]
        return Resolution(_unreachable_handler, f"{self.service.name}:{key}")


class _StringPathRoutingAPI(RoutingAPI):
    @staticmethod
    def _framework_path_and_name(operation: AbstractOperation, path: str) -> tuple[str, str]:
        starlette_path = re.sub(r"{([^}]+)}", lambda m: "{" + re.sub(r"\W", "_", m.group(1)) + "}", path)
        return starlette_path, starlette_path

    def _add_operation_internal(self, method: str, path: str, operation: Any, name: str | None = None) -> None:
        self._methods_by_path.setdefault(path, {})[method.upper()] = operation

    def add_paths(self, paths: dict | None = None) -> None:
        """One route per path serving all its methods (so a 405 carries the full `Allow` list), the most
        specific first; and a path's trailing-slash twin (`/x/` for `/x`) routes to it when the spec does
        not declare the twin itself: a client's stray slash reaches the operation, with no redirect."""
        self._methods_by_path: dict[str, dict[str, Any]] = {}
        super().add_paths(paths)
        self.router.redirect_slashes = False
        for template, declared in route_order(self._methods_by_path):
            by_method = self._methods_by_path[declared]
            self.router.add_route(template, _MethodDispatch(by_method), methods=list(by_method))


class _MethodDispatch:
    def __init__(self, by_method: dict[str, Any]) -> None:
        self.by_method = by_method

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        method = scope["method"]
        operation = self.by_method.get(method) or self.by_method.get("GET" if method == "HEAD" else "")
        await operation(scope, receive, send)


class GatewayRouting(RoutingMiddleware):
    """connexion's router, with string path parameters and literal-first ordering."""

    def add_api(self, specification: Any, base_path: str | None = None, arguments: dict | None = None,
                **kwargs: Any) -> None:
        api = _StringPathRoutingAPI(specification, base_path=base_path, arguments=arguments,
                                    next_app=self.app, **kwargs)
        self.router.redirect_slashes = False  # gw answers in its pipeline; Starlette's redirect never reaches a client
        self.router.mount(api.base_path, app=api.router)
        mount = self.router.routes[-1]
        # Starlette's mount pattern (`.*`) stops at a newline; a path parameter may hold an encoded
        # one (%0A), and must then reach its operation (and its validation), not a 404.
        mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)
        self.router.routes.sort(key=lambda r: -len(getattr(r, "path", "")))


class _ValidationAPI(RequestValidationAPI):
    def make_operation(self, operation: AbstractOperation) -> OperationValidator:
        service = getattr(self.resolver, "service", None)
        return OperationValidator(self.next_app, operation=operation, openapi31=self.specification.version >= (3, 1, 0),
                                  brackets=bool(service and service.brackets))


class GatewayValidation(RequestValidationMiddleware):
    """connexion's request validation with our per-operation compiled validators."""

    api_cls = _ValidationAPI


class _Gateway(ConnexionMiddleware):
    def add_service(self, service: Service) -> None:
        options = self.options.replace(resolver=OperationResolver(service))
        # connexion keys APIs by the mount's root path, which is "" (not "/") for the root mount;
        # with "/" the validation middleware would not find the API and validate nothing.
        base_path = mount_prefix(service.base_path)
        self.apis.append(API(service.specification, base_path=base_path, name=service.name, **options.__dict__))


HANDOFF_NOTES = ("resume", "routed", "response")  # how the pipeline passes through connexion's validation and back


class Router:
    """Pipeline step: the route table finds the operation, the policy steps run, connexion's validator
    for the operation checks the request, then the rest of the pipeline runs."""

    def __init__(self, services: dict[str, Service], policies: Sequence[Step] = ()) -> None:
        self.services = services
        self.mounts = {mount_prefix(s.base_path) for s in services.values()} - {""}
        self.operations = {f"{s.name}:{op.key}": (s, op) for s in services.values() for op in s.operations.values()}
        self.connexion = _Gateway(self._resume, middlewares=[GatewayRouting, GatewayValidation])
        for service in services.values():
            self.connexion.add_service(service)
        # connexion builds its stack on the first request; build it now, so start-up pays for routes and
        # validators. A request never walks that stack: the route table holds its routes, and each operation's
        # validator is called directly (route_table.py).
        self.connexion.app, stack = self.connexion._build_middleware_stack()
        routing = next(app for app in stack if isinstance(app, GatewayRouting))
        validation = next(app for app in stack if isinstance(app, GatewayValidation))
        self.table = RouteTable(routing.router.routes, _operation_ids)
        self.validators = {operation_id: validator for apis in validation.apis.values() for api in apis
                           for operation_id, validator in api.operations.items()}
        self.gate = Pipeline(policies, self._validate)

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        scope = dict(exchange.scope)
        scope["gw.exchange"] = exchange
        path = self._routing_path(scope)
        try:
            routed = self.table.find(route_path(scope, path), scope["method"])
        except MethodNotAllowed as exc:
            raise Problem(405, detail=f"{exchange.method} is not allowed on {exchange.path}; allowed: {exc.allow}",
                          headers={"Allow": exc.allow}) from None
        found = self.operations.get(routed.operation_id or "") if routed is not None else None
        if found is None:
            raise Problem(404, detail=f"No operation of any service matches {exchange.path}")
        exchange.service, operation = found
        exchange.operation = operation
        # routed with `%2F` kept encoded and a stray trailing slash (request_path); from here on, as declared
        scope["path"] = as_declared(decode(path), operation.path)
        params = {**scope["path_params"], **routed.path_params} if "path_params" in scope else routed.path_params
        scope["path_params"] = {name: decode(value) if isinstance(value, str) else value for name, value in params.items()}
        notes = exchange.notes
        notes["resume"] = call_next
        notes["routed"] = (scope, exchange.receive, self.validators[routed.operation_id])
        try:
            return await self.gate(exchange)
        except Problem:
            raise
        except ProblemException as exc:
            raise _from_connexion(exc) from None
        except HTTPException as exc:
            raise Problem(exc.status_code, detail=_http_detail(exc, exchange), headers=dict(exc.headers or {})) from None
        finally:
            for handed_over in HANDOFF_NOTES:  # left behind when a policy or validation refused; they hold the body
                notes.pop(handed_over, None)

    async def _validate(self, exchange: Exchange) -> Response:
        """After the policies: the operation's validator, which calls `_resume` with the request it checked."""
        scope, receive, validator = exchange.notes.pop("routed")
        await validator(scope, receive, _never_send)
        return exchange.notes.pop("response")

    def _routing_path(self, scope: dict[str, Any]) -> str:
        path = routing_path(scope)
        return path + "/" if path in self.mounts else path  # `/api` is the root (`/`) of the service mounted there

    async def _resume(self, scope: dict[str, Any], receive: Any, _send: Any) -> None:
        exchange: Exchange = scope["gw.exchange"]
        exchange.scope = scope
        exchange.receive = receive
        exchange.notes["response"] = await exchange.notes.pop("resume")(exchange)


def _operation_ids(endpoint: Any) -> dict[str, str | None]:
    """A route's endpoint (one `_MethodDispatch` per path) as {method: operation id}."""
    return {method: operation.operation_id for method, operation in endpoint.by_method.items()}


async def _never_send(_message: dict[str, Any]) -> None:
    raise RuntimeError("connexion tried to answer by itself; gw answers in its pipeline")


def _http_detail(exc: HTTPException, exchange: Exchange) -> str:
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return f"{exchange.method} is not allowed on {exchange.path}; allowed: {allowed}"
    if exc.status_code == 404:
        return f"No operation of any service matches {exchange.path}"
    return str(exc.detail)


def _from_connexion(exc: ProblemException) -> Problem:
    """connexion's own problems (415, bad form data) in our shape."""
    detail = str(exc.detail or exc.title or "").strip()
    return Problem(exc.status_code, detail=detail, headers=dict(exc.headers or {}))
