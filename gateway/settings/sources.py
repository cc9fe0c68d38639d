"""Where settings come from: the file (gateway.yaml, or the services made for bare specs), `GW_...` environment
variables, and CLI flags. pydantic-settings merges them, flags over environment over file (see
`GatewayConfig.settings_customise_sources`); this module reads the first two for it.

`GW_A__B__C=value` sets `a.b.c`; the value is read as a YAML scalar (`true`, `5`, `250ms`), and where the
field it lands on is a list, commas separate the items (`GW_CORS__ORIGINS=http://a,http://b`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

from .errors import ConfigError, type_at

NOT_SETTINGS = {"GW_URL", "GW_CONFIG", "GW_SERVE_ARGS", "GW_JUDGE_CROSSCHECK"}  # the last: judge.py's debugging switch


@dataclass(frozen=True)
class Inputs:
    """What one load reads: the file's mapping, the environment, and the flags (merged flags over env over file)."""

    data: dict[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    source: str = "<defaults>"
    flags: dict[str, Any] = field(default_factory=dict)


_LOADING: ContextVar[Inputs | None] = ContextVar("gw_settings_loading", default=None)


@contextmanager
def loading(inputs: Inputs) -> Iterator[None]:
    """The inputs the sources read while one GatewayConfig is built (none outside: a bare model has its defaults)."""
    token = _LOADING.set(inputs)
    try:
        yield
    finally:
        _LOADING.reset(token)


class FileSource(PydanticBaseSettingsSource):
    """gateway.yaml's mapping (already read: a YAML error is reported before any setting is)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ gives the whole mapping at once

    def __call__(self) -> dict[str, Any]:
        inputs = _LOADING.get()
        return dict(inputs.data) if inputs is not None else {}


class EnvironmentSource(PydanticBaseSettingsSource):
    """`GW_...` variables, nested with `__`, as one mapping shaped like gateway.yaml."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        inputs = _LOADING.get()
        return environment_settings(inputs.env, self.settings_cls) if inputs is not None else {}


def environment_settings(env: Mapping[str, str], model: type[BaseModel]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, raw in sorted(env.items()):
        if not name.startswith("GW_") or name in NOT_SETTINGS or _foreign(name):
            continue
        keys = [part.lower() for part in name[3:].split("__") if part]
        if not keys:
            continue
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise ConfigError(name, ".".join(keys), "conflicts with a non-mapping setting")
        target[keys[-1]] = _value(raw, is_list(model, keys))
    return data


def _foreign(name: str) -> bool:
    """`GW_CONTRACT_TARGET` and friends configure contracts/ (one underscore); `GW_CONTRACT__STRICT` is a setting."""
    return name.startswith("GW_CONTRACT_") and not name.startswith("GW_CONTRACT__")


def _value(raw: str, listed: bool) -> Any:
    if listed and not raw.lstrip().startswith("["):
        return [part.strip() for part in raw.split(",") if part.strip()]
    try:
        return yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw


def is_list(model: type[BaseModel], keys: list[str]) -> bool:
    """Whether the field at `keys` holds a list (by its type): mapping values and models are walked into."""
    current = type_at(model, keys, items=False)
    return current is not None and (get_origin(current) in (list, tuple) or current in (list, tuple))


def read_yaml(path: Path) -> dict[str, Any]:
    """gateway.yaml as a mapping; an unreadable or malformed file is one ConfigError naming line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "", exc.strerror or str(exc)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), place, f"not valid YAML: {reason}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "must be a mapping of settings (services: ...)")
    return data
