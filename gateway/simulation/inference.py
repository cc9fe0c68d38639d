"""Which operations are a collection of resources: inferred from the spec's paths, or named in `state:`.

`POST /things` creates, `GET /things` lists, `GET /things/{id}` reads, `PUT` replaces, `PATCH` merges,
`DELETE` removes. `/users/{user_id}/orders/{order_id}` is a collection of orders scoped to its user:
each user's orders are kept apart. The items' id field and its kind (increasing integers, uuids or
strings) come from the item schema, else from the id path parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.media_types import is_json
from ..mocker.status_fields import properties as properties_of
from ..settings.simulation import CollectionSetting, StateSettings
from ..spec.load import Operation, Service
from ..validation.serialization import declared_types

_PARAM = re.compile(r"^\{([^{}]+)\}$")
SUCCESS = ("200", "201", "202", "203", "204", "2XX", "2xx")

# what each method does on the collection's own path and on its item path
COLLECTION_ACTIONS = {"POST": "create", "GET": "list"}
ITEM_ACTIONS = {"GET": "read", "PUT": "replace", "PATCH": "update", "DELETE": "delete"}


@dataclass
class Collection:
    """One kind of resource: where it is listed and created, where each item lives, what identifies it."""

    name: str
    path: str  # list / create path template ("" when the spec has none)
    item_path: str  # item path template ("" when the spec has none)
    id_param: str  # the item path's last parameter
    parents: tuple[str, ...]  # path parameters scoping the collection (nested collections)
    id_field: str  # the items' id property ("" when the item schema has none)
    id_kind: str  # integer | uuid | string
    id_schema: dict[str, Any]
    item_schema: dict[str, Any] | None
    actions: dict[str, str] = field(default_factory=dict)  # operation key -> action
    parent: str = ""  # the collection whose item this one is nested below (`customers` for carts), if simulated


@dataclass
class Catalog:
    """A service's collections, and for each simulated operation its collection and action."""

    collections: dict[str, Collection] = field(default_factory=dict)
    operations: dict[str, tuple[Collection, str]] = field(default_factory=dict)

    def describe(self, key: str) -> str:
        """`orders: create` for `gw routes`, "" for an operation outside every collection."""
        found = self.operations.get(key)
        return f"{found[0].name}: {found[1]}" if found else ""


def state_catalogs(configured: Mapping[str, Any], services: dict[str, Service]) -> dict[str, Catalog]:
    """The collections of every service with `state` on (`configured`: the settings' services), by service name."""
    return {name: infer(services[name], settings.state) for name, settings in configured.items()
            if settings.state is not None and name in services}


def infer(service: Service, settings: StateSettings) -> Catalog:
    """The service's collections: those `state.collections` names, then (unless `infer: false`) the inferred rest."""
    by_path: dict[str, dict[str, Operation]] = {}
    for operation in service.operations.values():
        by_path.setdefault(operation.path, {})[operation.method] = operation
    catalog = Catalog()
    taken: set[str] = set()
    for setting in settings.collections:
        pair = (setting.path, setting.item or _item_path_of(setting.path, by_path))
        _add(catalog, service, by_path, setting.name, pair, setting, taken)
    if settings.infer:
        for pair in _inferred_pairs(by_path):
            if pair[0] not in taken and pair[1] not in taken:
                _add(catalog, service, by_path, _name_of(pair[0] or _parent_path(pair[1]), catalog), pair, None, taken)
    if settings.tags:
        _keep_tagged(catalog, service, set(settings.tags))
    _link_parents(catalog)
    return catalog


def _keep_tagged(catalog: Catalog, service: Service, tags: set[str]) -> None:
    """Only the collections of these operation groups: one of their operations carries one of the tags."""
    for name, collection in list(catalog.collections.items()):
        if not any(set(service.operations[key].definition.get("tags") or []) & tags for key in collection.actions):
            del catalog.collections[name]
            for key in collection.actions:
                catalog.operations.pop(key, None)


def _link_parents(catalog: Catalog) -> None:
    """Each nested collection's parent collection: the one whose item path its own path starts from."""
    by_item = {c.item_path: c.name for c in catalog.collections.values() if c.item_path}
    for collection in catalog.collections.values():
        if collection.parents:
            collection.parent = by_item.get(_parent_path(collection.path or _parent_path(collection.item_path)), "")


def _inferred_pairs(by_path: dict[str, dict[str, Operation]]) -> list[tuple[str, str]]:
    """(collection path, item path) for each path with an item path below it, or creating, or read by id alone."""
    pairs: list[tuple[str, str]] = []
    items_seen: set[str] = set()
    for path in sorted(by_path):
        if _last_param(path):
            continue
        item = _item_path_of(path, by_path)
        own = by_path[path]
        if item or ("POST" in own and "GET" in own and _object_answer(own["POST"])):  # creates and lists
            pairs.append((path, item))
            items_seen.add(item)
    for path in sorted(by_path):
        parent = _parent_path(path)
        if _last_param(path) and path not in items_seen and "GET" in by_path[path] and parent not in by_path:
            pairs.append(("", path))  # read, update, delete only: items come from the seed
    return pairs


