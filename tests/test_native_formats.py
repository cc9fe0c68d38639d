"""The compiled judge checks well-known formats natively (native_formats.py), never accepting what formats.py refuses.

A formatted string in a schema's positive part is checked by a Rust pattern instead of a call into Python per
string; the pattern may refuse more than formats.py (Unicode digits, a trailing newline), never less, and what it
refuses is judged by the rules, so the judge's verdict is unchanged. Under `not` the exact Python check stays.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import jsonschema_rs
import pytest

from gw.contract import compiled_schema
from gw.contract.formats import format_error
from gw.contract.judge import compile_schema
from gw.contract.native_formats import PATTERNS

# per format: strings formats.py accepts in their plain form (the pattern must too), and tricky ones either way
SAMPLES: dict[str, list[str]] = {
    "email": ["a@b", "alice@example.com", "@", "nobody", "", "a@b\n", "\u00e9@\u00e9"],
    "date": ["2024-02-29", "2023-02-28", "0001-01-01", "9999-12-31", "2000-02-29", "1900-02-28", "0004-02-29",
             "0400-02-29", "2023-02-29", "1900-02-29", "0000-01-01", "2024-13-01", "2024-00-10", "2024-04-31",
             "2024-01-32", "2024-01-00", "2024-1-01", "20240101", "2024-01-01\n", "\u0662\u0660\u0662\u0664-01-01",
             "2024-01-01T00:00:00Z", " 2024-01-01", "2024-W01-1"],
    "date-time": ["2024-02-29T23:59:60Z", "2024-02-29 10:00:00+01:00", "2024-01-01t00:00:00.123456z",
                  "2024-01-01T00:00:00-23:59", "2024-02-29T24:00:00Z", "2024-02-29T23:60:00Z", "2024-02-29T23:59:61Z",
                  "2023-02-29T00:00:00Z", "2024-01-01T00:00:00", "2024-01-01T00:00:00Z\n", "2024-01-01T00:00:00.Z",
                  "2024-01-01T00:00:00.\u0663Z", "2024-01-01T0\u0663:00:00Z", "2024-01-01T00:00:00+0100",
                  "0000-01-01T00:00:00Z", "2024-01-01T00:00:00+99:99"],
    "uuid": ["12345678-1234-1234-1234-123456789abc", "ABCDEF01-2345-6789-ABCD-EF0123456789",
             "12345678-1234-1234-1234-1234567_9abc", "12345678123412341234123456789abc", "{12345678-1234-1234-1234-123456789abc}",
             "12345678-1234-1234-1234-123456789abg", "12345678-1234-1234-1234-123456789ab\u0663",
             " 2345678-1234-1234-1234-123456789abc",
             "+2345678-1234-1234-1234-123456789abc", "12345678-1234-1234-1234-123456789abc\n"],
    "uri": ["https://example.com/a?b#c", "urn:x", "a:", "mailto:a@b", "no scheme", "1a:b", "a:b c", "a:b\n", "a:\u00e9",
            "a:b\u3000", "a:b\x1c", "a:b\u0085", "a:b\u2009", ":b", "a+b.c-d:e"],
    "ipv4": ["1.2.3.4", "0.0.0.0", "255.255.255.255", "1.2.3.256", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1.2.3.4\n",
             "\u0661.2.3.4", " 1.2.3.4", "1.2.3.-4", "1.2.3.+4"],
    "byte": ["", "aGk=", "aGk", "aGVsbG8=", "aGVsbG8h", "YQ==", "a", "a===", "YQ=", "Y Q==", "YQ==\n", "-_-_", "ab=c"],
}


def native(name: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft4Validator({"pattern": PATTERNS[name]}, pattern_options=jsonschema_rs.RegexOptions())


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_a_native_format_never_accepts_what_the_python_check_refuses(name: str) -> None:
    check = native(name)
    for text in SAMPLES[name]:
        python_accepts = format_error(name, text) is None
        if check.is_valid(text):
            assert python_accepts, f"{name}: native accepts {text!r}, formats.py refuses it"


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_a_native_format_accepts_the_plain_ascii_forms_python_accepts(name: str) -> None:
    """Stricter only where the text is unusual: every plain form formats.py accepts passes natively (no slow path)."""
    check = native(name)
    odd = ("_", "\u0663", "\u0662", "\n", "{", "+") + (() if name in ("email", "uri") else (" ",))
    for text in SAMPLES[name]:
        if format_error(name, text) is None and not any(c in text for c in odd):
            assert check.is_valid(text), f"{name}: native refuses {text!r}, which formats.py accepts"


def test_every_calendar_day_and_its_neighbours_get_the_python_verdict_natively() -> None:
    """Every YYYY-MM-DD with month 00-13 and day 00-32, in years that test every leap rule (and year 0)."""
    check_date, check_time = native("date"), native("date-time")
    years = [0, 1, 3, 4, 100, 200, 300, 400, 1600, 1700, 1800, 1900, 1996, 2000, 2023, 2024, 2100, 2400, 9996, 9999]
    for year, month, day in itertools.product(years, range(14), range(33)):
        text = f"{year:04d}-{month:02d}-{day:02d}"
        assert check_date.is_valid(text) == (format_error("date", text) is None), text
        stamp = text + "T12:30:45Z"
        assert check_time.is_valid(stamp) == (format_error("date-time", stamp) is None), stamp


def test_every_day_of_four_centuries_is_a_date_natively() -> None:
    check = native("date")
    day, end = date(1801, 1, 1), date(2201, 1, 1)
    while day < end:
        assert check.is_valid(day.isoformat()), day
        day += timedelta(days=1)


def test_every_time_of_day_boundary_gets_the_python_verdict_natively() -> None:
    check = native("date-time")
    for hour, minute, second in itertools.product(range(26), (0, 59, 60, 61), (0, 59, 60, 61)):
        text = f"2024-06-30T{hour:02d}:{minute:02d}:{second:02d}+02:00"
        assert check.is_valid(text) == (format_error("date-time", text) is None), text


def test_formats_in_the_positive_part_compile_to_native_patterns_and_under_not_to_the_python_check() -> None:
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"},
                                               "not_mail": {"not": {"type": "string", "format": "email"}},
                                               "code": {"type": "string", "format": "uuid", "pattern": "^[0-9a-f-]+$"}}}
    document = compiled_schema.translate(schema, False, "response")
    found = dict(words(document))
    assert "gw-date-time" not in found["format"] and PATTERNS["date-time"] in found["pattern"]
    assert "gw-email" in found["format"]  # under `not`, a stricter check would accept too much
    assert PATTERNS["uuid"] in found["pattern"] and "^[0-9a-f-]+$" in found["pattern"]  # both patterns hold
    assert compiled_schema.compile_translated(document, False) is not None


def words(node: Any) -> Iterator[tuple[str, list[Any]]]:
    """Every value of `format` and of `pattern` in a translated document."""
    found: dict[str, list[Any]] = {"format": [], "pattern": []}
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in found and isinstance(value, str):
                    found[key].append(value)
                else:
                    pending.append(value)
        elif isinstance(item, list):
            pending.extend(item)
    yield from found.items()


@pytest.mark.parametrize("openapi31", [False, True])
def test_the_judge_verdict_on_formatted_strings_is_the_rules_verdict(openapi31: bool) -> None:
    """Through the judge: native patterns where they accept, the rules (and their messages) where they refuse."""
    schema = {"type": "object", "properties": {name: {"type": "string", "format": name} for name in PATTERNS}}
    checker = compile_schema(schema, openapi31, "response")
    for name, texts in SAMPLES.items():
        for text in texts:
            value = {name: text}
            assert checker.is_valid(value) == (not checker.rule_errors(value)), (name, text)
            assert [e.message for e in checker.iter_errors(value)] == [e.message for e in checker.rule_errors(value)]
