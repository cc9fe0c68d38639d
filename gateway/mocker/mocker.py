"""The stub answer, in DESIGN.md's order: recorded stub, then `Prefer`, then the spec's example,
then a body generated from the schema.

Whatever can be worked out once per operation (chosen response, example bytes) is cached on the
operation, so the hot path of an example answer does no schema work.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from ..exchange import Exchange, Response
from ..problems import Problem
from ..specs import Operation
from .generator import generate
from .negotiator import Preferences, choose_media, choose_status, find_example, parse_prefer, status_number

NO_BODY = {204, 304}


class StubSource(Protocol):
    """Recorded stubs (the stub store) answer first when one matches the request."""

    def match(self, exchange: Exchange) -> Response | None: ...


class Mocker:
    """Answers a request from the contract alone; never touches an upstream."""

    def __init__(self, stubs: StubSource | None = None) -> None:
        self.stubs = stubs

    async def answer(self, exchange: Exchange) -> Response:
        if self.stubs is not None:
            recorded = self.stubs.match(exchange)
            if recorded is not None:
                exchange.source = "recorded"
                return recorded
        operation = exchange.operation
        assert operation is not None
        prefs = parse_prefer(exchange.headers.get("prefer"))
        accept = exchange.headers.get("accept")
        cache_key = (prefs.code, prefs.example, accept)
        cached = operation.cache.get(cache_key)
        if cached is None and not prefs.dynamic:
            request_key = (*cache_key, exchange.path, exchange.scope.get("query_string", b""))
            cached = operation.cache.get(request_key)
        if cached is not None and not prefs.dynamic:
            exchange.source = cached[0]
            return _response(*cached[1:])
        answer = self._build(operation, prefs, accept, exchange)
        exchange.source = answer[0]
        if not prefs.dynamic:
            _remember(operation.cache, cache_key if answer[0] == "example" else request_key, answer)
        return _response(*answer[1:])

    def _build(self, operation: Operation, prefs: Preferences, accept: str | None,
               exchange: Exchange) -> tuple[str, int, list[tuple[str, str]], bytes]:
        status_key = choose_status(operation, prefs)
        status = status_number(status_key)
        definition = operation.responses.get(status_key) or {}
        content = definition.get("content") or {}
        headers = _generated_headers(definition, operation.key)
        if status in NO_BODY or not content:
            return "example", status, headers, b""
        media = choose_media(content, accept, operation)
        assert media is not None
        entry = content.get(media) or {}
        found, value = find_example(entry, prefs.example)
        if prefs.example is not None and not found:
            names = ", ".join(sorted((entry.get("examples") or {}).keys())) or "none"
            raise Problem(422, detail=f"Prefer: example={prefs.example}, but {operation.label} {status_key} "
                                      f"{media} has examples: {names}",
                          title="Preferred example is not in the contract", slug="prefer-not-declared")
        source = "example"
        if not found or prefs.dynamic:
            seed = _seed(operation, status_key, exchange, prefs.dynamic)
            value = generate(entry.get("schema") or {}, seed)
            value = _echo(value, entry.get("schema") or {}, exchange)
            source = "generated"
        headers.append(("content-type", media))
        return source, status, headers, _encode(value, media)


CACHE_LIMIT = 256


def _remember(cache: dict[Any, Any], key: Any, answer: tuple[Any, ...]) -> None:
    """Example answers depend on the operation only; generated ones on the request too. Both are
    kept (a bounded number per operation, oldest out first) so repeats cost no schema work."""
    if len(cache) >= CACHE_LIMIT:
        del cache[next(iter(cache))]
    cache[key] = answer


def _response(status: int, headers: list[tuple[str, str]], body: bytes) -> Response:
    return Response(status, list(headers), body)


def _seed(operation: Operation, status: str, exchange: Exchange, dynamic: bool) -> str:
    if dynamic:
        import os
        return os.urandom(8).hex()
    return f"{operation.service}:{operation.key}:{status}:{exchange.path}?{exchange.scope.get('query_string', b'').decode()}"


def _echo(value: Any, schema: dict[str, Any], exchange: Exchange) -> Any:
    """Request path and query values reappear in the body where a property has their name."""
    if not isinstance(value, dict):
        return value
    params = {**dict(exchange.query), **exchange.path_params}
    properties = schema.get("properties") or {}
    for name, raw in params.items():
        if name in value and isinstance(properties.get(name), dict):
            typed = _typed(raw, properties[name])
            if typed is not None:
                value[name] = typed
    return value


def _typed(raw: Any, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "enum" in schema and raw not in schema["enum"]:
        return None
    try:
        if "integer" in kinds:
            number = int(raw)
            low, high = schema.get("minimum"), schema.get("maximum")
            if (low is not None and number < low) or (high is not None and number > high):
                return None
            return number
        if "string" in kinds and "pattern" not in schema and "format" not in schema:
            return str(raw)
    except (TypeError, ValueError):
        return None
    return None


def _encode(value: Any, media: str) -> bytes:
    base = media.split(";")[0].strip().lower()
    if base == "application/json" or base.endswith("+json") or base == "*/*":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, ensure_ascii=False).encode()


def _generated_headers(definition: dict[str, Any], seed: str) -> list[tuple[str, str]]:
    headers = []
    for name, header in (definition.get("headers") or {}).items():
        if name.lower() == "content-type" or not isinstance(header, dict):
            continue
        if "example" in header:
            value = header["example"]
        else:
            value = generate(header.get("schema") or {"type": "string"}, seed + name)
        headers.append((name, value if isinstance(value, str) else json.dumps(value)))
    return headers
