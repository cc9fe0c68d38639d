"""Stateful resources: a service with `state:` answers its collections' operations from what clients created.

Called from one place (mode dispatch, stub mode) for the operations a collection owns; everything else
(and a request that asks `Prefer: code=...` / `example=...` / `dynamic=true`) is answered by the mocker as
before. Each answer is judged against the contract like an upstream's (`contract.check_response`): a
violation is logged, counted and marked `X-GW-Contract: violation`, never silently sent.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..contract.judge import accepts
from ..contract.responses import body_validator, check_response, mark_violation, report_violations
from ..core.exchange import Exchange, Response
from ..core.media_types import base_type, is_json
from ..core.problems import Problem
from ..mocker.error_answers import documented_refusal, documented_status, problem_line
from ..mocker.media import encode
from ..mocker.mocker import StubSource, concrete_media, generate_valid, response_headers
from ..mocker.negotiator import parse_prefer
from ..mocker.status_fields import properties as properties_of
from ..runtime.session import session_of
from ..runtime.shared_state import SharedState, StateUnavailable
from ..settings.config import ServiceConfig, mount_prefix
from ..spec.load import Operation, Service
from ..validation.serialization import declared_types
from .inference import Catalog, Collection, json_entry, state_catalogs, success_status
from .json_patch import apply_patch
from .listing import Page, declared_query, envelope, filtered, items_property, ordered, page_link, page_of
from .resources import created, new_id, updated
from .seed import load_seed, scope_value
from .store import ResourceStore, Scope

log = logging.getLogger("gw.state")
SOURCE = "state"


@dataclass
class Call:
    """One request on a collection: where it is, and whose resources it sees."""

    exchange: Exchange
    service: Service
    operation: Operation
    collection: Collection
    store: ResourceStore
    session: str
    scope: Scope
    parents: dict[str, Any]  # parent path parameters, typed

    @property
    def item_id(self) -> Any:
        name = self.collection.id_param
        return self.exchange.parameters.get("path", {}).get(name, self.exchange.path_params.get(name))


class Simulation:
    """The stateful services' collections, stores and seed data; answers their operations."""

    def __init__(self, services: dict[str, Service], catalogs: dict[str, Catalog], stores: dict[str, ResourceStore],
                 violations: Counter[tuple[str, str]] | None = None) -> None:
        self.services, self.catalogs, self.stores = services, catalogs, stores
        self.violations = violations if violations is not None else Counter()
        self.seed_errors: list[str] = []

    @classmethod
    def build(cls, configured: Mapping[str, ServiceConfig], stubs_path: Path, services: dict[str, Service],
              state: SharedState, violations: Counter[tuple[str, str]] | None = None) -> Simulation | None:
        """None when no service has `state` on: requests then pay nothing for it. Seed data is read from
        `stubs_path/<service>/state`."""
        catalogs, stores, errors = state_catalogs(configured, services), {}, []
        for name, catalog in catalogs.items():
            seed, bad = load_seed(Path(stubs_path) / name / "state", services[name], catalog)
            settings = configured[name].state
            assert settings is not None
            stores[name] = ResourceStore(state, name, seed, list(catalog.collections), settings.max_resources,
                                         settings.max_sessions)
            errors += [str(e) for e in bad]
            log.info("state for %s: %s", name, "; ".join(_summary(c) for c in catalog.collections.values()) or "no collections",
                     extra={"fields": {"service": name, "collections": list(catalog.collections)}})
        if not catalogs:
            return None
        simulation = cls(services, catalogs, stores, violations)
        simulation.seed_errors = errors
        return simulation

    async def answer(self, exchange: Exchange, stubs: StubSource | None = None) -> Response | None:
        """The collection's answer, or None when the operation is not one of a collection's (or the request's
        `Prefer` asks the mocker for a particular answer). A stub file that matches still answers first, as
        DESIGN.md orders stub answers: a hand-written `GET /users/42` stays what its author wrote."""
        operation, service = exchange.operation, exchange.service
        assert operation is not None and service is not None
        catalog = self.catalogs.get(operation.service)
        found = catalog.operations.get(operation.key) if catalog is not None else None
        if found is None:
            return None
        recorded = await stubs.answer(exchange) if stubs is not None else None
        if recorded is not None:
            exchange.source = "recorded"
            return recorded
        prefs = parse_prefer(exchange.headers.get("prefer"))
        if prefs.code or prefs.example or prefs.dynamic:
            return None
        collection, action = found
        call = Call(exchange, service, operation, collection, self.stores[operation.service], session_of(exchange),
                    *self._scope(exchange, collection))
        try:
            await call.store.enter(call.session)
            response = await self._orphan(call, catalog) or await _ACTIONS[action](call)
        except StateUnavailable as exc:
            raise Problem(503, detail=f"the resources cannot be reached: {exc}", slug="state-unavailable") from None
        exchange.source = SOURCE
        exchange.notes["state"] = f"{collection.name}: {action}"
        self._judge(exchange, response)
        return response

    @staticmethod
    async def _orphan(call: Call, catalog: Catalog) -> Response | None:
        """Below a parent that does not exist (`/customers/99/carts`): the operation's documented 404, where it
        documents one (else the nested collection answers, empty, as the contract allows)."""
        parent = catalog.collections.get(call.collection.parent)
        if parent is None or documented_status(call.operation, 404) is None:
            return None
        scope = tuple((name, value) for name, value in call.scope if name in parent.parents)
        parent_id = call.parents.get(parent.id_param)
        if await call.store.get(call.session, parent.name, scope, parent_id) is not None:
            return None
        return _not_found(call, parent.name, parent_id)

    @staticmethod
    def _scope(exchange: Exchange, collection: Collection) -> tuple[Scope, dict[str, Any]]:
        typed = exchange.parameters.get("path", {})
        values = {name: typed.get(name, exchange.path_params.get(name)) for name in collection.parents}
        return tuple((name, scope_value(_text(value))) for name, value in values.items()), values

    def _judge(self, exchange: Exchange, response: Response) -> None:
        """The answer against the contract, as the validation proxy judges an upstream's."""
        operation, service = exchange.operation, exchange.service
        assert operation is not None and service is not None
        body = response.body if isinstance(response.body, bytes) else None
        violations = check_response(service, operation, response.status, response.header("content-type") or "", body,
                                    dict(response.headers))
        if not violations:
            return
        report_violations(exchange, response, violations, "simulated answer", log, self.violations)
        mark_violation(response, violations)

    # -- the operator's view -------------------------------------------------------------------------

    async def dump(self, service: str, session: str | None) -> dict[str, Any]:
        store = self.stores[service].patient()
        sessions = [session] if session else (await store.sessions() or ["default"])
        for name in sessions:
            await store.enter(name)
        return {"service": service, "collections": [_describe(c) for c in self.catalogs[service].collections.values()],
                "sessions": {name: await store.dump(name) for name in sessions}}

    async def reset(self, service: str, session: str | None) -> list[str]:
        store = self.stores[service].patient()
        sessions = [session] if session else sorted(set(await store.sessions()) | {"default"})
        for name in sessions:
            await store.reset(name)
        return sessions


