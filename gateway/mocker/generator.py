"""Make a value that satisfies a JSON schema (OpenAPI 3.0 or 3.1 flavour).

Realistic where the schema says what a value is (examples, formats, enums, bounds, patterns,
property names), deterministic for a given seed, bounded on circular schemas without dropping
required fields. `attempt` varies the choices (oneOf/anyOf branch, whether to reuse examples),
so a caller that validates the result can ask again for a different candidate.

Why our own and not hypothesis-jsonschema: it needs `$ref`-shaped (acyclic) schemas, its data
looks random rather than realistic, and drawing from it per request costs milliseconds.
"""

from __future__ import annotations

import base64
import copy
import math
import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from ..contract.formats import INT_RANGES
from ..contract.judge import accepts, checker_factory
from ..spec.slips import LITERAL_MARK
from .regex import matching_string

OPTIONAL_DEPTH = 3  # below this depth only required properties and minimum array lengths are filled
HARD_DEPTH = 12  # a schema that requires itself forever stops here

_WORDS = ("alpha", "bravo", "delta", "echo", "harbor", "lumen", "nova", "orbit", "pixel", "quartz", "river", "sierra")
_PEOPLE = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth")
_CITIES = ("Lisbon", "Utrecht", "Kyoto", "Montreal", "Nairobi", "Valparaiso")


def _date_time(r: random.Random) -> str:
    moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=r.randint(0, 6 * 10**7))
    return moment.isoformat().replace("+00:00", "Z")


FORMATS = {
    "email": lambda r: f"{r.choice(_WORDS)}.{r.choice(_WORDS)}@example.com",
    "idn-email": lambda r: f"{r.choice(_WORDS)}@example.com",
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "uri": lambda r: f"https://example.com/{r.choice(_WORDS)}",
    "url": lambda r: f"https://example.com/{r.choice(_WORDS)}",
    "iri": lambda r: f"https://example.com/{r.choice(_WORDS)}",
    "uri-reference": lambda r: f"/{r.choice(_WORDS)}",
    "iri-reference": lambda r: f"/{r.choice(_WORDS)}",
    "uri-template": lambda r: "https://example.com/{id}",
    "hostname": lambda r: f"{r.choice(_WORDS)}.example.com",
    "idn-hostname": lambda r: f"{r.choice(_WORDS)}.example.com",
    "ipv4": lambda r: f"192.0.2.{r.randint(1, 254)}",
    "ipv6": lambda r: f"2001:db8::{r.randint(1, 0xFFFF):x}",
    "date": lambda r: (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=r.randint(0, 700))).date().isoformat(),
    "date-time": _date_time,
    "time": lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z",
    "duration": lambda r: f"PT{r.randint(1, 59)}M",
    "byte": lambda r: base64.b64encode(bytes(r.getrandbits(8) for _ in range(6))).decode(),
    "binary": lambda r: "".join(r.choice(string.ascii_letters) for _ in range(8)),
    "password": lambda r: "".join(r.choice(string.ascii_letters + string.digits) for _ in range(12)),
    "json-pointer": lambda r: f"/{r.choice(_WORDS)}",
    "relative-json-pointer": lambda r: "0",
    "regex": lambda r: "^[a-z]+$",
    "int32": lambda r: str(r.randint(1, 1000)),
    "int64": lambda r: str(r.randint(1, 1000)),
    # The rest of the OpenAPI Format Registry, as a client's parser for each reads it.
    "int8": lambda r: str(r.randint(1, 127)),
    "int16": lambda r: str(r.randint(1, 1000)),
    "uint8": lambda r: str(r.randint(1, 255)),
    "double-int": lambda r: str(r.randint(1, 10**6)),
    "decimal": lambda r: f"{r.randint(1, 999)}.{r.randint(0, 99):02d}",
    "decimal128": lambda r: f"{r.randint(1, 999)}.{r.randint(0, 99):02d}",
    "float": lambda r: f"{r.randint(1, 999)}.{r.randint(1, 9)}",
    "double": lambda r: f"{r.randint(1, 999)}.{r.randint(1, 99)}",
    "char": lambda r: r.choice(string.ascii_letters),
    "base64url": lambda r: base64.urlsafe_b64encode(bytes(r.getrandbits(8) for _ in range(6))).decode(),
    "commonmark": lambda r: f"**{r.choice(_WORDS).capitalize()}** and _{r.choice(_WORDS)}_.",
    "html": lambda r: f"<p>{r.choice(_WORDS).capitalize()} <b>{r.choice(_WORDS)}</b></p>",
    "http-date": lambda r: format_datetime(datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=r.randint(0, 6 * 10**7)),
                                           usegmt=True),
    "media-range": lambda r: r.choice(("application/json", "text/plain", "text/*", "*/*")),
    "sf-binary": lambda r: ":" + base64.b64encode(bytes(r.getrandbits(8) for _ in range(6))).decode() + ":",
    "sf-boolean": lambda r: r.choice(("?0", "?1")),
    "sf-decimal": lambda r: f"{r.randint(1, 999)}.{r.randint(1, 9)}",
    "sf-integer": lambda r: str(r.randint(1, 1000)),
    "sf-string": lambda r: f'"{r.choice(_WORDS)}"',
    "sf-token": lambda r: r.choice(_WORDS),
}
LIST_URL_NAMES = ("url", "href", "path")  # in a list object ({object: "list", url, data: [...]}) these are its path


