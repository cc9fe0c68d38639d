"""The value types of gateway.yaml: what a field accepts is decided by its type, never by its key's name.

`Duration` reads `250ms`, `2s`, `1m`, `1h` or a number of seconds; `ByteSize` reads `64kb`, `10MiB` or a number
of bytes. `Block` is the base of every settings block: frozen, unknown keys refused, and a block's `rules()`
(the rules a type cannot say) run once its fields are read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator

from .errors import SettingsError

BLOCK_CONFIG = ConfigDict(frozen=True, extra="forbid", strict=True, arbitrary_types_allowed=True)


class Block(BaseModel):
    """One settings block (`cors:`, `services.x.circuit_breaker:` ...): frozen, strict, unknown keys refused."""

    model_config = BLOCK_CONFIG

    def rules(self) -> None:
        """Rules across fields; raise SettingsError(key, reason)."""

    @model_validator(mode="after")
    def _ruled(self) -> Block:
        self.rules()
        return self


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.I)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}


def parse_duration(value: Any) -> float:
    """Seconds from `250ms`, `2.5s`, `1m`, `1h` or a number (seconds)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(str(value)) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    if not match:
        raise SettingsError("", f"expected a duration such as 5, 2.5s or 300ms, got {value!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]


def parse_size(value: Any) -> int:
    """Bytes from `64kb`, `10MiB`, `1gb` or a whole number (bytes)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    if not match:
        raise SettingsError("", f"expected a size such as 1048576, 512KiB or 10MB, got {value!r}")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def _text(value: Any) -> Any:
    """A number where a string is expected (`key: 12345`) is that string, as YAML's reader cannot know."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def string_list(from_text: Callable[[str], list[str]] | None = None, reason: str = "expected a list of strings") -> Any:
    """A list of strings; a single string is read by `from_text` (None: refused), anything else refused with `reason`."""
    def read(value: Any) -> Any:
        if isinstance(value, str) and from_text is not None:
            return from_text(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise SettingsError("", reason)

    return Annotated[list[str], BeforeValidator(read)]


def comma_separated(text: str) -> list[str]:
    """`a, b` as `[a, b]`."""
    return [part.strip() for part in text.split(",") if part.strip()]


Duration = Annotated[float, BeforeValidator(parse_duration)]
ByteSize = Annotated[int, BeforeValidator(parse_size)]
Text = Annotated[str, BeforeValidator(_text)]
Strings = string_list(lambda text: [text])  # `origins: http://a` as `origins: [http://a]`


def choice(*choices: str) -> Callable[[Any], str]:
    """A check that a value is one of `choices` (the message lists them)."""
    def check(value: Any) -> str:
        if value not in choices:
            raise SettingsError("", f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    return check


def one_of(*choices: str) -> Any:
    """A string type that is one of `choices`."""
    return Annotated[str, AfterValidator(choice(*choices))]


def optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`parse`, with null (None) read as "not set" (a per-operation part that follows its service)."""
    return lambda value: None if value is None else parse(value)


def at_least(low: int, reason: str | None = None) -> Any:
    """A whole number of `low` or more."""
    def check(value: int) -> int:
        if value < low:
            raise SettingsError("", reason or f"must be {low} or more")
        return value

    return Annotated[int, AfterValidator(check)]


def parsed_by(parse: Callable[[Any], Any]) -> Any:
    """A field read by its own grammar (chaos, roles, state): `parse` returns the value or raises SettingsError."""
    from pydantic import PlainValidator

    return PlainValidator(parse)


def read_block(model: type[Block], data: Any, source: str, prefix: str = "") -> Any:
    """`data` read as `model`, or a ConfigError `source: prefix.key: reason` (one line, "did you mean" for typos)."""
    from pydantic import ValidationError

    from .errors import ConfigError, config_error, join_key

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = config_error(exc, source, model)
        raise ConfigError(source, join_key(prefix, [error.key]) if prefix else error.key, error.reason) from None
