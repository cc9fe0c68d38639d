"""The admin API under /_gw/api/: modes, stubs, the request journal, circuits.

It is described by `openapi.yaml` beside this file and loaded as a service like any other, so it
is routed and validated by the same connexion machinery (`routing.Router`: our routing, our
compiled validators, our problem+json) and Swagger UI can show it (`GatewayApp.admin_service`).
It gets a Router of its own, with no auth or rate-limit policies: those are the services'
contracts; the admin API's guard is `AdminAccess`, checked before routing, so a stranger learns
nothing about which paths exist. Where a service's request goes on to mode dispatch, an admin
request goes to the handler named by its operationId.

Path segments that may hold slashes (operation keys such as `GET /me`, instance URLs) are sent
URL-encoded; `%2F` is kept encoded through routing and decoded in the handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..chaos.admin import ChaosApi
from ..events import EventBus
from ..exchange import Exchange, Response
from ..forwarder import Forwarder
from ..forwarder.breaker import Breaker
from ..forwarder.upstreams import Upstream
from ..pipeline import Next
from ..problems import Problem
from ..reload_worker import Bounds, reload_stubs
from ..routing import Router
from ..runtime.modes import ModeError, ServiceModes
from ..settings.config import ServiceConfig, mount_prefix
from ..shared_state import StateUnavailable
from ..specs import Operation, Service, load_service
from ..stubs import Stub
from ..stubs.redaction import Redactor
from .scenarios import ScenarioAdmin
from .state import state_handlers
from .stubs_api import StubsApi
from .webhooks import fire_webhook

if TYPE_CHECKING:
    from ..app import GatewayApp

PREFIX = "/_gw/api"
SERVICE_NAME = "gw-admin"  # the admin API's name as a service (Swagger UI: /_gw/docs/gw-admin)
DOCUMENT = Path(__file__).with_name("openapi.yaml")
Handler = Callable[[Exchange], Awaitable[Response]]


def load_admin_service() -> Service:
    """The admin API's own OpenAPI document, as a Service mounted at /_gw/api."""
    return load_service(SERVICE_NAME, DOCUMENT, PREFIX, deep_check="cached")


