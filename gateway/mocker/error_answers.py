"""Refusals in the API's own shape.

When gw refuses a request (validation 400/422, 401, 403, 406, 415, 429...) for an operation that
documents its error answer, the client gets that answer: the documented status (exact, then `4XX`,
then `default`, the refusal's own status code kept), media type, headers and a body the documented
schema accepts, so the client's error handling meets what the real API sends. The failure itself
travels beside the body: in the body's message-like fields where the schema has them, in the
one-line `X-GW-Problem` header, and complete in the request journal. Without a documented answer,
gw's problem+json stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from ..core.exchange import Exchange, Response
from ..core.media_types import is_json
from ..core.problems import PROBLEM_JSON, Problem, failure_line
from ..spec.load import Operation, Service
from ..validation.serialization import declared_types
from .media import encode, encode_json, is_binary
from .mocker import body_validator, concrete_media, generate_valid, response_headers, without_write_only
from .negotiator import choose_media, find_example
from .status_fields import (
    CODE_NAMES,
    NESTED_NAMES,
    STATUS_NAMES,
    Alternatives,
    Edit,
    apply_edits,
    field_name,
    is_int,
    passes,
    properties,
    stamp_status,
    status_edits,
)

REFUSALS = frozenset({400, 401, 403, 404, 405, 406, 415, 422, 429})  # the client's mistakes, as the API would see them
GATEWAY_OWN = frozenset({"prefer-not-declared"})  # about gw's own Prefer header: no API documents those
HEADER_LIMIT = 300

# Field names (lower case, without `_` and `-`) that carry a part of the failure.
MESSAGE_NAMES = frozenset({"message", "detail", "details", "description", "errormessage", "errordescription", "msg",
                           "reason", "errordetail"})
TITLE_NAMES = frozenset({"title", "summary"})
LIST_NAMES = frozenset({"errors", "details", "messages", "failures", "violations", "problems"})
PLACE_NAMES = frozenset({"field", "name", "param", "parameter", "pointer", "path", "location", "in", "source"})


@dataclass(frozen=True)
class Failure:
    """What the body can say about a refusal."""

    status: int
    slug: str
    title: str
    detail: str
    type: str
    instance: str
    errors: tuple[dict[str, Any], ...]
    problem: dict[str, Any]  # gw's own problem details, for a schema that takes them as they are


def documented_refusal(exchange: Exchange, problem: Problem) -> Response | None:
    """The operation's documented answer for this refusal, or None (problem+json then)."""
    operation, service = exchange.operation, exchange.service
    if operation is None or service is None or problem.status not in REFUSALS or problem.slug in GATEWAY_OWN:
        return None
    key = documented_status(operation, problem.status)
    if key is None:
        return None
    definition = operation.responses.get(key) or {}
    headers = _merged(_declared_headers(service, operation, key, definition), problem.headers)
    content = definition.get("content") or {}
    if not content:  # documented without a body: its status and headers, and gw's account of the failure as body
        return Response(problem.status, [("content-type", PROBLEM_JSON), *headers], problem.body(exchange.path))
    media = _media(content, exchange.headers.get("accept"), operation)
    plan = _plan(service, operation, key, media, content.get(media) or {})
    value = _value(service, operation, key, media, plan, _failure(problem, exchange.path), exchange)
    headers.append(("content-type", plan.content_type or concrete_media(media, value if value is not None else plan.schema)))
    return Response(problem.status, headers, encode_json(value) if plan.json else encode(value, media, plan.schema))


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a documented refusal's body takes from the spec alone (its status key and media type), worked out at
    the first refusal of its kind rather than on each: a flood of 400s or 429s costs no schema reading."""

    schema: Any
    checker: Any
    example: tuple[bool, Any]  # find_example's (found, value)
    binary: bool  # is_binary(media, schema), for a dict schema
    json: bool  # is_json(media)
    problem_like: bool  # gw's own problem details may fit the schema as they are
    content_type: str  # the answer's Content-Type; "" for a media range (`*/*`: it depends on the body)


def _plan(service: Service, operation: Operation, key: str, media: str, entry: dict[str, Any]) -> _Plan:
    cache_key = ("refusal plan", key, media)
    plan = operation.cache.get(cache_key)
    if plan is None:
        schema = entry.get("schema")
        shaped = isinstance(schema, dict)
        plan = operation.cache[cache_key] = _Plan(
            schema, body_validator(service, operation, key, media), find_example(entry, None),
            shaped and is_binary(media, schema), is_json(media), shaped and is_json(media) and problem_like(schema),
            "" if "*" in media else concrete_media(media, None))
    return plan


def _declared_headers(service: Service, operation: Operation, key: str,
                      definition: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The refusal's declared headers (generated from their seeds where they have no example: the same each
    time), made at the first refusal with this status key."""
    cache_key = ("refusal headers", key)
    headers = operation.cache.get(cache_key)
    if headers is None:
        headers = operation.cache[cache_key] = tuple(response_headers(service, operation, definition))
    return headers