def _summary(collection: Collection) -> str:
    """`orders (create, list, read, delete; uuid id)`: what a start-up line says of a collection."""
    return f"{collection.name} ({', '.join(dict.fromkeys(collection.actions.values()))}; {collection.id_kind} id)"


def _describe(collection: Collection) -> dict[str, Any]:
    return {"name": collection.name, "path": collection.path, "item_path": collection.item_path,
            "id_field": collection.id_field, "id_kind": collection.id_kind, "parents": list(collection.parents),
            "operations": collection.actions}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


# -- the answers -----------------------------------------------------------------------------------------


async def _create(call: Call) -> Response:
    operation, collection = call.operation, call.collection
    status_key = success_status(operation) or "201"
    schema, media, checker = _schema(call, status_key)
    number = await call.store.next_id(call.session, collection.name) if collection.id_kind == "integer" else 0
    item_id = new_id(collection, number, None)
    base = generate_valid(call.service, operation, schema or collection.item_schema or {}, f"{operation.key}:{uuid.uuid4()}",
                          checker, call.exchange) if (schema or collection.item_schema) else {}
    item = created(collection, base if isinstance(base, dict) else {}, await _body(call.exchange), item_id, call.parents,
                   checker)
    if not await call.store.add(call.session, collection.name, call.scope, item_id, item):
        raise Problem(507, title="Collection is full", slug="state-full",
                      detail=f"{collection.name} holds {call.store.limit} resources (state.max_resources); delete some, "
                             f"or reset: DELETE /_gw/api/services/{call.service.name}/state")
    headers = _headers(call, status_key, item_id)
    return _respond(status_key, media, item, schema, headers)