def _item_path_of(path: str, by_path: dict[str, dict[str, Operation]]) -> str:
    """The item path right below `path` (`/things` -> `/things/{id}`), "" when there is none or several."""
    if not path:
        return ""
    found = [p for p in by_path if _parent_path(p) == path.rstrip("/") and _last_param(p)]
    return found[0] if len(found) == 1 else ""


def _parent_path(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[0] if path.count("/") > 1 else ""


def _last_param(path: str) -> str:
    match = _PARAM.match(path.rstrip("/").rsplit("/", 1)[-1])
    return match.group(1) if match else ""


def _params_in(path: str) -> tuple[str, ...]:
    return tuple(m.group(1) for part in path.split("/") if (m := _PARAM.match(part)))


def _name_of(path: str, catalog: Catalog) -> str:
    """The last literal segment (`orders`); the literal segments joined when that is taken (`users.orders`)."""
    literal = [part for part in path.split("/") if part and not _PARAM.match(part)]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", literal[-1] if literal else "items")[:64] or "items"
    if name in catalog.collections:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", ".".join(literal))[:64]
    base, n = name, 2
    while name in catalog.collections:
        name, n = f"{base}-{n}", n + 1
    return name


def _add(catalog: Catalog, service: Service, by_path: dict[str, dict[str, Operation]], name: str,
         pair: tuple[str, str], setting: CollectionSetting | None, taken: set[str]) -> None:
    path, item_path = pair
    own = by_path.get(path, {}) if path else {}
    items = by_path.get(item_path, {}) if item_path else {}
    actions = {op.key: COLLECTION_ACTIONS[m] for m, op in own.items() if m in COLLECTION_ACTIONS}
    actions.update({op.key: ITEM_ACTIONS[m] for m, op in items.items() if m in ITEM_ACTIONS})
    creator = by_path.get(setting.create, {}).get("POST") if setting and setting.create else None
    if creator is not None:  # `create: /register`: another path's POST adds to this collection
        actions[creator.key] = "create"
    if not actions:
        return
    item_schema = _item_schema([items.get("GET"), own.get("POST"), creator, items.get("PUT"), items.get("PATCH")])
    id_param = _last_param(item_path)
    id_field = (setting.id if setting and setting.id else "") or _id_field(item_schema, id_param)
    id_schema = _id_schema(item_schema, id_field, items, id_param, service)
    parents = _params_in(path) if path else _params_in(item_path)[:-1]
    collection = Collection(name, path, item_path, id_param, parents, id_field, _id_kind(id_schema), id_schema,
                            item_schema, actions)
    catalog.collections[name] = collection
    for key, action in actions.items():
        catalog.operations[key] = (collection, action)
    taken.update(p for p in (*pair, setting.create if setting else "") if p)


def success_status(operation: Operation) -> str | None:
    """The operation's documented success answer: 201 for a create where documented, else the first 2xx."""
    for key in SUCCESS:
        if key in operation.responses:
            return key
    return None


def json_entry(operation: Operation, status: str | None) -> tuple[str, dict[str, Any]] | None:
    """The first JSON media type of a documented answer, with its entry ({schema, example...})."""
    content = (operation.responses.get(status or "") or {}).get("content") or {}
    for media, entry in content.items():
        if is_json(media) and isinstance(entry, dict):
            return media, entry
    return None


def _object_answer(operation: Operation) -> bool:
    found = json_entry(operation, success_status(operation))
    return found is not None and _is_object(found[1].get("schema"))


def _item_schema(operations: list[Operation | None]) -> dict[str, Any] | None:
    for operation in operations:
        if operation is None:
            continue
        found = json_entry(operation, success_status(operation))
        if found is not None and _is_object(found[1].get("schema")):
            return found[1]["schema"]
    return None


def _is_object(schema: Any) -> bool:
    return isinstance(schema, dict) and ("object" in declared_types(schema) or bool(properties_of(schema)))


def _norm(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def _id_field(schema: dict[str, Any] | None, id_param: str) -> str:
    """The property the id path parameter names: itself, `id`, or its camel / snake twin."""
    names = list(properties_of(schema))
    for wanted in (id_param, "id"):
        if wanted in names:
            return wanted
    for name in names:
        if id_param and _norm(name) == _norm(id_param):
            return name
    return next((n for n in names if _norm(n) in ("uuid", "key", "slug")), "")


def _id_schema(item_schema: dict[str, Any] | None, id_field: str, items: dict[str, Operation], id_param: str,
               service: Service) -> dict[str, Any]:
    schema = properties_of(item_schema).get(id_field) if id_field else None
    if isinstance(schema, dict):
        return schema
    paths = service.specification.spec.get("paths") or {}
    for operation in items.values():
        shared = (paths.get(operation.path) or {}).get("parameters") or []  # the path item's, for all its operations
        for parameter in [*(operation.definition.get("parameters") or []), *shared]:
            if isinstance(parameter, dict) and parameter.get("name") == id_param and parameter.get("in") == "path":
                return parameter.get("schema") or {}
    return {"type": "string"}


def _id_kind(schema: dict[str, Any]) -> str:
    types = declared_types(schema)
    if "integer" in types or ("number" in types and "string" not in types):
        return "integer"
    return "uuid" if schema.get("format") == "uuid" else "string"
