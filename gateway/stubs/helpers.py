"""The functions a stub template can call: `now()`, `uuid()`, `random_int()`, `fake.<provider>()`.

- `now()` is the current UTC time in ISO 8601 (`2026-11-26T10:00:00Z`); `now('+1d')`, `now('-2h30m')` move it
  (units s, m, h, d, w); `now('+1d', '%Y-%m-%d')` formats it with strftime; `now('', 'epoch')` is Unix seconds
  and `now('', 'epoch_ms')` milliseconds, as numbers.
- `uuid()` is a random UUID (version 4); `random_int(a, b)` an integer from a to b, both included.
- `fake.name()`, `fake.email()`, `fake.city()`...: any Faker provider, with Faker's arguments. Faker is
  imported (and its locale data loaded) on the first `fake.` call, so gateways without one never pay for it.
"""

from __future__ import annotations

import random
import re
import uuid as uuids
from datetime import UTC, datetime, timedelta
from typing import Any

from .sandbox import SecurityError, trusted

_OFFSET = re.compile(r"([+-])((?:\d+[smhdw])+)")
_PART = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RANDOM = random.SystemRandom()


@trusted
def now(offset: str = "", format: str = "") -> str | int:
    """The current time, moved by `offset` and written as `format` (ISO 8601 by default)."""
    moment = datetime.now(UTC) + parse_offset(offset)
    if format == "epoch":
        return int(moment.timestamp())
    if format == "epoch_ms":
        return int(moment.timestamp() * 1000)
    if format:
        return moment.strftime(format)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_offset(offset: str) -> timedelta:
    """`+1d`, `-2h30m`, `+90s`: a signed sum of amounts in s, m, h, d, w; "" is no offset."""
    text = str(offset or "").replace(" ", "")
    if not text:
        return timedelta()
    found = _OFFSET.fullmatch(text)
    if found is None:
        raise ValueError(f"now(): offset {offset!r} is not like +1d, -2h30m or +90s")
    sign = -1 if found.group(1) == "-" else 1
    total = timedelta()
    for amount, unit in _PART.findall(found.group(2)):
        total += timedelta(**{_UNITS[unit]: int(amount)})
    return sign * total


@trusted
def uuid() -> str:
    return str(uuids.uuid4())


@trusted
def random_int(low: int = 0, high: int = 100) -> int:
    return _RANDOM.randint(int(low), int(high))


class _Fake:
    """`fake.<provider>`: Faker's providers, loaded on first use; its machinery (seeding, adding
    providers, its random generator) stays out of reach."""

    _REFUSED = frozenset({"seed", "seed_instance", "seed_locale", "add_provider", "get_providers", "provider",
                          "random", "set_arguments", "del_arguments", "get_arguments", "set_formatter",
                          "factories", "items", "weights", "locales", "unique", "optional"})
    _faker: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in self._REFUSED:
            raise SecurityError(f"fake.{name} is not a data provider")
        if _Fake._faker is None:
            try:
                from faker import Faker
            except ImportError:
                raise SecurityError("fake.* needs the Faker package (pip install Faker)") from None
            _Fake._faker = Faker()
        provider = getattr(_Fake._faker, name, None)
        if not callable(provider):
            raise AttributeError(f"fake.{name} is not a Faker provider")
        return provider


HELPERS: dict[str, Any] = {"now": now, "uuid": uuid, "random_int": random_int, "fake": _Fake()}