async def _read(call: Call) -> Response:
    item = await call.store.get(call.session, call.collection.name, call.scope, call.item_id)
    if item is None:
        return _not_found(call)
    status_key = success_status(call.operation) or "200"
    schema, media, _ = _schema(call, status_key)
    return _respond(status_key, media, item, schema, _headers(call, status_key, call.item_id))


async def _change(call: Call) -> Response:
    """PUT replaces, PATCH merges (RFC 7396 for application/merge-patch+json) or applies RFC 6902 operations."""
    collection, action = call.collection, call.collection.actions[call.operation.key]
    old = await call.store.get(call.session, collection.name, call.scope, call.item_id)
    if old is None:
        return _not_found(call)
    media = base_type(call.exchange.headers.get("content-type") or "")
    body = await _body(call.exchange)
    if media == "application/json-patch+json":  # RFC 6902: the operations give the whole new resource
        body, action = apply_patch(old, body), "replace"
    item = updated(collection, old, body, action, media == "application/merge-patch+json")
    if not await call.store.replace(call.session, collection.name, call.scope, call.item_id, item):
        return _not_found(call)
    status_key = success_status(call.operation) or "200"
    schema, media, _ = _schema(call, status_key)
    return _respond(status_key, media, item, schema, _headers(call, status_key, call.item_id))


async def _delete(call: Call) -> Response:
    status_key = success_status(call.operation) or "204"
    schema, media, checker = _schema(call, status_key)
    item = await call.store.get(call.session, call.collection.name, call.scope, call.item_id) if media else {}
    if item is None or not await call.store.remove(call.session, call.collection.name, call.scope, call.item_id):
        return _not_found(call)
    if media is not None and isinstance(schema, dict) and checker is not None and not accepts(checker, item):
        item = generate_valid(call.service, call.operation, schema, f"{call.operation.key}:deleted", checker, call.exchange)
    return _respond(status_key, media, item, schema, _headers(call, status_key, call.item_id))


async def _list(call: Call) -> Response:
    exchange, collection, operation = call.exchange, call.collection, call.operation
    declared = declared_query(_parameters(call.service, operation))
    given = {**{k: v for k, v in exchange.query.items()}, **exchange.parameters.get("query", {})}
    items = await call.store.items(call.session, collection.name, call.scope)
    fields = properties_of(collection.item_schema)
    items = ordered(filtered(items, declared, given, fields), declared, given, fields)
    page = page_of(declared, given)
    page.total = len(items)
    chosen = items[page.offset:page.end]
    status_key = success_status(operation) or "200"
    schema, media, checker = _schema(call, status_key)
    value: Any = chosen
    link = page_link(exchange.path, dict(exchange.query), declared, page)
    if isinstance(schema, dict) and "array" not in declared_types(schema):
        name = items_property(schema, collection.name)
        key = ("state-envelope", status_key, media)  # generated once per operation: paging fields are set per request
        base = operation.cache.get(key)
        if base is None:
            base = operation.cache[key] = generate_valid(call.service, operation, schema, f"{operation.key}:envelope",
                                                         checker, exchange)
        value = envelope(base if isinstance(base, dict) else {}, schema, name, chosen, page, link, checker) if name else base
    headers = [(k, _paging_header(k, v, page, link))
               for k, v in response_headers(call.service, operation, operation.responses.get(status_key) or {})]
    return _respond(status_key, media, value, schema, headers)


