"""The one judge of "does this value fit this schema?" for every place that asks: request
validation, the mocker's check of its own answers (and the generator's oneOf choices), and the
contract checker (validation proxy, `gw stubs verify`, recording, HAR import). One verdict for
one value, wherever it is asked.

Built on jsonschema's OpenAPI dialects (openapi-schema-validator), with the keywords published
specs trip over replaced by readings that never refuse a valid value:
- `format`: only formats we know are checked (formats.py); `decimal`, vendor words pass.
- `pattern`, `patternProperties`: ECMA-262 syntax read through ecma_regex; an unreadable pattern
  is an annotation.
- `oneOf`/`anyOf` with or without a `discriminator`: a value is judged by the branch its tag
  names (through the discriminator's mapping or component names, else the one branch that pins the
  property to that value by const/enum), else by plain JSON Schema rules; a value fitting several
  `oneOf` branches is accepted (published specs overlap their branches: a uuid is also "any
  string"). A mapping to a schema that does not exist names nothing: the plain rules decide.
Validators are compiled once per schema; a value pays only for running them. Each also has a
fast path (compiled_schema.py): the schema translated exactly into plain JSON Schema and compiled by
jsonschema-rs on first use. Where it accepts, the value is valid; where it refuses (or no exact
translation exists), the rules above judge and explain. `GW_JUDGE_CROSSCHECK=1` runs both on every
value and raises JudgeDisagreement where the fast path accepts what the rules refuse (a path in
place of `1` also appends each disagreement to that file).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from . import compiled_schema, ecma_regex
from .formats import format_error
from .unions import discriminator_table, remember_names, tagged_branch

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

Error = dict[str, Any]


def _error(message: str, **details: Any) -> ValidationError:
    """jsonschema's ValidationError: jsonschema is imported when the rules first judge a value (`_dialects`)."""
    from jsonschema.exceptions import ValidationError

    return ValidationError(message, **details)