@dataclass
class Options:
    response: bool = True  # leave out writeOnly (responses) or readOnly (requests) properties
    names: dict[int, str] = field(default_factory=dict)  # id(schema) -> component name, for discriminators
    attempt: int = 0
    use_examples: bool = True
    validator: Any = field(default_factory=lambda: checker_factory(True))  # schema -> judge, for oneOf branches
    null_when_allowed: bool = False  # a last resort: null wherever the schema allows it
    minimal: bool = False  # a last resort: required properties only, arrays as short as allowed
    path: str = ""  # the request's path below the base: a list object's `url`


_CHECKERS: dict[tuple[int, Any], tuple[Any, Any]] = {}


def _checker(schema: dict[str, Any], validator: Any) -> Any:
    """A compiled validator per schema, kept with the schema so its id stays its own."""
    key = (id(schema), validator)
    if key not in _CHECKERS:
        _CHECKERS[key] = (schema, validator(schema))
    return _CHECKERS[key][1]



def generate(schema: Any, seed: str | int = 0, options: Options | None = None) -> Any:
    """A value meant to be valid against `schema` (resolved, possibly cyclic)."""
    options = options or Options()
    return _Generator(random.Random(f"{seed}:{options.attempt}"), options).value(schema, 0, "")


class _Generator:
    def __init__(self, rng: random.Random, options: Options) -> None:
        self.rng = rng
        self.options = options

    def value(self, schema: Any, depth: int, name: str) -> Any:
        if schema is True or schema is None:
            return self.rng.choice(_WORDS)
        if not isinstance(schema, dict):
            return None
        plan = _plan(schema)
        schema = plan.schema
        options = self.options
        if options.null_when_allowed and depth > 0 and plan.nullable:
            return None
        if options.use_examples and plan.example is not None:
            return _copy(plan.example[0])
        if plan.const is not None:
            return _copy(plan.const[0])
        if plan.enum is not None:
            return _copy(self.rng.choice(plan.enum))
        if plan.choice is not None:
            return self._choice(schema, plan.choice, depth, name)
        kind = plan.kind
        if kind == "null":
            return None
        if depth >= HARD_DEPTH and kind in ("object", "array"):
            return None if plan.nullable else ({} if kind == "object" else [])
        return plan.make(self, schema, depth, name)

    def _choice(self, schema: dict[str, Any], key: str, depth: int, name: str) -> Any:
        options = [merge_all_of(o) if isinstance(o, dict) else o for o in schema[key]]
        rest = {k: v for k, v in schema.items() if k not in (key, "discriminator", "example", "examples")}
        mapped = self._discriminated(schema)
        if mapped is not None:
            tag, index = mapped
        else:  # the first branch first; a caller that found it invalid asks again with the next
            tag, index = None, self.options.attempt % len(options)
        branch = options[index]
        combined = merge_all_of({"allOf": [rest, branch]}) if rest and isinstance(branch, dict) else branch
        value = self.value(combined, depth, name)
        if tag is not None and isinstance(value, dict):
            value[tag[0]] = _tag_value(combined, tag)
        elif key == "oneOf" and len(options) > 1:
            value = self._only_one(schema[key], index, combined, value, depth, name)
        return value

    def _only_one(self, branches: list[Any], index: int, combined: Any, value: Any, depth: int, name: str) -> Any:
        """oneOf means exactly one: draw again from the same branch until no other branch accepts it."""
        others = [_checker(b, self.options.validator) for i, b in enumerate(branches) if i != index and isinstance(b, dict)]
        for _ in range(8):
            if not any(accepts(other, value) for other in others):
                return value
            value = self.value(combined, depth, name)
        return value

    def _discriminated(self, schema: dict[str, Any]) -> tuple[tuple[str, str], int] | None:
        """The branch a discriminator names, and the tag value to put in the property."""
        discriminator = schema.get("discriminator")
        if not isinstance(discriminator, dict) or "propertyName" not in discriminator:
            return None
        prop = discriminator["propertyName"]
        by_name = {}
        for index, option in enumerate(schema.get("oneOf") or schema.get("anyOf") or []):
            name = self.options.names.get(id(option))
            if name:
                by_name[name] = index
        mapping = discriminator.get("mapping") or {}
        choices: list[tuple[str, int]] = []
        for value, ref in mapping.items():
            target = str(ref).rsplit("/", 1)[-1]
            if target in by_name:
                choices.append((value, by_name[target]))
        choices += [(name, index) for name, index in by_name.items() if name not in {v for v, _ in choices}
                    and not any(i == index for _, i in choices)]
        if not choices:
            return None
        value, index = choices[self.options.attempt % len(choices)]
        return (prop, value), index

    def _object(self, schema: dict[str, Any], depth: int, _name: str) -> dict[str, Any]:
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required, listing = _plan(schema).object_facts()
        result: dict[str, Any] = {}
        for key, sub in properties.items():
            if not isinstance(sub, (dict, bool)) or sub is False:
                continue
            hidden = isinstance(sub, dict) and sub.get("writeOnly" if self.options.response else "readOnly")
            if hidden:
                continue
            if key not in required and (depth >= OPTIONAL_DEPTH or self.options.minimal):
                continue
            if key not in required and self.options.response and holds_literal_pattern(sub):
                continue  # a client judging by the spec as written can match no value here (spec_slips)
            if listing and key in LIST_URL_NAMES and _plain_string(sub):
                result[key] = self.options.path or f"/v1/{self.rng.choice(_WORDS)}s"
                continue
            result[key] = self.value(sub, depth + 1, key)
        for key in required:  # required but not described: any value the rest of the schema allows
            if key not in result and key not in properties:
                extra = schema.get("additionalProperties")
                result[key] = self.value(extra if isinstance(extra, dict) else {"type": "string"}, depth + 1, key)
        self._fill_to_minimum(schema, result, depth)
        maximum = schema.get("maxProperties")
        if isinstance(maximum, int):
            for key in [k for k in result if k not in required][::-1]:
                if len(result) <= maximum:
                    break
                del result[key]
        return result

    def _fill_to_minimum(self, schema: dict[str, Any], result: dict[str, Any], depth: int) -> None:
        extra = schema.get("additionalProperties")
        patterns = schema.get("patternProperties") if isinstance(schema.get("patternProperties"), dict) else {}
        minimum = schema.get("minProperties", 0) or 0
        wants_one = not result and depth < OPTIONAL_DEPTH and (isinstance(extra, dict) or patterns)
        index = 0
        while len(result) < minimum or wants_one:
            wants_one = False
            if patterns:
                pattern, sub = next(iter(patterns.items()))
                key = matching_string(pattern, self.rng) or f"key{index}"
            else:
                key, sub = f"key{index}", extra if isinstance(extra, dict) else {"type": "string"}
            if extra is False and not patterns:
                break
            result[key] = self.value(sub, depth + 1, key)
            index += 1
            if index > 50:
                break

    def _array(self, schema: dict[str, Any], depth: int, name: str) -> list[Any]:
        prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        items = schema.get("items")
        if isinstance(items, list):  # draft-4 tuple form
            prefix, items = items, schema.get("additionalItems", {})
        low = int(schema.get("minItems", 0) or 0)
        high = schema.get("maxItems")
        count = max(low, len(prefix), 1 if depth < OPTIONAL_DEPTH and not self.options.minimal else 0)
        if isinstance(high, int):
            count = min(count, high)
        values = [self.value(prefix[i] if i < len(prefix) else items, depth + 1, name) for i in range(count)]
        if schema.get("uniqueItems"):
            values = self._unique(values, prefix, items, depth, name, low)
        return values

    def _unique(self, values: list[Any], prefix: list[Any], items: Any, depth: int, name: str, low: int) -> list[Any]:
        seen: list[Any] = []
        for index, value in enumerate(values):
            tries = 0
            while value in seen and tries < 20:
                value = self.value(prefix[index] if index < len(prefix) else items, depth + 1, f"{name}{tries}")
                tries += 1
            if value not in seen:
                seen.append(value)
        return seen if len(seen) >= low else values

    def _string(self, schema: dict[str, Any], _depth: int, name: str) -> str:
        low = int(schema.get("minLength", 0) or 0)
        high = schema.get("maxLength")
        high = int(high) if isinstance(high, (int, float)) else None
        fmt = schema.get("format")
        pattern = schema.get("pattern")
        text = None
        if isinstance(pattern, str):
            text = matching_string(pattern, self.rng, low, high)
        if text is None and fmt in FORMATS:
            text = FORMATS[fmt](self.rng)
        if text is None:
            text = self._word_for(name)
        if len(text) < low:
            text += "".join(self.rng.choice(string.ascii_lowercase) for _ in range(low - len(text)))
        if high is not None and len(text) > high:
            text = text[:high]
        return text

    def _word_for(self, name: str) -> str:
        lowered = name.lower()
        if lowered in ("email", "mail") or lowered.endswith("_email"):
            return FORMATS["email"](self.rng)
        if "name" in lowered:
            return self.rng.choice(_PEOPLE)
        if lowered in ("city", "town"):
            return self.rng.choice(_CITIES)
        if lowered in ("url", "href", "link", "website") or lowered.endswith("_url"):
            return FORMATS["uri"](self.rng)
        if lowered == "id" or lowered.endswith("_id") or lowered.endswith("id"):
            stem = lowered[:-3] if lowered.endswith("_id") else "id"
            return f"{stem or 'id'}-{self.rng.randint(100, 999)}"
        if "description" in lowered or lowered in ("text", "message", "comment", "note", "summary"):
            return f"{self.rng.choice(_WORDS).capitalize()} {self.rng.choice(_WORDS)} {self.rng.choice(_WORDS)}."
        return self.rng.choice(_WORDS)

    def _multiple(self, low: float, high: float, step: float) -> float | int:
        """A multiple of `step` inside [low, high] (the lowest one when the range holds none)."""
        first = math.ceil(low / step)
        multiple = self.rng.randint(first, max(first, math.floor(high / step)))
        value = round(multiple * step, 10)
        return int(value) if float(value).is_integer() else value

    def _integer(self, schema: dict[str, Any], _depth: int, _name: str) -> int:
        low, high = bounds(schema, integer=True)
        if schema.get("format") in INT_RANGES:  # int8, uint8, int32...: inside the format's range too
            least, most = INT_RANGES[schema["format"]]
            low, high = max(low, least), min(high, most)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            value = self._multiple(low, high, step)
            return value if isinstance(value, int) else low
        return self.rng.randint(low, max(low, high))

    def _number(self, schema: dict[str, Any], _depth: int, _name: str) -> float | int:
        low, high = bounds(schema, integer=False)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            return self._multiple(low, high, step)
        if high - low <= 0.02:
            return low
        value = round(self.rng.uniform(low, high), 2)
        return min(max(value, low), high)

    def _boolean(self, _schema: dict[str, Any], _depth: int, _name: str) -> bool:
        return self.rng.random() < 0.5


