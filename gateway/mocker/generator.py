"""Make a value that satisfies a JSON schema: realistic where the schema says what a value is
(formats, enums, bounds), deterministic for a given seed, bounded on circular schemas."""

from __future__ import annotations

import base64
import random
import re
import string
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_DEPTH = 6

_WORDS = ("alpha", "bravo", "delta", "echo", "harbor", "lumen", "nova", "orbit", "pixel", "quartz", "river", "sierra")
_FORMATS = {
    "email": lambda r: f"{r.choice(_WORDS)}.{r.choice(_WORDS)}@example.com",
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "uri": lambda r: f"https://example.com/{r.choice(_WORDS)}",
    "url": lambda r: f"https://example.com/{r.choice(_WORDS)}",
    "uri-reference": lambda r: f"/{r.choice(_WORDS)}",
    "hostname": lambda r: f"{r.choice(_WORDS)}.example.com",
    "ipv4": lambda r: f"192.0.2.{r.randint(1, 254)}",
    "ipv6": lambda r: f"2001:db8::{r.randint(1, 0xffff):x}",
    "date": lambda r: (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=r.randint(0, 700))).date().isoformat(),
    "date-time": lambda r: (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=r.randint(0, 6 * 10**7)))
    .isoformat().replace("+00:00", "Z"),
    "time": lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z",
    "byte": lambda r: base64.b64encode(bytes(r.getrandbits(8) for _ in range(6))).decode(),
    "binary": lambda r: "".join(r.choice(string.ascii_letters) for _ in range(8)),
    "password": lambda r: "********",
}


def generate(schema: Any, seed: str | int = 0, *, response: bool = True) -> Any:
    """A value valid against `schema` (resolved, possibly cyclic). `response` drops writeOnly."""
    return _Generator(random.Random(str(seed)), response).value(schema, 0, "")