def _format(validator: Any, fmt: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    message = format_error(fmt, instance)
    if message:
        yield _error(message)


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if isinstance(instance, str) and isinstance(pattern, str) and not ecma_regex.search(pattern, instance):
        yield _error(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not isinstance(instance, dict) or not isinstance(patterns, dict):
        return
    for pattern, sub in patterns.items():
        for key, value in instance.items():
            if ecma_regex.compiled(pattern) is not None and ecma_regex.search(pattern, key):
                yield from validator.descend(value, sub, path=key, schema_path=pattern)


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    known = schema.get("properties") or {}
    patterns = [p for p in (schema.get("patternProperties") or {}) if ecma_regex.compiled(p) is not None]
    extras = [k for k in instance if k not in known]
    if patterns:
        extras = [k for k in extras if not any(ecma_regex.search(p, k) for p in patterns)]
    if not extras:
        return
    if isinstance(extra, dict):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif extra is False:
        listed = ", ".join(repr(k) for k in sorted(extras))
        yield _error(f"Additional properties are not allowed ({listed} {'was' if len(extras) == 1 else 'were'} "
                              f"unexpected)")


def _all_of(validator: Any, branches: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if instance is None and schema.get("nullable") is True:  # 3.0's `nullable: true` beside allOf/oneOf means it
        return
    for index, sub in enumerate(branches if isinstance(branches, list) else []):
        yield from validator.descend(instance, sub, schema_path=index)


def _union(kind: str, hold_tags: bool) -> Callable[..., Iterator[ValidationError]]:
    """oneOf/anyOf; with `hold_tags` (answers) a discriminator's tag must name a schema."""
    def keyword(validator: Any, branches: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        if not isinstance(branches, list) or not branches or (instance is None and schema.get("nullable") is True):
            return
        unnamed = _unnamed_tag(schema, branches, instance) if hold_tags else None
        if unnamed is not None:
            yield unnamed
            return
        named = tagged_branch(schema, branches, instance)
        if named is not None:
            yield from validator.descend(instance, branches[named], schema_path=named)
            return
        errors: list[ValidationError] = []
        for index, sub in enumerate(branches):
            found = list(validator.descend(instance, sub, schema_path=index))
            if not found:
                return  # one fitting branch is enough; several fitting a oneOf are forgiven (see module doc)
            errors += found
        yield _error(f"{_short(instance)} is not valid under any of the given schemas", context=errors)
    keyword.__name__ = kind
    return keyword


def _exclusive_one_of(validator: Any, branches: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """oneOf read strictly, as clients' validators do (they ignore discriminators): the answer fits exactly
    one branch, the one its tag names where a discriminator names one. Only the mocker holds its own answers to it."""
    if not isinstance(branches, list) or not branches or (instance is None and schema.get("nullable") is True):
        return
    lenient = list(_ANSWER_KEYWORDS["oneOf"](validator, branches, instance, schema))
    if lenient:  # the tag (if any) must still name a branch the value fits; clients then count every branch
        yield from lenient
        return
    fitting = [index for index, sub in enumerate(branches) if not any(validator.descend(instance, sub, schema_path=index))]
    if len(fitting) > 1:
        overlap = _error(f"{_short(instance)} is valid under each of branches {fitting}")
        overlap.fitting = fitting  # type: ignore[attr-defined]  # for the mocker to tell them apart
        yield overlap


def learn_schema_names(document: dict[str, Any]) -> None:
    """Remember a resolved spec's named schemas (unions.py reads a discriminator's tag by them); the compiled
    validators of the spec loaded before are dropped."""
    schemas = (document.get("components") or {}).get("schemas") or document.get("definitions") or {}
    compiled_schema.forget()
    remember_names(schemas)


def _unnamed_tag(schema: Any, branches: list[Any], instance: Any) -> ValidationError | None:
    """An answer whose discriminator tag names no schema (neither by mapping nor by component name):
    SDKs dispatch on the tag, so such an answer fails them even where a branch's own enum allows it
    (a spec whose `type: track` branch is the component `TrackObject`, with no mapping)."""
    discriminator = schema.get("discriminator")
    if not isinstance(discriminator, dict) or not isinstance(instance, dict):
        return None
    name = discriminator.get("propertyName")
    tag = instance.get(name) if isinstance(name, str) else None
    table = discriminator_table(schema, branches) if isinstance(tag, str) else {}
    if not table or tag in table:
        return None
    return _error(f"discriminator value {tag!r} names no schema (known: {', '.join(map(repr, table))})",
                           path=[name])


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_KEYWORDS = {"format": _format, "pattern": _pattern, "patternProperties": _pattern_properties,
             "additionalProperties": _additional_properties, "allOf": _all_of,
             "oneOf": _union("oneOf", hold_tags=False), "anyOf": _union("anyOf", hold_tags=False)}
_ANSWER_KEYWORDS = {**_KEYWORDS, "oneOf": _union("oneOf", hold_tags=True), "anyOf": _union("anyOf", hold_tags=True)}
_EXCLUSIVE_KEYWORDS = {**_ANSWER_KEYWORDS, "oneOf": _exclusive_one_of}


@cache
def _dialects(direction: str, version: str) -> tuple[Any, ...]:
    """The chain of jsonschema validator classes for a direction and an OpenAPI version ("3.1" or "3.0"): the
    spec's dialect first, plainer ones where it cannot judge. Made, and jsonschema and openapi-schema-validator
    imported (~0.15 s), when the rules first judge a value: most starts only build validators, and the compiled
    fast path judges the values that fit."""
    from jsonschema import Draft4Validator, Draft202012Validator
    from jsonschema.validators import extend
    from openapi_schema_validator import OAS30ReadValidator, OAS30Validator, OAS30WriteValidator, OAS31Validator

    keywords = {"request": _KEYWORDS, "response": _ANSWER_KEYWORDS, "exclusive": _EXCLUSIVE_KEYWORDS}.get(direction, _KEYWORDS)
    if version == "3.1":
        return extend(OAS31Validator, keywords), extend(Draft202012Validator, keywords)
    first = {"request": OAS30WriteValidator, "response": OAS30ReadValidator, "exclusive": OAS30ReadValidator}
    return (extend(first.get(direction, OAS30Validator), keywords), extend(OAS31Validator, keywords),
            extend(Draft4Validator, keywords))


def compile_schema(schema: dict[str, Any], openapi31: bool, direction: str = "request") -> Lenient:
    """A validator for a request body (readOnly properties refused), a response body (writeOnly
    refused, a discriminator's tag held to the schemas it names) or a parameter/header (neither
    applies), or the mocker's own answer ("exclusive": a response whose oneOf fits exactly one branch).
    Each is a chain: the spec's dialect first, plainer ones where it cannot judge."""
    kind = direction if direction in ("request", "response", "exclusive") else "parameter"
    fast = None if direction == "exclusive" else (openapi31, direction)  # the strict oneOf reading stays Python's
    return Lenient(schema, (kind, "3.1" if openapi31 else "3.0"), fast)


@lru_cache(maxsize=8)
def checker_factory(openapi31: bool, direction: str = "response") -> Callable[[dict[str, Any]], Lenient]:
    """`schema -> validator` for callers that compile many small schemas (the generator's oneOf
    branches): the same judge, one stable callable per dialect."""
    def factory(schema: dict[str, Any]) -> Lenient:
        return compile_schema(schema, openapi31, direction)
    return factory


class JudgeDisagreement(AssertionError):
    """The compiled fast path accepted a value the judge's rules refuse (raised under GW_JUDGE_CROSSCHECK)."""


_CROSSCHECK = os.environ.get("GW_JUDGE_CROSSCHECK", "").strip().lower() not in ("", "0", "false", "no", "off")
_log = logging.getLogger("gw.judge")
_UNCOMPILED = object()


class Lenient:
    """A validator that steps down to plainer rules where a published schema uses words its
    dialect cannot apply (`type: null` in 3.0, Swagger's list-form `items`): the strict validator
    raises on those instead of judging. `fast` ((openapi31, direction)) asks for the compiled fast path."""

    def __init__(self, schema: dict[str, Any], dialect: tuple[str, str], fast: tuple[bool, str] | None = None) -> None:
        self.schema = schema
        self._dialect = dialect  # (direction, OpenAPI version): its chain of validator classes (`_dialects`)
        self.chain: list[Any] | None = None  # the plainer validator classes left to step down to, once made
        # the rules' validator is built on first use where building it cannot fail (most never judge a value:
        # Kubernetes' spec has 6,204 parameters, each built at start before); otherwise now, as before
        self._active: Any = None if _builds_safely(schema) else self._first()(schema)
        self._fast_key = fast
        self._fast: Any = _UNCOMPILED if fast is not None else None
        self.quick: Callable[[Any], bool] | None = None  # the compiled validator's own check, once made (`fast_accepts`)

    def iter_errors(self, value: Any) -> list[ValidationError]:
        if self.quick is not None:  # compiled, and not cross-checked: what it refuses, the rules judge
            return [] if fast_accepts(self, value) else self.rule_errors(value)
        if self._fast is not None and self._fast_accepts(value):
            if _CROSSCHECK:
                self._crosscheck(value)
            return []
        errors = self.rule_errors(value)
        if _CROSSCHECK and not errors and self._fast is not None:  # correct, only slower: worth knowing
            _log.warning("judge: the compiled path refuses what the rules accept (value=%.200r, key=%s)",
                         value, self._fast_key)
        return errors

    @property
    def active(self) -> Any:
        """The rules' validator in use: the spec's dialect, or a plainer one after it could not judge."""
        if self._active is None:  # two threads may both build it: the same validator, one kept
            self._active = self._first()(self.schema)
        return self._active

    def _first(self) -> Any:
        """The spec's dialect's validator class; the plainer ones are left in `chain`."""
        first, *rest = _dialects(*self._dialect)
        if self.chain is None:
            self.chain = rest
        return first

    def rule_errors(self, value: Any) -> list[ValidationError]:
        """The value judged by the rules alone (the fast path's reference; raises where no rule applies)."""
        while True:
            try:
                return list(self.active.iter_errors(value))
            except Exception:
                if not self.chain:
                    raise
            self._active = self.chain.pop(0)(self.schema)  # `active` made `chain`
            self._fast = self.quick = None  # translated for the first dialect's reading: no longer this validator's

    def _fast_accepts(self, value: Any) -> bool:
        if self._fast is _UNCOMPILED:
            assert self._fast_key is not None
            self._fast = compiled_schema.validator(self.schema, *self._fast_key)
            if self._fast is None:
                return False
            if not _CROSSCHECK:  # a cross-checked verdict goes through iter_errors every time
                self.quick = self._fast.is_valid
        try:
            return bool(self._fast.is_valid(value))
        except Exception:  # a value Rust cannot hold (a lone surrogate): the rules judge it
            return False

    def _crosscheck(self, value: Any) -> None:
        try:
            errors: Any = self.rule_errors(value)
        except Exception as exc:
            errors = exc
        if not errors:
            return
        report = f"judge disagreement: compiled accepts, rules refuse ({errors!r:.300}) value={value!r:.300} " \
                 f"schema={self.schema!r:.300} key={self._fast_key}"
        _log.error(report)
        target = os.environ.get("GW_JUDGE_CROSSCHECK", "")
        if target not in ("1", "true", "yes", "on"):
            with open(target, "a", encoding="utf-8") as out:
                out.write(report + "\n")
        raise JudgeDisagreement(report)

    def is_valid(self, value: Any) -> bool:
        try:
            return not self.iter_errors(value)
        except JudgeDisagreement:
            raise
        except Exception:  # the schema cannot be applied at all: nothing fits it
            return False


def _builds_safely(schema: Any) -> bool:
    """Whether jsonschema builds a validator for `schema` without raising: a boolean, or an object whose
    `$id` / `id` (read when the validator is made) are text or absent. Anything else is built at load."""
    if schema is True or schema is False:
        return True
    return type(schema) is dict and type(schema.get("$id", "")) is str and type(schema.get("id", "")) is str


def accepts(checker: Any, value: Any) -> bool:
    """Whether `checker` passes `value`; False where it cannot judge it (a discriminator naming no schema...)."""
    try:
        return checker.is_valid(value)
    except JudgeDisagreement:
        raise
    except Exception:
        return False


def fast_accepts(validator: Lenient, value: Any) -> bool:
    """Whether the validator's compiled fast path (once made) accepts `value`, asked with no Python frame between:
    for callers that judge on every request. False sends the value to `schema_errors` (or `iter_errors`), which
    judge it in full: the same verdict, one judge."""
    quick = validator.quick
    if quick is None:
        return False
    try:
        return quick(value)
    except Exception:  # a value Rust cannot hold (a lone surrogate): the rules judge it
        return False


def schema_errors(validator: Any, value: Any, where: str, name: str) -> list[Error]:
    """Every way `value` breaks the schema, each as {in, name, pointer, message}; a union's failure
    is told by its most relevant branch. A value the compiled path accepts costs one Rust call (`fast_accepts`: the
    request path judges every parameter and body here); one it refuses goes to the rules at once."""
    quick = getattr(validator, "quick", None)
    if quick is not None and fast_accepts(validator, value):
        return []
    try:
        found = explain(validator.rule_errors(value) if quick is not None else validator.iter_errors(value))
    except JudgeDisagreement:
        raise
    except Exception as exc:
        return [{"in": where, "name": name, "pointer": "", "message": f"does not match the schema ({exc})"}]
    return [{"in": where, "name": name, "pointer": pointer(e), "message": message(e)} for e in found]


def explain(errors: list[ValidationError]) -> list[ValidationError]:
    """The errors to tell a person, in document order: a union's failure replaced by the errors
    of the branch the value came closest to (its tag matched, its type matched, fewest errors)."""
    told: list[ValidationError] = []
    for error in errors:
        told += _relevant(error, 0)
    return sorted(told, key=lambda e: [str(p) for p in e.absolute_path])


def _relevant(error: ValidationError, depth: int) -> list[ValidationError]:
    if error.validator not in ("anyOf", "oneOf") or not error.context or depth > 16:
        return [error]
    by_branch: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        by_branch.setdefault(sub.relative_schema_path[0] if sub.relative_schema_path else 0, []).append(sub)
    base = len(error.absolute_path)
    scored = sorted(by_branch.values(), key=lambda found: _distance(found, base))
    best = scored[0]
    if _distance(best, base)[0]:  # no branch takes this tag: say which tags there are
        return [_wrong_tag(best, error.context, base)]
    if _distance(best, base)[1]:  # even the closest branch is another type: the union's own sentence says more
        return [error]
    return [e for sub in best for e in _relevant(sub, depth + 1)]


def _wrong_tag(best: list[ValidationError], context: list[ValidationError], base: int) -> ValidationError:
    """The tag error of the closest branch, its message listing every branch's tag values."""
    tag = next(e for e in best if e.validator in ("const", "enum") and len(e.absolute_path) == base + 1)
    allowed: list[Any] = []
    for other in context:
        if other.validator in ("const", "enum") and list(other.absolute_path) == list(tag.absolute_path):
            values = other.validator_value if other.validator == "enum" else [other.validator_value]
            allowed += [v for v in values if v not in allowed] if isinstance(values, list) else []
    tag.message = f"{tag.instance!r} is not one of {allowed!r}"
    return tag


def _distance(errors: list[ValidationError], base: int) -> tuple[int, int, int]:
    """How far a branch is from fitting: a wrong tag, then a wrong type at the value itself, then the count."""
    tag = any(e.validator in ("const", "enum") and len(e.absolute_path) == base + 1 for e in errors)
    kind = any(e.validator == "type" and len(e.absolute_path) == base for e in errors)
    return int(tag), int(kind), len(errors)


def pointer(error: ValidationError) -> str:
    """The JSON pointer to the failing value."""
    return "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in error.absolute_path)


def schema_place(error: ValidationError) -> str:
    """The JSON pointer, inside the schema, of the keyword that failed."""
    return "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in error.absolute_schema_path)


def message(error: ValidationError) -> str:
    text = error.message
    return text if len(text) <= 240 else text[:237] + "..."