def _list_object(properties: dict[str, Any]) -> bool:
    """A paginated list in Stripe's shape: a `data` array beside `object`/`has_more`/`url`."""
    data = properties.get("data")
    return isinstance(data, dict) and type_of(merge_all_of(data)) == "array" and \
        any(k in properties for k in ("object", "has_more", "total_count")) and any(k in properties for k in LIST_URL_NAMES)


def _plain_string(schema: Any) -> bool:
    """A string property with nothing that says what its text looks like (no format, pattern, enum, example)."""
    if not isinstance(schema, dict):
        return False
    schema = merge_all_of(schema)
    return type_of(schema) == "string" and not any(k in schema for k in ("format", "pattern", "enum", "const", "example",
                                                                             "examples"))


_JSON_TYPES = {"string": str, "boolean": bool, "object": dict, "array": list, "null": type(None)}


def fits(value: Any, schema: dict[str, Any]) -> bool:
    """A cheap check of an enum value against the schema's own type and bounds (an allOf of an enum and
    a type or range), so the generator picks from the values every part allows."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds] if isinstance(kinds, str) else []
    if value is None:
        return not kinds or "null" in kinds or bool(schema.get("nullable"))
    if kinds and not any(_is_type(value, kind) for kind in kinds):
        return False
    if _numeric(value):
        low, high = schema.get("minimum"), schema.get("maximum")
        return not ((_numeric(low) and value < low) or (_numeric(high) and value > high))
    return not isinstance(value, str) or (schema.get("minLength") or 0) <= len(value) <= schema.get("maxLength", len(value))


def _is_type(value: Any, kind: str) -> bool:
    if kind in ("integer", "number"):
        return _numeric(value) and (kind == "number" or float(value).is_integer())
    expected = _JSON_TYPES.get(kind)
    return expected is not None and isinstance(value, expected) and (kind == "boolean" or not isinstance(value, bool))


def _tag_value(branch: Any, tag: tuple[str, str]) -> Any:
    """The discriminator's value, unless the branch pins the property to other values (an enum or
    const, as published specs often do instead of naming the schema): then the branch wins."""
    prop = (branch.get("properties") or {}).get(tag[0]) if isinstance(branch, dict) else None
    if isinstance(prop, dict):
        prop = merge_all_of(prop)
        if "const" in prop:
            return prop["const"]
        enum = prop.get("enum")
        if isinstance(enum, list) and enum and tag[1] not in enum:
            return enum[0]
    return tag[1]


class _Plan:
    """What `value` works out about one schema before drawing anything, worked out once per schema: the
    allOf merge, nullability, example, const, the enum values that fit, a oneOf/anyOf to choose from,
    the kind and its maker. Draws stay per call, so a seed gives the same value as without the plan."""

    __slots__ = ("_object_facts", "choice", "const", "enum", "example", "kind", "make", "nullable", "schema")

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema = merge_all_of(schema)
        self.nullable = nullable(schema)
        found, example = schema_example(schema)
        self.example = (example,) if found else None
        self.const = (schema["const"],) if "const" in schema else None
        enum = schema.get("enum")
        self.enum: list[Any] | None = None
        if isinstance(enum, list) and enum:
            fitting = [v for v in enum if fits(v, schema)] or enum
            self.enum = [v for v in fitting if v is not None] or fitting
        self.choice = next((key for key in ("oneOf", "anyOf") if isinstance(schema.get(key), list) and schema[key]), None)
        self.kind = type_of(schema)
        self.make = getattr(_Generator, f"_{self.kind}", None)
        self._object_facts: tuple[list[str], bool] | None = None

    def object_facts(self) -> tuple[list[str], bool]:
        """An object schema's required names and whether it is a paginated list (`_list_object`)."""
        if self._object_facts is None:
            schema = self.schema
            properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
            required = [r for r in (schema.get("required") or []) if isinstance(r, str)]
            self._object_facts = (required, _list_object(properties))
        return self._object_facts