class _Generator:
    def __init__(self, rng: random.Random, response: bool) -> None:
        self.rng = rng
        self.response = response

    def value(self, schema: Any, depth: int, name: str) -> Any:
        if not isinstance(schema, dict):
            return None if schema is False else {}
        schema = _merge_all_of(schema)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        for key in ("oneOf", "anyOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                merged = {**{k: v for k, v in schema.items() if k != key}, **_merge_all_of(options[0])}
                return self.value(merged, depth, name)
        kind = _type_of(schema)
        if kind == "null":
            return None
        if depth > MAX_DEPTH and kind in ("object", "array") and _nullable(schema):
            return None
        return getattr(self, f"_{kind}")(schema, depth, name)

    def _object(self, schema: dict[str, Any], depth: int, _name: str) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        result: dict[str, Any] = {}
        for key, sub in properties.items():
            if not isinstance(sub, dict):
                continue
            if self.response and sub.get("writeOnly") and key not in required:
                continue
            if not self.response and sub.get("readOnly") and key not in required:
                continue
            if key not in required and depth >= MAX_DEPTH:
                continue
            result[key] = self.value(sub, depth + 1, key)
        minimum = schema.get("minProperties", 0)
        extra = schema.get("additionalProperties")
        index = 0
        while len(result) < minimum:
            result[f"key{index}"] = self.value(extra if isinstance(extra, dict) else {"type": "string"}, depth + 1, "")
            index += 1
        return result

    def _array(self, schema: dict[str, Any], depth: int, name: str) -> list[Any]:
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        low = int(schema.get("minItems", 0))
        high = schema.get("maxItems")
        count = max(low, 0 if depth >= MAX_DEPTH else 1)
        if high is not None:
            count = min(count, int(high))
        values = [self.value(items, depth + 1, name) for _ in range(count)]
        if schema.get("uniqueItems") and len({repr(v) for v in values}) < len(values):
            values = values[:1]
        return values

    def _string(self, schema: dict[str, Any], _depth: int, name: str) -> str:
        fmt = schema.get("format")
        if fmt in _FORMATS:
            text = _FORMATS[fmt](self.rng)
        elif "pattern" in schema:
            text = _from_pattern(schema["pattern"], self.rng)
        else:
            text = self._word_for(name)
        low = int(schema.get("minLength", 0))
        high = schema.get("maxLength")
        if len(text) < low:
            text = text + "x" * (low - len(text))
        if high is not None and len(text) > int(high):
            text = text[: int(high)]
        return text

    def _word_for(self, name: str) -> str:
        lowered = name.lower()
        if "name" in lowered:
            return self.rng.choice(("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra"))
        if lowered in ("id",) or lowered.endswith("_id") or lowered.endswith("id"):
            return f"{lowered.rstrip('_id') or 'id'}-{self.rng.randint(100, 999)}"
        return self.rng.choice(_WORDS)

    def _integer(self, schema: dict[str, Any], _depth: int, _name: str) -> int:
        low, high = _bounds(schema, integer=True)
        value = self.rng.randint(low, high)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            value = (value // step) * step
            if value < low:
                value += step
        return value

    def _number(self, schema: dict[str, Any], _depth: int, _name: str) -> float | int:
        step = schema.get("multipleOf")
        if step:
            low, high = _bounds(schema, integer=False)
            multiple = int(-(-low // step))
            return multiple * step
        low, high = _bounds(schema, integer=False)
        return round(self.rng.uniform(low, high), 2) if high - low > 0.02 else low

    def _boolean(self, _schema: dict[str, Any], _depth: int, _name: str) -> bool:
        return self.rng.random() < 0.5


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        concrete = [k for k in kind if k != "null"]
        kind = concrete[0] if concrete else "null"
    if kind in ("object", "array", "string", "integer", "number", "boolean", "null"):
        return kind
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _nullable(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return bool(schema.get("nullable")) or (isinstance(kind, list) and "null" in kind)


def _merge_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    parts = schema.get("allOf")
    if not isinstance(parts, list):
        return schema
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for part in parts:
        part = _merge_all_of(part) if isinstance(part, dict) else {}
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = sorted(set(merged.get("required", [])) | set(value))
            else:
                merged.setdefault(key, value)
    return merged


def _bounds(schema: dict[str, Any], integer: bool) -> tuple[Any, Any]:
    low = schema.get("minimum")
    high = schema.get("maximum")
    exclusive_low = schema.get("exclusiveMinimum")
    exclusive_high = schema.get("exclusiveMaximum")
    nudge = 1 if integer else 0.01
    if isinstance(exclusive_low, (int, float)) and not isinstance(exclusive_low, bool):
        low = exclusive_low + nudge
    elif exclusive_low is True and low is not None:
        low = low + nudge
    if isinstance(exclusive_high, (int, float)) and not isinstance(exclusive_high, bool):
        high = exclusive_high - nudge
    elif exclusive_high is True and high is not None:
        high = high - nudge
    if low is None and high is None:
        low, high = 1, 100
    elif low is None:
        low = min(1, high) if high >= 1 else high - 100
    elif high is None:
        high = low + 100
    if integer:
        import math
        low, high = math.ceil(low), math.floor(high)
    return low, high


_CLASS = {"d": string.digits, "w": string.ascii_letters + string.digits + "_", "s": " "}


def _from_pattern(pattern: str, rng: random.Random) -> str:
    """A string matching simple regexes (literals, classes, quantifiers); checked, else a plain word."""
    try:
        text = _PatternWalker(pattern, rng).run()
        if re.search(pattern, text):
            return text
    except (IndexError, ValueError, re.error):
        pass
    return rng.choice(_WORDS)


class _PatternWalker:
    def __init__(self, pattern: str, rng: random.Random) -> None:
        self.p = pattern
        self.i = 0
        self.rng = rng

    def run(self) -> str:
        out = []
        if self.p.startswith("^"):
            self.i = 1
        while self.i < len(self.p):
            char = self.p[self.i]
            if char == "$" and self.i == len(self.p) - 1:
                break
            choices = self._atom()
            low, high = self._quantifier()
            count = low if high == low else min(high, low + 2) if low > 0 else max(1, min(high, 3))
            out.extend(self.rng.choice(choices) for _ in range(count))
        return "".join(out)

    def _atom(self) -> str:
        char = self.p[self.i]
        if char == "[":
            end = self.p.index("]", self.i + 1)
            body = self.p[self.i + 1 : end]
            self.i = end + 1
            if body.startswith("^"):
                return "".join(c for c in string.ascii_letters if c not in body)
            return _expand_class(body)
        if char == "\\":
            code = self.p[self.i + 1]
            self.i += 2
            return _CLASS.get(code, code)
        if char == "(" or char == "|" or char == ")":
            raise ValueError("groups are left to the fallback")
        self.i += 1
        return string.ascii_lowercase if char == "." else char

    def _quantifier(self) -> tuple[int, int]:
        if self.i >= len(self.p):
            return 1, 1
        char = self.p[self.i]
        if char == "{":
            end = self.p.index("}", self.i)
            low, _, high = self.p[self.i + 1 : end].partition(",")
            self.i = end + 1
            lo = int(low)
            return lo, (int(high) if high else lo) if _ or high else lo
        if char in "*+?":
            self.i += 1
            return {"*": (0, 3), "+": (1, 3), "?": (0, 1)}[char]
        return 1, 1


def _expand_class(body: str) -> str:
    chars = []
    index = 0
    while index < len(body):
        if body[index] == "\\" and index + 1 < len(body):
            chars.append(_CLASS.get(body[index + 1], body[index + 1]))
            index += 2
        elif index + 2 < len(body) and body[index + 1] == "-":
            chars.append("".join(chr(c) for c in range(ord(body[index]), ord(body[index + 2]) + 1)))
            index += 3
        else:
            chars.append(body[index])
            index += 1
    return "".join(chars)
