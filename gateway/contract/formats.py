"""Which `format`s a value is held to, and how.

A format is an annotation unless we know it: vendors write `decimal`, `int64` on strings, `currency`,
`unix-time`... and a value must never be refused for a word the validator does not know. The
formats below are checked, each only on the JSON type it describes (an `int32` string is a
string; a `date` number is a number), with the same rules for requests, mock answers and
upstream answers. Everything else passes.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$")
_INT_RANGES = {"int8": (-(2**7), 2**7 - 1), "int16": (-(2**15), 2**15 - 1), "int32": (-(2**31), 2**31 - 1),
               "int64": (-(2**63), 2**63 - 1), "uint8": (0, 2**8 - 1), "double-int": (-(2**53) + 1, 2**53 - 1)}


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _date_time(text: str) -> bool:
    if not _DATE_TIME.match(text):
        return False
    hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])  # hh:mm:ss, as the pattern says
    return _date(text[:10]) and hour < 24 and minute < 60 and second <= 60  # a leap second is allowed


def _uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36 and all(text[i] == "-" for i in (8, 13, 18, 23))


def _ip(kind: Any) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            kind(text)
        except ValueError:
            return False
        return True
    return check


def _byte(text: str) -> bool:
    try:
        base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False
    return True


_STRING_CHECKS: dict[str, Callable[[str], bool]] = {
    "date": _date,
    "date-time": _date_time,
    "email": lambda text: "@" in text,
    "uuid": _uuid,
    "uri": lambda text: bool(_URI_SCHEME.match(text)),
    "ipv4": _ip(ipaddress.IPv4Address),
    "ipv6": _ip(ipaddress.IPv6Address),
    "byte": _byte,
}


def format_error(fmt: Any, value: Any) -> str | None:
    """Why `value` breaks the format it is declared with, or None (unknown formats never break)."""
    if not isinstance(fmt, str):
        return None
    if isinstance(value, str):
        check = _STRING_CHECKS.get(fmt)
        if check is not None and not check(value):
            return f"{value!r} is not a valid {fmt!r}"
    elif isinstance(value, int) and not isinstance(value, bool) and fmt in _INT_RANGES:
        low, high = _INT_RANGES[fmt]
        if not low <= value <= high:
            return f"{value!r} is out of the {fmt!r} range [{low}, {high}]"
    return None


CHECKED = frozenset(_STRING_CHECKS) | frozenset(_INT_RANGES)
INT_RANGES = _INT_RANGES