def documented_status(operation: Operation, status: int) -> str | None:
    """The response key that documents `status`: exact, then its range (`4XX`), then `default`."""
    responses = operation.responses
    for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
        if key in responses:
            return key
    return None


def problem_line(problem: Problem) -> str:
    """The failure in one short ASCII line, for the X-GW-Problem header."""
    text = " ".join(f"{problem.slug}: {problem.detail or problem.title}".split())
    if not (text.isascii() and text.isprintable()):  # printable ASCII (32-126) passes as it is
        text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return text if len(text) <= HEADER_LIMIT else text[:HEADER_LIMIT - 3] + "..."


def _merged(documented: Iterable[tuple[str, str]], own: dict[str, str]) -> list[tuple[str, str]]:
    """The documented headers, with the refusal's real values (Retry-After, WWW-Authenticate...) winning."""
    if not own:  # most refusals (a 400, a 404) carry no headers of their own
        return list(documented)
    taken = {name.lower() for name in own}
    return [*((k, v) for k, v in documented if k.lower() not in taken), *own.items()]


def _media(content: dict[str, Any], accept: str | None, operation: Operation) -> str:
    """The documented media type Accept asks for; the preferred one when Accept fits none (this is already
    a refusal: it is not refused again for its Accept)."""
    try:
        media = choose_media(content, accept, operation)
    except Problem:
        media = choose_media(content, None, operation)
    assert media is not None
    return media


def _failure(problem: Problem, instance: str) -> Failure:
    own = problem.to_dict(instance)
    return Failure(problem.status, problem.slug, problem.title, problem.detail or problem.title, own["type"], instance,
                   tuple(problem.errors), own)


def _value(service: Service, operation: Operation, key: str, media: str, plan: _Plan, failure: Failure,
           exchange: Exchange) -> Any:
    """The documented example (its status fields saying the real status), gw's own problem details where the
    schema takes them, else a body generated from the schema with the failure written into it."""
    schema, checker = plan.schema, plan.checker
    found, example = plan.example
    if found:  # as the mocker does: an example its own schema refuses is not sent
        stamped = _stamped_example(operation, key, media, failure.status, example, schema, checker)
        if stamped is not _UNFIT:
            return stamped
    own = failure.problem
    if not isinstance(schema, dict):
        return own if plan.json else failure.detail
    if plan.binary:
        return None
    if plan.problem_like and passes(checker, own):
        return own
    cache_key = ("refusal", key, media, failure.slug)  # generated once per kind of refusal: a 429 flood costs no schema work
    value = operation.cache.get(cache_key)
    if value is None:
        seed = f"{operation.service}:{operation.key}:{key}:refusal:{failure.slug}"
        value = operation.cache[cache_key] = generate_valid(service, operation, schema, seed, checker, exchange)
    return fill(value, schema, failure, checker)


_UNFIT = object()  # a documented example its own schema refuses


def _stamped_example(operation: Operation, key: str, media: str, status: int, example: Any, schema: Any,
                     checker: Any) -> Any:
    """The documented example with its status fields saying `status`, or _UNFIT when the schema refuses it;
    it depends on nothing else, so it is worked out and checked once per status, not per refusal."""
    cache_key = ("refusal example", key, media, status)
    held = operation.cache.get(cache_key)
    if held is None:
        stamped = stamp_status(without_write_only(example, schema), schema, status, checker, generated=False)
        held = operation.cache[cache_key] = (stamped if passes(checker, stamped) else _UNFIT,)
    return held[0]


def problem_like(schema: dict[str, Any]) -> bool:
    """An RFC 9457-style schema: gw's own problem details fit it as they are."""
    names = {field_name(name) for name in properties(schema)}
    return bool(names & {"title", "detail"}) and bool(names & {"status", "type"})


