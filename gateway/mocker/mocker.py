"""The stub answer, in DESIGN.md's order: recorded stub, then `Prefer`, then the spec's example,
then a body generated from the schema.

Every answer built here is checked against the response schema before it is sent; a generated
candidate that fails is replaced by another (a different oneOf branch, no reused examples).
Answers are cached per operation (examples) or per request (generated), so repeats cost no
schema work.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Protocol
from urllib.parse import parse_qsl

from ..contract.judge import accepts, checker_factory, explain, schema_place
from ..contract.responses import body_validator as contract_body_validator
from ..core.exchange import Exchange, Response
from ..core.media_types import is_json
from ..core.problems import Problem
from ..spec.load import Operation, Service, below_base
from ..validation.serialization import coerce_text, declared_types
from .dynamic import dynamic_by_default
from .exclusive import exclusive, exclusive_checker
from .generator import Options, generate
from .media import content_type, encode, is_binary
from .negotiator import NO_PREFERENCES, Preferences, choose_media, choose_status, find_example, parse_prefer, status_number
from .status_fields import stamp_status
from .streams import (
    EventStream,
    Pacing,
    build_stream,
    detached,
    item_checker,
    item_schema,
    stream_headers,
    stream_kind,
    streamed_accept,
    streamed_media,
)

log = logging.getLogger("gw.mocker")
NO_BODY = {204, 205, 304}
CACHE_LIMIT = 256
ATTEMPTS = 8

Answer = tuple[str, int, list[tuple[str, str]], bytes | EventStream]


class StubSource(Protocol):
    """Recorded stubs (the stub store) answer first when one matches the request."""

    async def answer(self, exchange: Exchange) -> Response | None: ...


class Mocker:
    """Answers a request from the contract alone; never touches an upstream."""
    pacing = Pacing()  # streamed answers: how many events, how fast (the gateway's `streams` setting)

    def __init__(self, stubs: StubSource | None = None, dynamic: frozenset[str] = frozenset()) -> None:
        self.stubs = stubs
        self.dynamic = dynamic  # services whose answers are generated unless a request asks otherwise

    async def answer(self, exchange: Exchange) -> Response:
        if self.stubs is not None:
            recorded = await self.stubs.answer(exchange)
            if recorded is not None:
                exchange.source = "recorded"
                return recorded
        operation, service = exchange.operation, exchange.service
        assert operation is not None and service is not None
        headers = exchange.headers
        prefer = headers.get("prefer")
        prefs = parse_prefer(prefer) if prefer else NO_PREFERENCES
        if service.name in self.dynamic:
            prefs = dynamic_by_default(prefs, prefer)
        accept = headers.get("accept")
        if streamed_media(operation):  # `"stream": true` in the body, as OpenAI-style APIs read it
            accept = await streamed_accept(exchange) or accept
        cache_key = (prefs.code, prefs.example, accept)
        request_key = None
        if not prefs.dynamic:
            cached = operation.cache.get(cache_key)  # an example answer: the same for every request
            if cached is None:
                request_key = (*cache_key, exchange.path, exchange.scope.get("query_string", b""))
                cached = operation.cache.get(request_key)
            if cached is not None:
                exchange.source = cached[0]
                body = cached[3]
                return Response(cached[1], list(cached[2]), body if type(body) is bytes else self._body(body, exchange))
        request_key = request_key or (*cache_key, exchange.path, exchange.scope.get("query_string", b""))
        answer = build_answer(service, operation, prefs, accept, exchange)
        exchange.source = answer[0]
        if not prefs.dynamic:
            _remember(operation.cache, cache_key if answer[0] == "example" else request_key, answer)
        return Response(answer[1], list(answer[2]), self._body(answer[3], exchange))

    def _body(self, body: bytes | EventStream, exchange: Exchange) -> Any:
        """A streamed answer is sent event by event, as many and as fast as the request prefers."""
        return body.body(self.pacing.preferred(exchange.headers.get("prefer"))) if isinstance(body, EventStream) else body


def build_answer(service: Service, operation: Operation, prefs: Preferences, accept: str | None,
                 exchange: Exchange) -> Answer:
    status_key = choose_status(operation, prefs)
    status = status_number(status_key, prefs.code)
    definition = operation.responses.get(status_key) or {}
    content = definition.get("content") or {}
    headers = response_headers(service, operation, definition)
    if not content:
        return "example", status, headers, b""
    media = choose_media(content, accept, operation)
    if status in NO_BODY:  # no body, but say the type the spec documents for it
        return "example", status, [*headers, ("content-type", concrete_media(media, None))], b""
    assert media is not None
    entry = content.get(media) or {}
    schema = entry.get("schema")
    found, value = find_example(entry, prefs.example)
    if prefs.example is not None and not found:
        names = ", ".join(sorted((entry.get("examples") or {}).keys())) or "none"
        raise Problem(422, detail=f"Prefer: example={prefs.example}, but {operation.label} {status_key} "
                                  f"{media} has examples: {names}",
                      title="Preferred example is not in the contract", slug="prefer-not-declared")
    headers.append(("content-type", concrete_media(media, value if found else schema)))
    kind = stream_kind(media)
    if kind is not None:  # SSE, JSON Lines, json-seq: several events, each sent on its own
        stream = mock_stream(service, operation, status_key, media, kind, (found, value), prefs, exchange)
        return "example" if stream.fixed else "generated", status, stream_headers(kind, headers), stream
    if not found and not isinstance(schema, dict):  # a media type without schema or example: no body
        return "example", status, headers, b""
    checker = body_validator(service, operation, status_key, media)
    if found:
        value = without_write_only(value, schema)
    if found and not prefs.dynamic and (checker is None or prefs.example is not None or accepts(checker, value)):
        return "example", status, headers, encode(value, media, schema)
    if is_binary(media, schema):
        return "generated", status, headers, encode(None, media, schema)
    seed = os.urandom(8).hex() if prefs.dynamic else f"{operation.service}:{operation.key}:{status_key}:{exchange.path}"
    seed += f"?{exchange.scope.get('query_string', b'').decode('latin-1')}"
    value = generate_valid(service, operation, schema or {}, seed, checker, exchange)
    if status >= 400:  # an error body says the status it is sent with, not a random one
        value = stamp_status(value, schema, status, checker)
    return "generated", status, headers, encode(value, media, schema)


def mock_stream(service: Service, operation: Operation, status_key: str, media: str, kind: str,
                example: tuple[bool, Any], prefs: Preferences, exchange: Exchange) -> EventStream:
    """The events of a streamed answer, each checked against the item schema (streams.py says where it comes from)."""
    entry = (operation.responses.get(status_key) or {}).get("content", {}).get(media) or {}
    seed = os.urandom(8).hex() if prefs.dynamic else f"{operation.service}:{operation.key}:{status_key}:{exchange.path}"
    seed += f"?{exchange.scope.get('query_string', b'').decode('latin-1')}"

    def checker(role: str, schema: Any) -> Any:
        return item_checker(service, operation, (status_key, media, role), schema)

    request = detached(exchange)  # events are made as they are first sent, maybe after this request

    def make(schema: Any, index: int, role: str) -> Any:
        return generate_valid(service, operation, schema if isinstance(schema, dict) else {}, f"{seed}#{index}",
                              checker(role, item_schema(entry) if role == "item" else schema), request)

    def valid(value: Any) -> bool:
        check = checker("item", item_schema(entry))
        return check is None or prefs.example is not None or accepts(check, value)

    return build_stream(kind, entry, example, not prefs.dynamic, make, valid)


def concrete_media(media: str, hint: Any) -> str:
    """A media range such as `*/*` is not a Content-Type; answer JSON or bytes in its place."""
    if "*" not in media:
        return content_type(media)
    if media.startswith(("application/", "*/")) and (is_json(media) or isinstance(hint, (dict, list))):
        return "application/json"
    return content_type("text/plain") if media.startswith("text/") else "application/octet-stream"


def generate_valid(service: Service, operation: Operation, schema: Any, seed: str, checker: Any,
                   exchange: Exchange) -> Any:
    """A generated body that passes the response schema (first with echoed request values), else the
    smallest value that does; never one that does not: then a 500 naming the schema's place."""
    candidate = fallback = None
    path = below_base(service.base_path, exchange.path) or exchange.path
    strict = exclusive_checker(operation, schema, service.openapi31) if checker is not None else None
    values = echoed_values(exchange) if isinstance(schema, dict) else {}
    for attempt in range(ATTEMPTS):
        options = Options(response=True, names=service.schema_names, attempt=attempt, use_examples=attempt < 2,
                          validator=checker_factory(service.openapi31, "response"), path=path,
                          null_when_allowed=attempt >= ATTEMPTS - 2, minimal=attempt == ATTEMPTS - 1)
        candidate = generate(schema, seed, options)
        echoed = echo(candidate, schema, exchange, values)
        for value in (echoed, candidate) if echoed is not candidate else (echoed,):
            if checker is None or accepts(checker, value):
                chosen = exclusive(value, strict, checker)
                if chosen is not None:
                    return chosen[0]
                fallback = fallback or (value,)  # fits, but several branches of a oneOf: draw again
    if fallback is not None:
        return fallback[0]
    for smallest in (make() for make in _SMALLEST):
        if accepts(checker, smallest):
            return smallest
    raise _unsatisfiable(operation, schema, checker, candidate)