_PLANS: dict[int, tuple[dict[str, Any], _Plan]] = {}  # id(schema) -> (schema, plan): schemas are shared and stable
_ATOMIC = (str, int, float, bool, type(None))


def _plan(schema: dict[str, Any]) -> _Plan:
    known = _PLANS.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    plan = _Plan(schema)
    if len(_PLANS) > 65536:  # the combined schemas oneOf branches make are new each time: bounded
        _PLANS.clear()
    _PLANS[id(schema)] = (schema, plan)
    return plan


def _copy(value: Any) -> Any:
    """A value taken from the spec, copied so an answer built from it never changes the spec (text and
    numbers need no copy)."""
    return value if type(value) in _ATOMIC else copy.deepcopy(value)


def schema_example(schema: dict[str, Any]) -> tuple[bool, Any]:
    """The schema's own example: `example` (3.0) or the first of `examples` (3.1)."""
    if "example" in schema:
        return True, schema["example"]
    listed = schema.get("examples")
    if isinstance(listed, list) and listed:
        return True, listed[0]
    return False, None


def type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        concrete = [k for k in kind if k != "null"]
        kind = concrete[0] if concrete else "null"
    if kind in ("object", "array", "string", "integer", "number", "boolean", "null"):
        return kind
    if "properties" in schema or "additionalProperties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf", "exclusiveMinimum", "exclusiveMaximum")):
        return "number"
    return "string"


