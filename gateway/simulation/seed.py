"""Seed data: the resources each session starts with, from `stubs/<service>/state/*.yaml|json`.

    # stubs/orders/state/orders.yaml
    orders:                       # a collection's name (`gw routes` shows them)...
      - {id: 6f1c..., customer_id: cus_7Hq2LmX9, ...}
    /users/1/orders:              # ...or a nested collection's concrete path: that parent's items
      - {...}

Every item is checked against the collection's item schema; a bad file is skipped with one line
`file: place: reason`, never fatal.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from ..contract.judge import compile_schema, explain, pointer
from ..settings.config import ConfigError
from ..spec.load import Service
from .inference import Catalog, Collection
from .store import Scope, Seed

log = logging.getLogger("gw.state")
SUFFIXES = (".yaml", ".yml", ".json")


def scope_value(text: str) -> str:
    """A parent id as a key: `007` and `7` are the same integer."""
    return str(int(text)) if re.fullmatch(r"-?\d{1,18}", text) else text


def load_seed(folder: Path, service: Service, catalog: Catalog) -> tuple[Seed, list[ConfigError]]:
    """Every seed file's items; the errors of the files left out."""
    seed, errors = Seed(), []
    files = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and not p.name.startswith(".")) \
        if folder.is_dir() else []
    for file in files:
        try:
            found = _read(file, service, catalog)
        except ConfigError as exc:
            errors.append(exc)
            log.warning("seed file skipped: %s", exc)
            continue
        for (name, scope), items in found.items():
            collection = catalog.collections[name]
            seed.items.setdefault((name, scope), []).extend(items)
            if collection.id_kind == "integer":
                numbers = [i for i, _ in items if isinstance(i, int)]
                seed.floors[collection.name] = max([seed.floors.get(collection.name, 0), *numbers])
    return seed, errors


def _read(file: Path, service: Service, catalog: Catalog) -> dict[tuple[str, Scope], list[tuple[Any, dict]]]:
    data = _document(file)
    if not isinstance(data, dict):
        raise ConfigError(str(file), "", "expected a mapping of collection names (or paths) to lists of items")
    found: dict[tuple[str, Scope], list[tuple[Any, dict]]] = {}
    for key, items in data.items():
        collection, scope = _collection(str(key), catalog, file)
        if not isinstance(items, list):
            raise ConfigError(str(file), str(key), "expected a list of items")
        checker = compile_schema(collection.item_schema, service.openapi31, "response") \
            if isinstance(collection.item_schema, dict) else None
        entries = found.setdefault((collection.name, scope), [])
        for index, item in enumerate(items):
            entries.append(_item(item, collection, checker, f"{key}[{index}]", file, len(entries)))
    return found


def _item(item: Any, collection: Collection, checker: Any, place: str, file: Path, number: int) -> tuple[Any, dict]:
    if not isinstance(item, dict):
        raise ConfigError(str(file), place, "expected an object (the resource as the API returns it)")
    if collection.id_field and collection.id_field not in item:
        raise ConfigError(str(file), place, f"has no `{collection.id_field}`: each seeded item needs its id")
    if checker is not None:
        errors = explain(list(checker.iter_errors(item)))
        if errors:
            raise ConfigError(str(file), place + pointer(errors[0]).replace("/", "."), f"{errors[0].message[:200]} "
                              f"(the item must be valid against the collection's response schema)")
    item_id = item[collection.id_field] if collection.id_field else str(uuid.uuid5(uuid.NAMESPACE_URL, f"{file}#{number}"))
    return item_id, item


def _collection(key: str, catalog: Catalog, file: Path) -> tuple[Collection, Scope]:
    """A collection by name, or by a concrete path of a (nested) collection: `/users/1/orders`."""
    if key in catalog.collections:
        collection = catalog.collections[key]
        if collection.parents:
            raise ConfigError(str(file), key, f"is nested below {', '.join(collection.parents)}: key it by its path, "
                                              f"e.g. {collection.path or collection.item_path}")
        return collection, ()
    if key.startswith("/"):
        for collection in catalog.collections.values():
            template = collection.path or collection.item_path.rsplit("/", 1)[0]
            values = _match(template, key)
            if values is not None:
                return collection, tuple((name, scope_value(values[name])) for name in collection.parents)
    names = ", ".join(catalog.collections) or "none (is `state` on for this service?)"
    raise ConfigError(str(file), key, f"no such collection; collections: {names}")


def _match(template: str, path: str) -> dict[str, str] | None:
    pattern = "^" + re.sub(r"\\\{([^{}]+)\\\}", lambda m: f"(?P<{_group(m.group(1))}>[^/]+)", re.escape(template)) + "/?$"
    match = re.match(pattern, path)
    if match is None:
        return None
    names = re.findall(r"\{([^{}]+)\}", template)
    return {name: match.group(_group(name)) for name in names}


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def _document(file: Path) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(file), "", getattr(exc, "strerror", None) or str(exc)) from None
    if file.suffix == ".json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ConfigError(str(file), "", f"not valid JSON: {exc}") from None
    try:
        return _plain(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(str(file), place, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None



def _plain(value: Any) -> Any:
    """YAML's dates and times as the ISO text a JSON API sends (`2024-06-11T14:03:27Z`)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z") if value.tzinfo else value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value