def fill(value: Any, schema: Any, failure: Failure, checker: Any) -> Any:
    """A generated error body with the failure written into the fields that name its parts; each change kept
    only if the schema still accepts the body."""
    if isinstance(schema, dict) and "string" in declared_types(schema) and isinstance(value, str):
        return failure.detail if passes(checker, failure.detail) else value
    if not isinstance(value, dict) or not isinstance(schema, dict):
        return value
    edits = [*status_edits(value, schema, failure.status, ()), *_failure_edits(value, schema, failure, ())]
    return apply_edits(value, edits, checker)


def _failure_edits(value: dict[str, Any], schema: dict[str, Any], failure: Failure, path: tuple[str, ...]) -> list[Edit]:
    edits: list[Edit] = []
    for name, sub in properties(schema).items():
        norm, types = field_name(name), set(declared_types(sub))
        current = value.get(name)
        where = (*path, name)
        if norm in STATUS_NAMES and "string" in types and not types & {"integer", "number"}:
            edits.append((where, HTTPStatus(failure.status).phrase.upper().replace(" ", "_").replace("-", "_")))
        elif norm in CODE_NAMES and "string" in types and not is_int(current):
            edits.append((where, failure.slug))
        elif norm in MESSAGE_NAMES and "string" in types:
            edits.append((where, failure.detail))
        elif norm in TITLE_NAMES and "string" in types:
            edits.append((where, failure.title))
        elif norm == "type" and "string" in types and (sub.get("format") in ("uri", "uri-reference", "iri-reference")):
            edits.append((where, failure.type))
        elif norm == "instance" and "string" in types:
            edits.append((where, failure.instance))
        elif norm in NESTED_NAMES and "string" in types and not isinstance(current, dict):
            edits.append((where, failure.detail))
        elif norm in NESTED_NAMES and isinstance(current, dict) and isinstance(sub, dict):
            edits += _failure_edits(current, sub, failure, where)
        elif norm in LIST_NAMES and "array" in types and isinstance(sub, dict):
            listed = _listed(current, sub.get("items"), failure)
            if listed is not None:
                edits.append((where, listed))
    return edits


def _listed(current: Any, items: Any, failure: Failure) -> Alternatives | None:
    """Every failure as an item of the body's error list: text, or objects shaped like the generated one
    (with each failure's place and message where the item has fields for them, else its message alone)."""
    failures = list(failure.errors) or [{"in": "", "name": "", "pointer": "", "message": failure.detail}]
    if "string" in declared_types(items):
        return Alternatives([[failure_line(e) for e in failures]])
    template = current[0] if isinstance(current, list) and current and isinstance(current[0], dict) else None
    if template is None or not isinstance(items, dict):
        return None
    return Alternatives([[_item(template, items, e, failure, rich=True) for e in failures],
                         [_item(template, items, e, failure, rich=False) for e in failures]])


def _item(template: dict[str, Any], schema: dict[str, Any], error: dict[str, Any], failure: Failure,
          rich: bool) -> dict[str, Any]:
    """One failure as an error-list item: its message, and (rich) its title, code and place."""
    item = dict(template)
    for name, sub in properties(schema).items():
        norm, types = field_name(name), declared_types(sub)
        if "string" in types and norm in MESSAGE_NAMES:
            item[name] = error.get("message") or failure.detail
        elif not rich:
            continue
        elif "string" in types and norm in TITLE_NAMES:
            item[name] = failure.title
        elif "string" in types and norm in CODE_NAMES:
            item[name] = failure.slug
        elif "string" in types and norm in ("in", "location") and error.get("in"):
            item[name] = error["in"]
        elif "string" in types and norm == "pointer":
            if error.get("pointer"):
                item[name] = error["pointer"]
        elif "string" in types and norm in ("name", "param", "parameter"):
            if error.get("name"):
                item[name] = error["name"]
        elif "string" in types and norm in PLACE_NAMES and (error.get("name") or error.get("pointer")):
            item[name] = error.get("name") or error.get("pointer")
        elif "object" in types and norm in PLACE_NAMES:  # JSON:API's source: {pointer, parameter}
            inner = item.get(name) if isinstance(item.get(name), dict) else {}
            item[name] = _item(inner, sub, error, failure, rich)
    return item