def nullable(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return bool(schema.get("nullable")) or (isinstance(kind, list) and "null" in kind)


def merge_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    """allOf folded into one schema: properties and required united, the tightest bounds kept."""
    parts = schema.get("allOf")
    if not isinstance(parts, list):
        return schema
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for part in parts:
        part = merge_all_of(part) if isinstance(part, dict) else {}
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            elif key in ("minimum", "minLength", "minItems", "minProperties") and key in merged:
                merged[key] = max(merged[key], value)
            elif key in ("maximum", "maxLength", "maxItems", "maxProperties") and key in merged:
                merged[key] = min(merged[key], value)
            elif key == "type" and "type" in merged and merged["type"] != value:
                merged["type"] = _common_type(merged["type"], value)
            elif key == "enum" and isinstance(value, list) and isinstance(merged.get("enum"), list):
                merged["enum"] = [v for v in merged["enum"] if v in value]  # every part's enum allows it
            elif key in ("exclusiveMinimum", "exclusiveMaximum") and key in merged and _numeric(value, merged[key]):
                merged[key] = max(merged[key], value) if key == "exclusiveMinimum" else min(merged[key], value)
            elif key == "multipleOf" and key in merged and _numeric(value, merged[key]):
                merged[key] = _common_multiple(merged[key], value)
            elif key in ("oneOf", "anyOf") and key in merged:
                merged.setdefault("allOf", []).append({key: value})
            else:
                merged.setdefault(key, value)
    if "allOf" in merged:
        return merge_all_of(merged)
    if "const" in merged and isinstance(merged.get("enum"), list):
        merged["enum"] = [v for v in merged["enum"] if v == merged["const"]]
    return merged


def _numeric(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _common_multiple(a: float, b: float) -> float:
    """The least number both steps divide (their product when they are not both whole)."""
    if float(a).is_integer() and float(b).is_integer():
        return math.lcm(int(a), int(b))
    return a if (a / b).is_integer() else b if (b / a).is_integer() else a * b


def _common_type(a: Any, b: Any) -> Any:
    left = set(a if isinstance(a, list) else [a])
    right = set(b if isinstance(b, list) else [b])
    if {"number", "integer"} <= left | right:  # every integer is a number
        left |= {"integer"} if "number" in left else set()
        right |= {"integer"} if "number" in right else set()
    common = sorted(left & right)
    return common[0] if len(common) == 1 else common or a


def bounds(schema: dict[str, Any], integer: bool) -> tuple[Any, Any]:
    """The inclusive range a number may take, with OpenAPI 3.0's boolean and 3.1's numeric exclusives."""
    low, high = schema.get("minimum"), schema.get("maximum")
    exclusive_low, exclusive_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    nudge = 1 if integer else 0.01
    if isinstance(exclusive_low, (int, float)) and not isinstance(exclusive_low, bool):
        low = exclusive_low + nudge if low is None else max(low, exclusive_low + nudge)
    elif exclusive_low is True and low is not None:
        low = low + nudge
    if isinstance(exclusive_high, (int, float)) and not isinstance(exclusive_high, bool):
        high = exclusive_high - nudge if high is None else min(high, exclusive_high - nudge)
    elif exclusive_high is True and high is not None:
        high = high - nudge
    if low is None and high is None:
        low, high = 1, 100 if integer else 100.0
    elif low is None:
        low = min(1, high) if high >= 1 else high - 100
    elif high is None:
        high = low + 100
    if integer:
        low, high = math.ceil(low), math.floor(high)
    return low, high


_LITERALS: dict[int, tuple[Any, bool]] = {}  # id(schema) -> (schema, verdict): schemas are shared and stable


def holds_literal_pattern(schema: Any, depth: int = 0) -> bool:
    """Whether every value of `schema` must match a pattern its spec writes as a JavaScript regex literal
    (spec_slips: read as the regex it denotes, but as written no string matches it): the schema itself,
    an allOf branch, every oneOf/anyOf branch, a required property or the items of a non-empty array."""
    if not isinstance(schema, dict) or depth > 8:
        return False
    known = _LITERALS.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    verdict = LITERAL_MARK in schema or any(holds_literal_pattern(b, depth + 1) for b in schema.get("allOf") or [])
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        verdict = verdict or (isinstance(options, list) and bool(options)
                              and all(holds_literal_pattern(b, depth + 1) for b in options))
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    verdict = verdict or any(holds_literal_pattern(properties.get(k), depth + 1) for k in schema.get("required") or []
                             if isinstance(k, str))
    verdict = verdict or (isinstance(schema.get("minItems"), int) and schema["minItems"] > 0
                          and holds_literal_pattern(schema.get("items"), depth + 1))
    if len(_LITERALS) > 65536:
        _LITERALS.clear()
    _LITERALS[id(schema)] = (schema, verdict)
    return verdict
