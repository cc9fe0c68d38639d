"""The judge's schemas compiled into jsonschema-rs validators: its fast path.

A schema is translated, once, into a plain JSON Schema that reads every keyword exactly as judge.py
does: OpenAPI 3.0 into Draft 4 (its `integer` refuses 1.0 and its `exclusiveMinimum` is a boolean,
as in 3.0; `nullable` becomes a `null` type, `readOnly`/`writeOnly` refuse by direction, `required`
leaves them out), 3.1 into 2020-12. The judge's own readings are spelled out: known `format`s call
formats.py (outside `not`/`if`, native_formats.py's stricter patterns run instead), `pattern`s run
natively when both engines read them alike (else ecma_regex is called),
a union's tagged branch (discriminator mapping, component names, pinned const/enum) becomes an
if/then/else on the tag, a plain `oneOf` is an `anyOf`. A schema refs point back into (cycles,
shared parts) is written once under `$defs` and referenced.

Where no exact translation is known (`$ref`s left unresolved, `type: file`, list-form `items`,
`unevaluatedProperties`, an unusual pattern beside `additionalProperties`...), `validator` gives
None and the Python judge alone decides. The compiled validator only ever says "valid": a value it
refuses is judged (and explained) by the Python judge, so the translation must never accept what
the Python judge refuses, and is written to be exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import jsonschema_rs

from . import ecma_regex, unions
from .formats import CHECKED, INT_RANGES, format_error
from .native_formats import PATTERNS as NATIVE_FORMATS

Schema = dict[str, Any]
_DRAFT4_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object"})
_TYPES_2020 = _DRAFT4_TYPES | {"null"}
_NEVER = {"not": {}}
_LENGTHS = ("maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties")
# keywords whose meaning depends on resolution the in-place resolved spec no longer has
_UNRESOLVABLE = ("$ref", "$dynamicRef", "$recursiveRef", "$id", "$anchor", "$dynamicAnchor", "$recursiveAnchor",
                 "$schema", "unevaluatedProperties", "unevaluatedItems")
_QUANTIFIER = re.compile(r"\{\d+(,\d*)?\}")
_ESCAPABLE = frozenset("\\.^$|?*+()[]{}/-")  # escapes both engines read as the literal character


class Untranslatable(Exception):
    """The schema uses a word whose judge.py reading has no exact translation."""


def portable_pattern(pattern: str) -> str | None:
    """`pattern` as jsonschema-rs's regex engine reads it the way ecma_regex does (`\\d` as [0-9], `$` as
    the very end), or None when it uses anything the engines might read apart (Unicode classes such as
    `\\w`, lookarounds, named groups, back-references, nested or set-operation classes, odd braces)."""
    out: list[str] = []
    i, in_class, after_quantifier = 0, False, False
    while i < len(pattern):
        ch = pattern[i]
        quantifier = False
        if ch == "\\":
            nxt = pattern[i + 1] if i + 1 < len(pattern) else ""
            if nxt == "d" and not in_class:
                out.append("[0-9]")
            elif nxt in ("n", "t", "r") or (nxt and nxt in _ESCAPABLE):
                out.append(ch + nxt)
            else:
                return None
            i += 2
            after_quantifier = False
            continue
        if in_class:
            if ch == "[" or pattern.startswith(("&&", "--", "~~"), i):
                return None
            in_class = ch != "]"
        elif ch == "[":
            if pattern.startswith(("[]", "[^]"), i):
                return None
            in_class = True
        elif ch == "(" and pattern.startswith("(?", i):
            return None
        elif ch == "{":
            found = _QUANTIFIER.match(pattern, i)
            if found is None or after_quantifier or i == 0:
                return None
            out.append(found.group())
            i = found.end()
            after_quantifier = True
            continue
        elif ch == "}":
            return None
        elif ch in "*+?":
            if after_quantifier and ch != "?":  # possessive `a*+`: one engine's word only
                return None
            quantifier = not after_quantifier
        out.append(ch)
        after_quantifier = quantifier
        i += 1
    return None if in_class else "".join(out)


class _EcmaPattern:
    """`pattern` read through ecma_regex where the native engine might read it otherwise."""

    def __init__(self, parent: Any, value: Any, path: Any) -> None:
        self.pattern = value

    def validate(self, instance: Any) -> None:
        if isinstance(instance, str) and not ecma_regex.search(self.pattern, instance):
            raise ValueError(f"{instance!r} does not match {self.pattern!r}")


class _MultipleOf:
    """`multipleOf` as jsonschema computes it (a float divisor by float division: 0.3 is no multiple of 0.1)."""

    def __init__(self, parent: Any, value: Any, path: Any) -> None:
        self.divisor = value

    def validate(self, instance: Any) -> None:
        if isinstance(instance, bool) or not isinstance(instance, (int, float)):
            return
        if isinstance(self.divisor, float):
            quotient = instance / self.divisor
            try:
                failed = int(quotient) != quotient
            except (OverflowError, ValueError):
                failed = (Fraction(instance) / Fraction(self.divisor)).denominator != 1
        else:
            failed = bool(instance % self.divisor)
        if failed:
            raise ValueError(f"{instance!r} is not a multiple of {self.divisor}")


def _format_check(name: str) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return format_error(name, value) is None
    return check


_FORMATS = {f"gw-{name}": _format_check(name) for name in CHECKED if name not in INT_RANGES}
_KEYWORDS = {"x-gw-pattern": _EcmaPattern, "x-gw-multipleOf": _MultipleOf}


class _Translator:
    """One schema's translation: `run` gives the document, shared and cyclic parts under `$defs`."""

    def __init__(self, openapi31: bool, direction: str, rules: Any) -> None:
        self.openapi31 = openapi31
        self.direction = direction
        self.rules = rules  # unions.py: the discriminator table and pinned-tag readers the rules read too
        self.defs_key = "$defs" if openapi31 else "definitions"
        self.seen: dict[int, int] = {}
        self.names: dict[tuple[int, str], str] = {}
        self.defs: dict[str, Any] = {}
        self.keep: list[Any] = []

    def run(self, schema: Any) -> dict[str, Any]:
        self._count(schema)
        root = self.node(schema, "pos")
        document = {"allOf": [root]}
        if self.defs:
            document[self.defs_key] = self.defs
        return document

    def _count(self, schema: Any) -> None:
        """How many places each schema object is reached from (a second place or a cycle makes it a def)."""
        pending = [schema]
        while pending:
            node = pending.pop()
            if not isinstance(node, dict):
                continue
            self.seen[id(node)] = self.seen.get(id(node), 0) + 1
            if self.seen[id(node)] == 1:
                self.keep.append(node)
                pending.extend(_subschemas(node))

    def node(self, schema: Any, mode: str) -> Any:
        """A subschema in `mode`: "pos" (may be stricter), "neg" (under `not`) or "exact" (`if`, tag tests)."""
        if schema is True or schema is False:
            return ({} if schema else dict(_NEVER)) if not self.openapi31 else schema
        if not isinstance(schema, dict):
            raise Untranslatable("a subschema that is not an object")
        if self.seen.get(id(schema), 0) < 2:
            return self._translate(schema, mode)
        key = (id(schema), mode)
        name = self.names.get(key)
        if name is None:
            name = self.names[key] = f"n{len(self.names)}"
            self.defs[name] = {}
            self.defs[name] = self._translate(schema, mode)
        return {"$ref": f"#/{self.defs_key}/{name}"}

    def _translate(self, s: dict[str, Any], mode: str) -> dict[str, Any]:
        for word in _UNRESOLVABLE:
            if word in s:
                raise Untranslatable(word)
        if not self.openapi31 and "id" in s and not isinstance(s["id"], str):
            raise Untranslatable("id")
        out: dict[str, Any] = {}
        also: list[Any] = []
        for word, value in s.items():
            handler = _HANDLERS_31.get(word) if self.openapi31 else _HANDLERS_30.get(word)
            if handler is not None:
                handler(self, s, word, value, mode, out, also)
        if also:
            out.setdefault("allOf", []).extend(also)
        return out

    # --- keywords both dialects read the judge's way ---

    def type_30(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if not isinstance(value, str) or value not in _DRAFT4_TYPES:
            raise Untranslatable("type")
        out["type"] = [value, "null"] if s.get("nullable") is True else value

    def type_31(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        names = value if isinstance(value, list) else [value]
        if not names or not all(isinstance(t, str) and t in _TYPES_2020 for t in names):
            raise Untranslatable("type")
        out["type"] = value

    def enum(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if not isinstance(value, list) or not value:
            raise Untranslatable("enum")
        out["enum"] = value

    def copy(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        out[word] = value

    def number(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Untranslatable(word)
        out[word] = value

    def limit_30(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        """3.0's `minimum`/`maximum`, made exclusive by a truthy `exclusiveMinimum`/`exclusiveMaximum` beside."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Untranslatable(word)
        out[word] = value
        exclusive = "exclusiveMinimum" if word == "minimum" else "exclusiveMaximum"
        if s.get(exclusive, False):
            out[exclusive] = True

    def length(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Untranslatable(word)
        out[word] = value

    def unique(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if not isinstance(value, bool):
            raise Untranslatable("uniqueItems")
        if value:
            out["uniqueItems"] = True

    def multiple_of(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise Untranslatable("multipleOf")
        out["x-gw-multipleOf"] = value

    def required(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise Untranslatable("required")
        kept = [name for name in value if not self._exempt(s, name)]
        if kept:
            out["required"] = kept

    def _exempt(self, s: dict[str, Any], name: str) -> bool:
        """3.0 leaves readOnly properties out of a request's `required`, writeOnly out of a response's,
        and both out of a parameter's (openapi-schema-validator's readings)."""
        if self.openapi31:
            return False
        properties = s.get("properties", {})
        if not isinstance(properties, dict):
            raise Untranslatable("required beside properties that are not an object")
        found = properties.get(name)
        if not found:
            return False
        if not isinstance(found, dict):
            raise Untranslatable("required property whose schema is not an object")
        read_only, write_only = found.get("readOnly", False), found.get("writeOnly", False)
        if self.direction == "request":
            return bool(read_only)
        if self.direction == "response":
            return bool(write_only)
        return bool(read_only or write_only)

    def direction_only(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        """3.0's readOnly in a request, writeOnly in a response: the property may not be sent."""
        if value and self.direction == {"readOnly": "request", "writeOnly": "response"}[word]:
            also.append(dict(_NEVER))

    def format(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if not isinstance(value, str) or value not in CHECKED:
            return
        if value in NATIVE_FORMATS and mode == "pos":  # a stricter native pattern: what it refuses, the rules judge
            if "pattern" in s:
                also.append({"pattern": NATIVE_FORMATS[value]})
            else:
                out["pattern"] = NATIVE_FORMATS[value]
            return
        if value not in INT_RANGES:
            out["format"] = f"gw-{value}"
            return
        if self.openapi31 and mode != "pos":  # 2020-12's integer includes 2.0, which formats.py leaves unchecked
            raise Untranslatable("an integer format under not")
        low, high = INT_RANGES[value]
        also.append({"anyOf": [{"not": {"type": "integer"}}, {"minimum": low, "maximum": high}]})

    def pattern(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if not isinstance(value, str) or ecma_regex.compiled(value) is None:
            return  # an unreadable pattern is an annotation
        native = portable_pattern(value)
        if native is not None:
            out["pattern"] = native
        else:
            out["x-gw-pattern"] = value

    def _patterns(self, s: dict[str, Any]) -> dict[str, Any]:
        """The readable patternProperties as the native engine reads them (unreadable ones are annotations)."""
        found = s.get("patternProperties") or {}
        if not isinstance(found, dict):
            raise Untranslatable("patternProperties")
        kept: dict[str, Any] = {}
        for pattern, sub in found.items():
            if not isinstance(pattern, str) or ecma_regex.compiled(pattern) is None:
                continue
            native = portable_pattern(pattern)
            if native is None:
                raise Untranslatable("a patternProperties pattern the engines may read apart")
            kept[native] = sub
        return kept

    def pattern_properties(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        kept = self._patterns(s)
        if kept:
            out["patternProperties"] = {p: self.node(sub, mode) for p, sub in kept.items()}

    def additional(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if value is False or isinstance(value, dict):
            if not isinstance(s.get("properties", {}), dict):
                raise Untranslatable("additionalProperties beside properties that are not an object")
            self._patterns(s)  # the keys they exempt must be read alike
            out["additionalProperties"] = False if value is False else self.node(value, mode)

    def properties(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if not isinstance(value, dict):
            raise Untranslatable("properties")
        out["properties"] = {name: self.node(sub, mode) for name, sub in value.items()}

    def schema_map(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if not isinstance(value, dict):
            raise Untranslatable(word)
        out[word] = {name: self.node(sub, mode) for name, sub in value.items()}

    def one(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        out[word] = self.node(value, _flipped(mode) if word == "not" else mode)

    def items(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if not isinstance(value, (dict, bool)):
            raise Untranslatable("items that is not a schema")
        out["items"] = self.node(value, mode)

    def prefix_items(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if not isinstance(value, list):
            raise Untranslatable("prefixItems")
        out["prefixItems"] = [self.node(sub, mode) for sub in value]

    def condition(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        out["if"] = self.node(value, "exact")
        for word in ("then", "else"):
            if word in s:
                out[word] = self.node(s[word], mode)

    def dependent_required(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if not isinstance(value, dict) or not all(isinstance(v, list) and all(isinstance(n, str) for n in v)
                                                  for v in value.values()):
            raise Untranslatable("dependentRequired")
        out["dependentRequired"] = value

    def all_of(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        if not isinstance(value, list) or not value:
            return
        parts = {"allOf": [self.node(sub, mode) for sub in value]}
        also.append({"anyOf": [{"type": "null"}, parts]} if s.get("nullable") is True else parts)

    def union(self, s: Schema, word: str, value: Any, mode: str, out: Schema, also: list[Any]) -> None:
        """oneOf/anyOf as judge._union reads them: the tagged branch where the value names one, else any branch."""
        if not isinstance(value, list) or not value:
            return
        discriminator = s.get("discriminator")
        if isinstance(discriminator, dict) and "oneOf" in s and "anyOf" in s:
            raise Untranslatable("a discriminator beside both oneOf and anyOf")  # judge.py caches one table per union
        translated = [self.node(sub, mode) for sub in value]
        body = _decide(self._decisions(s, value), translated, self.openapi31)
        held = self._held_tag(s, value)
        if held is not None:
            body = {"allOf": [held, body]}
        also.append({"anyOf": [{"type": "null"}, body]} if s.get("nullable") is True else body)

    def _decisions(self, s: dict[str, Any], branches: list[Any]) -> list[tuple[str, dict[int, list[Any]]]]:
        """judge.tagged_branch as a decision list: (property, {branch: tag values naming it}), in its order."""
        discriminator = s.get("discriminator")
        names: list[str] = []
        found: list[tuple[str, dict[int, list[Any]]]] = []
        if isinstance(discriminator, dict):
            name = discriminator.get("propertyName")
            if name is not None and not isinstance(name, str):
                raise Untranslatable("discriminator propertyName")
            table = self.rules.discriminator_table(s, branches)
            if isinstance(name, str):
                by_branch: dict[int, list[Any]] = {}
                for tag, index in table.items():
                    if isinstance(tag, str):
                        by_branch.setdefault(index, []).append({"enum": [tag]})
                if by_branch:
                    found.append((name, by_branch))
                names.append(name)
        for name in dict.fromkeys([*names, *self.rules.pinned_names(branches)]):
            chosen = self._pinned_choice(branches, name)
            if chosen:
                found.append((name, chosen))
        return found

    def _pinned_choice(self, branches: list[Any], name: str) -> dict[int, list[Any]]:
        """Which tag values of `name` pin exactly one branch (compared as judge.pins does: equal and same type)."""
        values: list[Any] = []
        for branch in branches:
            for value in self.rules.pinned_values(self.rules.all_properties(branch).get(name)) or []:
                if not any(value == v and type(value) is type(v) for v in values):
                    values.append(value)
        chosen: dict[int, list[Any]] = {}
        for value in values:
            matches = [i for i, branch in enumerate(branches) if self.rules.pins(branch, name, value)]
            if len(matches) == 1:
                chosen.setdefault(matches[0], []).append(_exact_value(value, self.openapi31))
        return chosen

    def _held_tag(self, s: dict[str, Any], branches: list[Any]) -> dict[str, Any] | None:
        """judge._unnamed_tag: an answer's string tag must be one the discriminator names."""
        discriminator = s.get("discriminator")
        if self.direction != "response" or not isinstance(discriminator, dict):
            return None
        name = discriminator.get("propertyName")
        if not isinstance(name, str):
            return None
        table = self.rules.discriminator_table(s, branches)
        if not table:
            return None
        tags = [tag for tag in table if isinstance(tag, str)]
        allowed = {"anyOf": [{"not": {"type": "string"}}, {"enum": tags}]} if tags else {"not": {"type": "string"}}
        return {"properties": {name: allowed}}


def _flipped(mode: str) -> str:
    return {"pos": "neg", "neg": "pos"}.get(mode, mode)


def _exact_value(value: Any, openapi31: bool) -> Any:
    """A schema matching exactly `value` compared as judge.pins does (equal and of the same Python type)."""
    if value is None or isinstance(value, (str, bool)):
        return {"enum": [value]}
    if not openapi31 and isinstance(value, int):  # Draft 4's integer is an int, never 1.0
        return {"type": "integer", "enum": [value]}
    if not openapi31 and isinstance(value, float):
        return {"not": {"type": "integer"}, "enum": [value]}
    raise Untranslatable("a pinned tag value of this type")


def _decide(decisions: list[tuple[str, dict[int, list[Any]]]], branches: list[Any], openapi31: bool) -> dict[str, Any]:
    """Nested if/then/else over the decision list (anyOf/not in Draft 4), ending in "any branch"."""
    result: dict[str, Any] = {"anyOf": branches} if len(branches) > 1 else {"allOf": branches}
    for name, by_branch in reversed(decisions):
        tests = {index: {"anyOf": values} for index, values in by_branch.items()}
        named = {"type": "object", "required": [name], "properties": {name: {"anyOf": list(tests.values())}}}
        chosen = {"anyOf": [{"allOf": [{"properties": {name: tests[index]}}, branches[index]]} for index in tests]}
        if openapi31:
            result = {"if": named, "then": chosen, "else": result}
        else:
            result = {"anyOf": [{"allOf": [named, chosen]}, {"allOf": [{"not": named}, result]}]}
    return result


def _subschemas(s: dict[str, Any]) -> list[Any]:
    """Every subschema a translation may walk into (a superset is harmless: it only counts places)."""
    found: list[Any] = []
    for word in ("items", "not", "additionalProperties", "contains", "propertyNames", "if", "then", "else"):
        if isinstance(s.get(word), dict):
            found.append(s[word])
    for word in ("allOf", "anyOf", "oneOf", "prefixItems"):
        if isinstance(s.get(word), list):
            found += s[word]
    for word in ("properties", "patternProperties", "dependentSchemas"):
        if isinstance(s.get(word), dict):
            found += s[word].values()
    return found


def _handlers() -> tuple[dict[str, Any], dict[str, Any]]:
    t = _Translator
    common = {"enum": t.enum, "multipleOf": t.multiple_of, "uniqueItems": t.unique, "required": t.required,
              "format": t.format, "pattern": t.pattern, "patternProperties": t.pattern_properties,
              "additionalProperties": t.additional, "properties": t.properties, "items": t.items, "not": t.one,
              "allOf": t.all_of, "oneOf": t.union, "anyOf": t.union, **dict.fromkeys(_LENGTHS, t.length)}
    v30 = {**common, "type": t.type_30, "minimum": t.limit_30, "maximum": t.limit_30,
           "readOnly": t.direction_only, "writeOnly": t.direction_only}
    v31 = {**common, "type": t.type_31, "prefixItems": t.prefix_items, "if": t.condition, "const": t.copy,
           "dependentRequired": t.dependent_required, "dependentSchemas": t.schema_map,
           **dict.fromkeys(("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"), t.number),
           **dict.fromkeys(("contains", "propertyNames"), t.one), **dict.fromkeys(("minContains", "maxContains"), t.length)}
    return v30, v31


_HANDLERS_30, _HANDLERS_31 = _handlers()


def translate(schema: Any, openapi31: bool, direction: str) -> dict[str, Any] | None:
    """The schema as plain JSON Schema (Draft 4 for 3.0, 2020-12 for 3.1), or None where no exact translation is known."""
    try:
        return _Translator(openapi31, direction, unions).run(schema)
    except (Untranslatable, RecursionError):
        return None


def compile_translated(document: dict[str, Any], openapi31: bool) -> Any:
    """The jsonschema-rs validator of a translated document (None when it will not compile)."""
    kind = jsonschema_rs.Draft202012Validator if openapi31 else jsonschema_rs.Draft4Validator
    try:
        return kind(document, formats=_FORMATS, validate_formats=True, keywords=_KEYWORDS,
                    pattern_options=jsonschema_rs.RegexOptions())
    except Exception:  # a value the translation kept that JSON cannot hold (a YAML date in an enum...)
        return None


_CACHE: dict[tuple[int, bool, str], tuple[Any, Any]] = {}


def forget() -> None:
    """Drop the shared cache (a spec is (re)loaded): it holds its schemas, and through them whole old documents.
    Validators already handed out stay with their judges."""
    _CACHE.clear()


def validator(schema: Any, openapi31: bool, direction: str) -> Any:
    """The compiled validator for `schema` read in `direction` ("request", "response" or "parameter"), or
    None; compiled on first use and kept per schema object (shared schemas compile once)."""
    direction = direction if direction in ("request", "response") else "parameter"
    key = (id(schema), openapi31, direction)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] is schema:
        return cached[1]
    document = translate(schema, openapi31, direction)
    compiled = compile_translated(document, openapi31) if document is not None else None
    if len(_CACHE) > 8192:  # specs reloaded many times: start over rather than grow
        _CACHE.clear()
    _CACHE[key] = (schema, compiled)
    return compiled
