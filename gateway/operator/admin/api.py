"""The admin API under /_gw/api/: modes, stubs, the request journal, circuits.

It is described by `openapi.yaml` beside this file and loaded as a service like any other, so it
is routed and validated by the same router as every service (`routing.router.Router`: our routing, our
compiled validators, our problem+json) and Swagger UI can show it (`GatewayApp.admin_service`).
It gets a Router of its own, with no auth or rate-limit policies: those are the services'
contracts; the admin API's guard is `AdminAccess`, checked before routing, so a stranger learns
nothing about which paths exist. Where a service's request goes on to mode dispatch, an admin
request goes to the handler named by its operationId.

It reads through the read model (gateway/operator/state.py: the same view of a service the dashboard and
detailed health show) and acts through the narrow parts the app hands it (`AdminParts`), never the app.

Path segments that may hold slashes (operation keys such as `GET /me`, instance URLs) are sent
URL-encoded; `%2F` is kept encoded through routing and decoded in the handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from ...chaos.admin import ChaosApi
from ...core.exchange import Exchange, Response
from ...core.pipeline import Next
from ...core.problems import Problem
from ...routing.router import Router
from ...runtime.modes import ModeError
from ...runtime.reload_worker import reload_stubs
from ...runtime.shared_state import StateUnavailable
from ...spec.load import Service, load_service
from ...stubs import Stub
from ..journal import JOURNAL_OFF
from ..state import GatewayState, ServiceView
from .parts import AdminParts
from .scenarios import ScenarioAdmin
from .state import state_handlers
from .stubs_api import StubsApi
from .targets import Targets, param
from .webhooks import fire_webhook

PREFIX = "/_gw/api"
SERVICE_NAME = "gw-admin"  # the admin API's name as a service (Swagger UI: /_gw/docs/gw-admin)
DOCUMENT = Path(__file__).with_name("openapi.yaml")
Handler = Callable[[Exchange], Awaitable[Response]]


def load_admin_service() -> Service:
    """The admin API's own OpenAPI document, as a Service mounted at /_gw/api."""
    return load_service(SERVICE_NAME, DOCUMENT, PREFIX, deep_check="cached")