def _paging_header(name: str, value: str, page: Page, link: Any) -> str:
    """A documented `X-Total-Count`-like header says the total; `Link` the neighbouring pages (RFC 8288)."""
    lowered = name.lower()
    if "total" in lowered or lowered.endswith("count"):
        return str(page.total)
    if lowered == "link":
        rels = [f'<{link(page.end)}>; rel="next"'] if page.more and page.end is not None else []
        if page.offset > 0:
            rels.append(f'<{link(max(page.offset - (page.size or 0), 0))}>; rel="prev"')
        return ", ".join([*rels, f'<{link(0)}>; rel="first"'])
    return value


_ACTIONS = {"create": _create, "read": _read, "replace": _change, "update": _change, "delete": _delete, "list": _list}


def _schema(call: Call, status_key: str) -> tuple[Any, str | None, Any]:
    """The answer's JSON schema, media type and validator (None, None, None without a JSON body)."""
    found = json_entry(call.operation, status_key)
    if found is None:
        return None, None, None
    media, entry = found
    return entry.get("schema"), media, body_validator(call.service, call.operation, status_key, media)


def _headers(call: Call, status_key: str, item_id: Any) -> list[tuple[str, str]]:
    """The documented headers, `Location` saying where the resource lives."""
    headers = response_headers(call.service, call.operation, call.operation.responses.get(status_key) or {})
    if not any(k.lower() == "location" for k, _ in headers) or not call.collection.item_path:
        return headers
    values = {**{k: _text(v) for k, v in call.parents.items()}, call.collection.id_param: _text(item_id)}
    path = call.collection.item_path
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    location = mount_prefix(call.service.base_path) + path
    return [(k, location if k.lower() == "location" else v) for k, v in headers]


def _respond(status_key: str, media: str | None, value: Any, schema: Any, headers: list[tuple[str, str]]) -> Response:
    status = int(status_key) if status_key.isdigit() else 200
    if media is None or status in (204, 205, 304):
        return Response(status, headers, b"")
    headers.append(("content-type", concrete_media(media, value)))
    return Response(status, headers, encode(value, media, schema))


def _not_found(call: Call, collection: str = "", item_id: Any = None) -> Response:
    """The operation's documented 404 in the API's error shape; problem+json where it documents none."""
    exchange = call.exchange
    collection, item_id = (collection, item_id) if collection else (call.collection.name, call.item_id)
    problem = Problem(404, detail=f"no {collection} with id {_text(item_id)}", slug="not-found")
    exchange.notes.setdefault("problem", problem.slug)
    response = documented_refusal(exchange, problem) or Response.from_problem(problem, exchange.path)
    response.set_header("x-gw-problem", problem_line(problem))
    return response


async def _body(exchange: Exchange) -> Any:
    """The request's JSON body (validated already by routing); None for other media types."""
    if not is_json(base_type(exchange.headers.get("content-type") or "")):
        return None
    raw = await exchange.body()
    return exchange.request_json(raw).value() if raw.strip() else None  # parsed once, with request validation


def _parameters(service: Service, operation: Operation) -> list[Any]:
    """The operation's parameters with its path's shared ones (operation-level wins)."""
    shared = ((service.specification.spec.get("paths") or {}).get(operation.path) or {}).get("parameters") or []
    own = operation.definition.get("parameters") or []
    names = {(p.get("name"), p.get("in")) for p in own if isinstance(p, dict)}
    return [*own, *(p for p in shared if isinstance(p, dict) and (p.get("name"), p.get("in")) not in names)]