class AdminApi:
    """Pipeline step: answers /_gw/api/... for operators; everything else walks on."""

    def __init__(self, app: GatewayApp) -> None:
        self.app = app
        self.service = load_admin_service()
        self.router = Router({SERVICE_NAME: self.service})
        self.handlers: dict[str, Handler] = {
            "listServices": self.list_services, "getService": self.get_service,
            "setServiceMode": self.set_service_mode, "setOperationMode": self.set_operation_mode,
            "clearOperationMode": self.clear_operation_mode, "resetCircuit": self.reset_circuit,
            "listStubs": self.list_stubs, "reloadStubs": self.reload_stubs, "getStub": self.get_stub,
            "deleteStub": self.delete_stub, "listJournal": self.list_journal, "clearJournal": self.clear_journal,
            "getJournalEntry": self.get_journal_entry,
            "fireWebhook": partial(fire_webhook, app),
            **ScenarioAdmin(app).handlers(),
            **state_handlers(app),
            **ChaosApi(self).handlers(),  # gateway/chaos/admin.py
        }
        self.stubs_api = StubsApi(app, self._redactor)  # stubs and verification for tests in any language
        self.handlers.update(self.stubs_api.handlers())
        missing = {op.key for op in self.service.operations.values()} - set(self.handlers)
        assert not missing, f"admin operations without a handler: {missing}"

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        path = exchange.path
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            return await call_next(exchange)
        await self.app.admin_access.check(exchange)
        exchange.source = "gateway"
        return await self.router(exchange, self._handle)

    async def _handle(self, exchange: Exchange) -> Response:
        operation = exchange.operation
        assert operation is not None
        exchange.mode = "admin"
        return await self.handlers[operation.key](exchange)

    # -- services and modes --------------------------------------------------------------------

    async def list_services(self, _exchange: Exchange) -> Response:
        return Response.json(200, {"services": [self._service_view(name) for name in self.app.config.services]})

    async def get_service(self, exchange: Exchange) -> Response:
        return Response.json(200, self._service_view(self._service_name(exchange)))

    async def set_service_mode(self, exchange: Exchange) -> Response:
        name = self._service_name(exchange)
        await self._switch(self.app.modes.set_service(name, await _mode(exchange)))
        return Response.json(200, self._service_view(name))

    async def set_operation_mode(self, exchange: Exchange) -> Response:
        name, key = self._operation(exchange)
        await self._switch(self.app.modes.set_operation(name, key, await _mode(exchange)))
        return Response.json(200, self._operation_view(name, key))

    async def clear_operation_mode(self, exchange: Exchange) -> Response:
        name, key = self._operation(exchange)
        await self._switch(self.app.modes.clear_operation(name, key))
        return Response.json(200, self._operation_view(name, key))

    @staticmethod
    async def _switch(change: Awaitable[None]) -> None:
        try:
            await change
        except ModeError as exc:
            raise Problem(exc.status, detail=str(exc)) from None
        except StateUnavailable as exc:
            raise Problem(503, detail=f"the mode was not switched: {exc}", slug="state-unavailable") from None

    def _service_name(self, exchange: Exchange) -> str:
        name = _param(exchange, "service")
        if name not in self.app.config.services:
            raise Problem(404, detail=f"no service {name!r}; services: {', '.join(self.app.config.services)}")
        return name

    def _operation(self, exchange: Exchange) -> tuple[str, str]:
        name = self._service_name(exchange)
        key = _param(exchange, "operation")
        service = self.app.services.get(name)
        if service is None or key not in service.operations:
            raise Problem(404, detail=f"service {name} has no operation {key!r} (URL-encode the key: "
                                      "GET%20%2Fme for `GET /me`)")
        return name, key

    def _service_view(self, name: str) -> dict[str, Any]:
        settings = self.app.config.services[name]
        service = self.app.services.get(name)
        pool = self.app.forwarder.pools.get(name)
        operations = list(service.operations) if service is not None else []
        return {
            "name": name,
            "base_path": service.base_path if service is not None else settings.base_path,
            "mode": self.app.modes.mode_of(name),
            "spec": str(self.app.config.spec_path(settings)),
            "operations": [self._operation_view(name, key) for key in operations],
            "instances": [_instance_view(i) for i in pool.instances] if pool is not None else [],
        }

    def _operation_view(self, name: str, key: str) -> dict[str, Any]:
        return operation_view(self.app.config.services[name], self.app.services[name].operations[key], self.app.modes.now[name])

    # -- circuits ------------------------------------------------------------------------------

    async def reset_circuit(self, exchange: Exchange) -> Response:
        name = self._service_name(exchange)
        wanted = _param(exchange, "instance").rstrip("/")
        pool = self.app.forwarder.pools.get(name)
        found = next((i for i in (pool.instances if pool else []) if wanted in (i.breaker.url.rstrip("/"),
                                                                                 str(i.url).rstrip("/"))), None)
        if found is None:
            known = ", ".join(i.breaker.url for i in pool.instances) if pool and pool.instances else "none"
            raise Problem(404, detail=f"service {name} has no upstream instance {wanted!r}; instances: {known}")
        found.breaker.reset()
        if self.app.forwarder.circuits is not None:
            try:
                await self.app.forwarder.circuits.reset(found.breaker)
            except StateUnavailable as exc:
                raise Problem(503, detail=f"closed here, but not in the shared state: {exc}",
                              slug="state-unavailable") from None
        return Response.json(200, _instance_view(found))

    # -- stubs ---------------------------------------------------------------------------------

    async def list_stubs(self, exchange: Exchange) -> Response:
        service = exchange.query.get("service") or None
        if service is not None and service not in self.app.config.services:
            raise Problem(404, detail=f"no service {service!r}; services: {', '.join(self.app.config.services)}")
        store = self.app.stubs
        stubs = [self._stub_view(s) for s in store.all(service)]
        errors = [str(e) for e in store.errors if service is None or f"/{service}/" in str(e)]
        return Response.json(200, {"stubs": stubs, "errors": errors})

    async def get_stub(self, exchange: Exchange) -> Response:
        stub = self._stub(exchange)
        content = self.stubs_api.content(stub) or await asyncio.to_thread(_read_text, stub.file)
        return Response.json(200, {**self._stub_view(stub), "content": content})

    async def delete_stub(self, exchange: Exchange) -> Response:
        return await self.stubs_api.remove_stub(self._stub(exchange))  # its file and body_file, in every process

    async def reload_stubs(self, _exchange: Exchange) -> Response:
        store = self.app.stubs
        refused = await asyncio.to_thread(reload_stubs, store, Bounds.of(self.app.config))  # as a hot reload: bounded
        errors = [str(e) for e in store.errors] + ([refused] if refused else [])
        return Response.json(200, {"stubs": len(store.all()), "errors": errors})

    def _stub(self, exchange: Exchange) -> Stub:
        service = self._service_name(exchange)
        stub_id = _param(exchange, "stub_id")
        stub = next((s for s in self.app.stubs.all(service) if s.id == stub_id), None)
        if stub is None:
            raise Problem(404, detail=f"service {service} has no stub {stub_id!r}")
        return stub

    def _stub_view(self, stub: Stub) -> dict[str, Any]:
        root = self.app.stubs.root
        file = stub.file.relative_to(root) if stub.file.is_relative_to(root) else stub.file
        return {"service": stub.service, "id": stub.id, "file": str(file), "method": stub.method, "path": stub.path,
                "operation": stub.operation, "status": stub.status}

    # -- the journal ---------------------------------------------------------------------------

    async def list_journal(self, exchange: Exchange) -> Response:
        query = exchange.query
        since = query.get("since")
        entries, cursor = self.app.journal.recent(int(query.get("limit") or 100), query.get("service") or None,
                                                  query.get("status") or None, int(since) if since else None)
        return Response.json(200, {"entries": [e.summary() for e in entries], "cursor": cursor, "size": self.app.journal.size})

    async def clear_journal(self, _exchange: Exchange) -> Response:
        self.app.journal.clear()
        return Response(204)

    async def get_journal_entry(self, exchange: Exchange) -> Response:
        request_id = _param(exchange, "id")
        entry = self.app.journal.find(request_id)
        if entry is None:
            raise Problem(404, detail=f"no exchange {request_id!r} in the journal (it keeps the last "
                                      f"{self.app.journal.size})")
        return Response.json(200, entry.detail(self._redactor(entry.service)))

    def _redactor(self, service: str | None) -> Redactor:
        """The service's recording redactor (its spec's API-key names, the `redact` setting), else the defaults."""
        found = self.app.recorder.redactors.get(service) if service else None
        return found or Redactor.for_spec({}, self.app.config.redact.as_tables())