# The last candidates (null, {}, [], "", 0, false): a schema with nothing to generate may take one.
_SMALLEST = (lambda: None, dict, list, str, int, bool)


def _unsatisfiable(operation: Operation, schema: Any, checker: Any, candidate: Any) -> Problem:
    """A 500 problem naming where in the spec the answer's schema cannot be met (logged once per operation)."""
    place = next((f"responses/{status}/content/{media.replace('~', '~0').replace('/', '~1')}/schema"
                  for status, response in operation.responses.items()
                  for media, entry in ((response or {}).get("content") or {}).items()
                  if isinstance(entry, dict) and entry.get("schema") is schema), "response schema")
    reason = "no generated value fits it"
    try:
        errors = explain(checker.iter_errors(candidate))
    except Exception as exc:  # the schema cannot be applied at all
        errors, reason = [], f"the schema cannot be checked: {exc}"
    if errors:
        place += schema_place(errors[0])
        reason = errors[0].message
    key = ("warned", "generation")
    if key not in operation.cache:
        operation.cache[key] = True
        log.warning("could not generate a valid body for %s %s at %s: %s", operation.service, operation.label, place, reason)
    return Problem(500, detail=f"{operation.label}: no answer fits the contract at {place}: {reason}"[:500],
                   title="Mock answer cannot fit the contract", slug="unsatisfiable-schema",
                   extra={"operation": operation.key, "schema_place": place})