class AdminApi:
    """Pipeline step: answers /_gw/api/... for operators; everything else walks on."""

    def __init__(self, state: GatewayState, parts: AdminParts) -> None:
        self.state = state
        self.parts = parts
        self.targets = Targets(state)
        self.service = load_admin_service()
        self.router = Router({SERVICE_NAME: self.service})
        self.handlers: dict[str, Handler] = {
            "listServices": self.list_services, "getService": self.get_service,
            "setServiceMode": self.set_service_mode, "setOperationMode": self.set_operation_mode,
            "clearOperationMode": self.clear_operation_mode, "resetCircuit": self.reset_circuit,
            "listStubs": self.list_stubs, "reloadStubs": self.reload_stubs, "getStub": self.get_stub,
            "deleteStub": self.delete_stub, "listJournal": self.list_journal, "clearJournal": self.clear_journal,
            "getJournalEntry": self.get_journal_entry,
            "fireWebhook": partial(fire_webhook, state, parts.callbacks),
            **ScenarioAdmin(parts.shared, parts.stubs).handlers(),
            **state_handlers(self.targets, parts.simulation),
            **ChaosApi(parts.chaos, self.targets).handlers(),  # gateway/chaos/admin.py
        }
        # stubs and verification for tests in any language
        self.stubs_api = StubsApi(parts.stubs, parts.shared, parts.cluster, parts.journal, lambda: state.specs,
                                  parts.redactor)
        self.handlers.update(self.stubs_api.handlers())
        missing = {op.key for op in self.service.operations.values()} - set(self.handlers)
        assert not missing, f"admin operations without a handler: {missing}"

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        path = exchange.path
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            return await call_next(exchange)
        await self.parts.access.check(exchange)
        exchange.source = "gateway"
        return await self.router(exchange, self._handle)

    async def _handle(self, exchange: Exchange) -> Response:
        operation = exchange.operation
        assert operation is not None
        exchange.mode = "admin"
        return await self.handlers[operation.key](exchange)

    # -- services and modes --------------------------------------------------------------------

    async def list_services(self, _exchange: Exchange) -> Response:
        return Response.json(200, {"services": [service_json(view) for view in self.state.services()]})

    async def get_service(self, exchange: Exchange) -> Response:
        return Response.json(200, service_json(self.state.service(self.targets.service(exchange))))

    async def set_service_mode(self, exchange: Exchange) -> Response:
        name = self.targets.service(exchange)
        await self._switch(self.parts.modes.set_service(name, await _mode(exchange)))
        return Response.json(200, service_json(self.state.service(name)))

    async def set_operation_mode(self, exchange: Exchange) -> Response:
        name, key = self.targets.operation(exchange)
        await self._switch(self.parts.modes.set_operation(name, key, await _mode(exchange)))
        return Response.json(200, self.state.operation(name, key).to_json())

    async def clear_operation_mode(self, exchange: Exchange) -> Response:
        name, key = self.targets.operation(exchange)
        await self._switch(self.parts.modes.clear_operation(name, key))
        return Response.json(200, self.state.operation(name, key).to_json())

    @staticmethod
    async def _switch(change: Awaitable[None]) -> None:
        try:
            await change
        except ModeError as exc:
            raise Problem(exc.status, detail=str(exc)) from None
        except StateUnavailable as exc:
            raise Problem(503, detail=f"the mode was not switched: {exc}", slug="state-unavailable") from None

    # -- circuits ------------------------------------------------------------------------------

    async def reset_circuit(self, exchange: Exchange) -> Response:
        name = self.targets.service(exchange)
        wanted = param(exchange, "instance")
        try:
            found = await self.parts.circuits.reset(name, wanted)  # the one look-up: the instance it closed
        except StateUnavailable as exc:
            raise Problem(503, detail=f"closed here, but not in the shared state: {exc}",
                          slug="state-unavailable") from None
        if found is None:
            known = ", ".join(i.url for i in self.state.instances(name)) or "none"
            raise Problem(404, detail=f"service {name} has no upstream instance {wanted.rstrip('/')!r}; instances: {known}")
        return Response.json(200, self.state.view(found).to_json())

    # -- stubs ---------------------------------------------------------------------------------

    async def list_stubs(self, exchange: Exchange) -> Response:
        service = exchange.query.get("service") or None
        if service is not None:
            self.targets.known_service(service)
        store = self.parts.stubs
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
        store = self.parts.stubs
        refused = await asyncio.to_thread(reload_stubs, store, self.parts.bounds)  # as a hot reload: bounded
        errors = [str(e) for e in store.errors] + ([refused] if refused else [])
        return Response.json(200, {"stubs": len(store.all()), "errors": errors})

    def _stub(self, exchange: Exchange) -> Stub:
        service = self.targets.service(exchange)
        stub_id = param(exchange, "stub_id")
        stub = next((s for s in self.parts.stubs.all(service) if s.id == stub_id), None)
        if stub is None:
            raise Problem(404, detail=f"service {service} has no stub {stub_id!r}")
        return stub

    def _stub_view(self, stub: Stub) -> dict[str, Any]:
        root = self.parts.stubs.root
        file = stub.file.relative_to(root) if stub.file.is_relative_to(root) else stub.file
        return {"service": stub.service, "id": stub.id, "file": str(file), "method": stub.method, "path": stub.path,
                "operation": stub.operation, "status": stub.status}

    # -- the journal ---------------------------------------------------------------------------

    async def list_journal(self, exchange: Exchange) -> Response:
        query = exchange.query
        since = query.get("since")
        journal = self.parts.journal
        entries, cursor = journal.recent(int(query.get("limit") or 100), query.get("service") or None,
                                                  query.get("status") or None, int(since) if since else None)
        return Response.json(200, {"entries": [e.summary() for e in entries], "cursor": cursor, "size": journal.size})

    async def clear_journal(self, _exchange: Exchange) -> Response:
        self.parts.journal.clear()
        return Response(204)

    async def get_journal_entry(self, exchange: Exchange) -> Response:
        request_id = param(exchange, "id")
        journal = self.parts.journal
        entry = journal.find(request_id)
        if entry is None:
            raise Problem(404, detail=JOURNAL_OFF if journal.off else
                          f"no exchange {request_id!r} in the journal (it keeps the last {journal.size})")
        return Response.json(200, entry.detail(self.parts.redactor(entry.service)))


def service_json(view: ServiceView) -> dict[str, Any]:
    """A service as `GET /_gw/api/services[/{service}]` answers it."""
    return {**view.to_json(), "spec": view.spec}




async def _mode(exchange: Exchange) -> str:
    return str((await exchange.json())["mode"])  # the validator has checked the body's shape


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Problem(404, detail=f"{path}: cannot be read ({exc})") from None