def operation_view(settings: ServiceConfig, operation: Operation, now: ServiceModes) -> dict[str, Any]:
    """One operation as the admin API, the dashboard and the `hello` frame of /_gw/ws show it (its mode now)."""
    return {"key": operation.key, "method": operation.method, "path": mount_prefix(settings.base_path) + operation.path,
            "mode": now.mode_for(operation.key), "override": now.has_own(operation.key)}


def publish_circuit_changes(forwarder: Forwarder, events: EventBus) -> None:
    """Every breaker tells the live feed of its state changes as `circuit` events."""

    def changed(breaker: Breaker, before: str, to: str) -> None:
        events.publish({"type": "circuit", "service": breaker.service, "instance": breaker.url, "from": before, "to": to})

    for pool in forwarder.pools.values():
        for instance in pool.instances:
            instance.breaker.listeners.append(changed)


def _param(exchange: Exchange, name: str) -> str:
    return str(exchange.path_params.get(name, ""))  # decoded by the router, `%2F` included


async def _mode(exchange: Exchange) -> str:
    return str((await exchange.json())["mode"])  # the validator has checked the body's shape


def _instance_view(instance: Upstream) -> dict[str, Any]:
    return {"url": instance.breaker.url or str(instance.url), **instance.snapshot()}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Problem(404, detail=f"{path}: cannot be read ({exc})") from None