def without_write_only(value: Any, schema: Any, depth: int = 0) -> Any:
    """An example with the properties its schema marks writeOnly taken out: those never belong in
    a response, though published examples often show them."""
    if depth > 32 or not isinstance(schema, dict):
        return value
    if isinstance(value, list):
        items = schema.get("items")
        return [without_write_only(v, items, depth + 1) for v in value] if isinstance(items, dict) else value
    if not isinstance(value, dict):
        return value
    properties: dict[str, Any] = {}
    for part in _branches(schema):
        properties.update(part.get("properties") or {})
    cleaned = {}
    for key, item in value.items():
        sub = properties.get(key)
        if isinstance(sub, dict) and sub.get("writeOnly"):
            continue
        cleaned[key] = without_write_only(item, sub, depth + 1)
    return cleaned


def _branches(schema: dict[str, Any], depth: int = 0) -> list[dict[str, Any]]:
    found = [schema]
    if depth < 8:
        for key in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(key) or []:
                if isinstance(part, dict):
                    found += _branches(part, depth + 1)
    return found


def body_validator(service: Service, operation: Operation, status: str, media: str) -> Any:
    """The response schema's validator: the contract checker's own (judge.py), compiled once."""
    return contract_body_validator(service, operation, status, media)



def _remember(cache: dict[Any, Any], key: Any, answer: Answer) -> None:
    """Bounded per operation, oldest out first."""
    if len(cache) >= CACHE_LIMIT:
        oldest = next((k for k in cache if k[0] not in ("validator", "warned")), None)
        if oldest is not None:
            del cache[oldest]
    cache[key] = answer


def echo(value: Any, schema: Any, exchange: Exchange, params: dict[str, Any] | None = None) -> Any:
    """Request path and query values reappear in the body where a property has their name; the
    path parameter of the last segment (`/cameras/{camera_id}`) also becomes the body's `id`.
    Declared parameters are echoed as validation decoded them (`?ids=1,2` is [1, 2]). `params`: the
    request's `echoed_values`, when the caller has them already (one request, several candidates)."""
    if not isinstance(value, dict) or not isinstance(schema, dict):
        return value
    params = echoed_values(exchange) if params is None else params
    properties = schema.get("properties") or {}
    echoed = None
    for name, raw in params.items():
        if name in value and isinstance(properties.get(name), dict):
            types = declared_types(properties[name])
            if isinstance(raw, (list, dict)) and ("array" if isinstance(raw, list) else "object") not in types:
                continue
            typed = raw if isinstance(raw, (list, dict)) else coerce_text(_text(raw), types)
            if typed != value[name]:
                echoed = echoed or dict(value)
                echoed[name] = typed
    return echoed if echoed is not None else value


def echoed_values(exchange: Exchange) -> dict[str, Any]:
    """The request's values by name, as `echo` puts them in a body: the query (the last of repeated keys),
    declared parameters as validation decoded them, path parameters over query ones, and `id`."""
    decoded = exchange.parameters
    query = exchange.scope.get("query_string", b"")
    raw = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True)) if query else {}  # what QueryParams reads
    params: dict[str, Any] = {**raw, **decoded.get("query", {})}
    path_params = {**exchange.path_params, **decoded.get("path", {})}
    params.update(path_params)
    operation = exchange.operation
    if operation is not None and path_params and operation.path.rstrip("/").endswith("}"):
        last = operation.path.rstrip("/").rsplit("{", 1)[-1].rstrip("}")
        if last in path_params and "id" not in params:
            params["id"] = path_params[last]
    return params


def _text(value: Any) -> str:
    """A decoded scalar as request text again, to be typed as the response property says."""
    return value if isinstance(value, str) else json.dumps(value)


def response_headers(service: Service, operation: Operation, definition: dict[str, Any]) -> list[tuple[str, str]]:
    """The response's declared headers, from their examples or generated from their schemas."""
    headers = []
    for name, header in (definition.get("headers") or {}).items():
        if name.lower() in ("content-type", "content-length", "transfer-encoding") or not isinstance(header, dict):
            continue
        schema = header.get("schema") or {"type": "string"}
        found, value = find_example(header, None)
        if not found:
            value = generate(schema, f"{operation.key}:{name}", Options(names=service.schema_names))
        headers.append((name, _header_text(value)))
    return headers


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_header_text(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k},{_header_text(v)}" for k, v in value.items())
    text = value if isinstance(value, str) else json.dumps(value)
    return "".join(ch for ch in text if 32 <= ord(ch) < 127)
