"""The `state:` setting of a service: which collections keep what clients create, and how many.

`state: true` simulates every collection inferred from the spec's paths; a mapping tunes it:

    state:
      max_resources: 1000          # per collection (and parent, and session); one more create is refused
      max_sessions: 1000           # X-GW-Session values kept; a new one beyond this drops the oldest
      infer: true                  # false: only the collections named below
      tags: [orders]               # only collections whose operations carry one of these tags (operation groups)
      collections:
        orders: {path: /orders, item: /orders/{order_id}, id: id}
        users: {path: /users, item: /users/{user_id}, create: /register}   # another path's POST creates
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .policy_settings import SettingsError

DEFAULT_MAX_RESOURCES = 1000
DEFAULT_MAX_SESSIONS = 1000
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_KEYS = {"max_resources", "max_sessions", "infer", "collections", "tags"}
_COLLECTION_KEYS = {"path", "item", "id", "create"}


@dataclass(frozen=True)
class CollectionSetting:
    """A collection named by hand where inference cannot tell: its list path, item path and id field."""

    name: str
    path: str = ""  # the list / create path, e.g. /users/{user_id}/orders
    item: str = ""  # the item path, e.g. /users/{user_id}/orders/{order_id}
    id: str = ""  # the items' id field; "" to infer it
    create: str = ""  # another path whose POST adds to this collection (`/register` for users)


@dataclass(frozen=True)
class StateSettings:
    max_resources: int = DEFAULT_MAX_RESOURCES
    infer: bool = True
    collections: tuple[CollectionSetting, ...] = field(default_factory=tuple)
    tags: tuple[str, ...] = ()  # empty: every collection
    max_sessions: int = DEFAULT_MAX_SESSIONS


def check_state(value: Any) -> StateSettings | None:
    """`true` / `false` / a mapping, as `gateway.yaml` (or GW_SERVICES__X__STATE) gives it."""
    if value is None or value is False:
        return None
    if value is True:
        return StateSettings()
    if isinstance(value, StateSettings):
        return value
    if not isinstance(value, dict):
        raise SettingsError("", f"expected true, false or a mapping ({', '.join(sorted(_KEYS))}), got {value!r}")
    for key in value:
        if key not in _KEYS:
            raise SettingsError(str(key), f"unknown setting (known: {', '.join(sorted(_KEYS))})")
    limit = _count(value, "max_resources", DEFAULT_MAX_RESOURCES)
    sessions = _count(value, "max_sessions", DEFAULT_MAX_SESSIONS)
    infer = value.get("infer", True)
    if not isinstance(infer, bool):
        raise SettingsError("infer", f"expected true or false, got {infer!r}")
    tags = value.get("tags") or []
    tags = [tags] if isinstance(tags, str) else tags
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise SettingsError("tags", f"expected a list of the spec's tags, got {value.get('tags')!r}")
    return StateSettings(limit, infer, _collections(value.get("collections") or {}), tuple(tags), sessions)


def _count(value: dict[str, Any], key: str, default: int) -> int:
    number = value.get(key, default)
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise SettingsError(key, f"expected a whole number of 1 or more, got {number!r}")
    return number


def _collections(raw: Any) -> tuple[CollectionSetting, ...]:
    if not isinstance(raw, dict):
        raise SettingsError("collections", "expected a mapping of collection names to {path, item, id}")
    found = []
    for name, entry in raw.items():
        where = f"collections.{name}"
        if not _NAME.fullmatch(str(name)):
            raise SettingsError(where, "a collection name may use letters, digits, '.', '-' and '_' only")
        entry = {} if entry is True else entry
        if not isinstance(entry, dict):
            raise SettingsError(where, "expected a mapping such as {path: /orders, item: /orders/{id}, id: id}")
        for key, text in entry.items():
            if key not in _COLLECTION_KEYS:
                raise SettingsError(f"{where}.{key}", f"unknown setting (known: {', '.join(sorted(_COLLECTION_KEYS))})")
            if not isinstance(text, str) or (key != "id" and not text.startswith("/")):
                raise SettingsError(f"{where}.{key}", f"expected {'a field name' if key == 'id' else 'a path starting with /'}"
                                                      f", got {text!r}")
        if not entry.get("path") and not entry.get("item"):
            raise SettingsError(where, "give at least `path` (list and create) or `item` (read, update, delete)")
        found.append(CollectionSetting(str(name), entry.get("path", ""), entry.get("item", ""), entry.get("id", ""),
                                       entry.get("create", "")))
    return tuple(found)
