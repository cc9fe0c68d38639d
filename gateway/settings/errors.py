"""A refused setting as one line, `file: key.path: reason`, never pydantic's multi-line report.

The first of pydantic's errors is read: its place (`services.users.timeout`, `allowed_hosts[1]`), then a
reason in the words gw has always used; an unknown key gets "did you mean" against the fields of the block
it was found in.
"""

from __future__ import annotations

import difflib
import types
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError


class SettingsError(ValueError):
    """A rule broken inside one settings block: the key below the block (may be empty), and why.

    A ValueError, so pydantic reports it at the block's place and the loader prefixes that place."""

    def __init__(self, key: str, reason: str) -> None:
        self.key, self.reason = key, reason
        super().__init__(f"{key}: {reason}" if key else reason)


class ConfigError(Exception):
    """A setting that cannot be used: one line, `file: key: reason`."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source, self.key, self.reason = source, key, reason
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {reason}")


def config_error(error: ValidationError, source: str, model: type[BaseModel]) -> ConfigError:
    """The first problem pydantic found, as gw says it."""
    first = error.errors(include_url=False)[0]
    loc = [part for part in first["loc"] if not _is_tag(part)]
    reason, below = _reason(first, model, loc)
    return ConfigError(source, join_key(join_key("", loc), below), reason)


def unknown(key: str, known: set[str] | list[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    return f"unknown setting{hint}"


def join_key(prefix: str, parts: Any) -> str:
    """`services.users` + `timeout` -> `services.users.timeout`; list positions as `[1]`."""
    key = prefix
    for part in [parts] if isinstance(parts, str) else parts:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part:
            key += part if part.startswith("[") or not key else f".{part}"
    return key


_TYPE_WORDS = {"int": "expected a whole number", "bool": "expected true or false", "string": "expected a string",
               "float": "expected a number"}


def _reason(error: dict[str, Any], model: type[BaseModel], loc: list[Any]) -> tuple[str, str]:
    """(why, the key below the error's place that a SettingsError names)."""
    kind, given = error["type"], error.get("input")
    failure = (error.get("ctx") or {}).get("error")
    if isinstance(failure, SettingsError):
        return failure.reason, failure.key
    if kind == "extra_forbidden":
        return unknown(str(loc[-1]), field_names(block_at(model, loc[:-1]))), ""
    if kind == "missing":
        return "is required", ""
    word = kind.split("_")[0]
    if word in _TYPE_WORDS and kind.endswith(("_type", "_parsing", "_from_float")):
        return f"{_TYPE_WORDS[word]}, got {given!r}", ""
    if kind in ("list_type", "tuple_type"):
        return "expected a list", ""
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        return "expected a mapping of settings", ""
    if failure is not None:
        return str(failure), ""
    return " ".join(str(error["msg"]).split()), ""


def field_names(model: type[BaseModel] | None) -> set[str]:
    """The keys a block accepts (aliases where a field has one; internal fields left out)."""
    if model is None:
        return set()
    names = set()
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if not extra.get("internal"):
            names.add(info.validation_alias if isinstance(info.validation_alias, str) else name)
    return names


def block_at(model: type[BaseModel], loc: list[Any]) -> type[BaseModel] | None:
    """The block a place names: fields into their model, mapping values and list items into theirs."""
    from pydantic import BaseModel

    current = type_at(model, loc)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def type_at(model: type[BaseModel], keys: list[Any], items: bool = True) -> Any:
    """The type (unwrapped) of the setting a place names, walked down from `model`: a field into its annotation,
    a mapping's key into its values' type and (with `items`) a list position into its items'; None when some
    key names no field, or steps into what holds no settings."""
    from pydantic import BaseModel

    current: Any = model
    for part in keys:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = _field(current, str(part))
            if info is None:
                return None
            current = info.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[-1]
        elif items and get_origin(current) in (list, tuple):
            current = (get_args(current) or (None,))[0]
        else:
            return None
    return _unwrap(current)


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.validation_alias):
            return info
    return None


def _unwrap(hint: Any) -> Any:
    """`X | None` -> X; Annotated[X, ...] -> X."""
    while True:
        origin = get_origin(hint)
        if origin in (Union, types.UnionType):
            inner = [a for a in get_args(hint) if a is not type(None)]
            if len(inner) != 1:
                return hint
            hint = inner[0]
        elif hasattr(hint, "__metadata__"):
            hint = get_args(hint)[0]
        else:
            return hint


def _is_tag(part: Any) -> bool:
    """pydantic names a function validator's step in the place (`function-after[...]`): not a key."""
    return isinstance(part, str) and ("[" in part and part.endswith("]") and not part.startswith("["))
