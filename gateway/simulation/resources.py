"""What a simulated resource holds: the client's fields, generated ones for the rest, ids and timestamps.

A created resource is the request body over a body generated from the response schema (so every field
the contract requires is there), with the id the collection hands out and `created_at`-like fields set
to now. Updates merge (JSON Merge Patch for application/merge-patch+json), replaces swap the client's
fields; neither touches the id, read-only or creation fields, and both set `updated_at`-like ones.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from ..contract.judge import accepts
from ..mocker.generator import Options, generate
from ..mocker.status_fields import Edit, apply_edits
from ..mocker.status_fields import properties as properties_of
from ..validation.serialization import declared_types
from .inference import Collection

CREATED = frozenset({"createdat", "created", "createdon", "creationdate", "creationtime", "createdtime", "createddate",
                     "insertedat", "datecreated", "createtime", "timecreated"})
UPDATED = frozenset({"updatedat", "updated", "updatedon", "modifiedat", "modified", "lastmodified", "lastmodifiedat",
                     "lastupdated", "lastupdatedat", "updatetime", "updatedtime", "datemodified", "dateupdated",
                     "timemodified", "timeupdated", "changedat"})
ID_ATTEMPTS = 8


def norm(name: str) -> str:
    return re.sub(r"[_\-\s]", "", name).lower()


def new_id(collection: Collection, number: int, checker: Any) -> Any:
    """The next id: the counter's number for integer ids, a uuid for `format: uuid`, else a string the id's
    schema accepts (a uuid where any string goes, generated from the schema where it has a pattern)."""
    if collection.id_kind == "integer":
        return number
    if collection.id_kind == "uuid":
        return str(uuid.uuid4())
    schema = collection.id_schema
    if not any(k in schema for k in ("pattern", "format", "enum", "const")) and schema.get("maxLength", 36) >= 36:
        return str(uuid.uuid4())
    for attempt in range(ID_ATTEMPTS):
        value = generate(schema, f"id:{number}:{uuid.uuid4().hex}", Options(response=True, attempt=attempt))
        if isinstance(value, str) and (checker is None or accepts(checker, value)):
            return value
    return str(number)


def now_value(schema: Any) -> Any:
    """Now, as the field's schema writes time: date-time, date, or a Unix timestamp."""
    moment = datetime.now(UTC)
    types = declared_types(schema) if isinstance(schema, dict) else []
    if "integer" in types or "number" in types:
        return int(moment.timestamp()) if "integer" in types else round(moment.timestamp(), 3)
    if isinstance(schema, dict) and schema.get("format") == "date":
        return moment.date().isoformat()
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def stamped(item: dict[str, Any], schema: Any, names: frozenset[str]) -> dict[str, Any]:
    """The item with its creation- or update-time fields (as `names` says) set to now."""
    result = dict(item)
    for name, sub in properties_of(schema).items():
        if norm(name) in names and (name in result or name in _required(schema)) and _time_like(sub):
            result[name] = now_value(sub)
    return result


def _time_like(schema: Any) -> bool:
    return isinstance(schema, dict) and (schema.get("format") in ("date-time", "date") or
                                         bool(set(declared_types(schema)) & {"integer", "number"}))


def created(collection: Collection, generated: dict[str, Any], body: Any, item_id: Any,
            parents: dict[str, Any], checker: Any) -> dict[str, Any]:
    """A new resource: generated fields, the client's over them, then the id, parent ids and timestamps."""
    schema = collection.item_schema
    item = apply_edits(dict(generated), _defaults(schema), checker)  # `status: pending`, `active: true`, not a random pick
    if isinstance(body, dict):
        known = properties_of(schema)
        for name, value in body.items():
            sub = known.get(name)
            if not isinstance(sub, dict) or sub.get("readOnly") or sub.get("writeOnly"):
                continue  # only what the resource declares: never a password echoed back
            item[name] = value
    if collection.id_field:
        item[collection.id_field] = item_id
    for name, value in parents.items():
        if name in properties_of(schema):
            item[name] = value
    return stamped(item, schema, CREATED | UPDATED)


def _defaults(schema: Any) -> list[Edit]:
    """Each field's documented default, else the first of its enum: what a new resource most likely starts as."""
    edits: list[Edit] = []
    for name, sub in properties_of(schema).items():
        if isinstance(sub, dict) and not sub.get("readOnly"):
            if "default" in sub:
                edits.append(((name,), sub["default"]))
            elif isinstance(sub.get("enum"), list) and sub["enum"]:
                edits.append(((name,), sub["enum"][0]))
    return edits


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: objects merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def updated(collection: Collection, old: dict[str, Any], body: Any, action: str, merge_patch_media: bool) -> dict[str, Any]:
    """The resource after PATCH (merged) or PUT (replaced): its id, read-only and creation fields kept, and
    required fields the change would drop kept too (the contract still holds); update times set."""
    schema = collection.item_schema
    body = body if isinstance(body, dict) else {}
    if action == "update":
        item = merge_patch(old, body) if merge_patch_media else {**old, **body}
    else:
        item = dict(body)
    known = properties_of(schema)
    for name, value in old.items():
        sub = known.get(name)
        protected = name == collection.id_field or norm(name) in CREATED or (isinstance(sub, dict) and sub.get("readOnly"))
        if protected or (name not in item and name in _required(schema)):
            item[name] = value
    item = {k: v for k, v in item.items() if not (isinstance(known.get(k), dict) and known[k].get("writeOnly"))}
    return stamped(item, schema, UPDATED)


def _required(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        found.update(schema.get("required") or [])
        for part in schema.get("allOf") or []:
            found |= _required(part)
    return found

