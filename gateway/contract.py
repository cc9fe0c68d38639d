"""Does a response honour the contract? One checker, built on openapi-core, for every place that asks:
the validation proxy (live, record, fallback and spy answers), `gw stubs verify`, recording and
HAR import.

The status must be declared (or covered by `2XX`/`default`), the media type offered, a JSON body
valid against its schema, and the declared headers present and valid. openapi-core does the
judging; what we add is speed: the operation is already known (connexion routed it), so its
response validator is built once per operation and its schema validators once per schema,
instead of finding the path and compiling validators on every response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jsonschema_path import SchemaPath
from openapi_core import V30ResponseValidator, V31ResponseValidator
from openapi_core.deserializing.media_types.util import json_loads
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.exceptions import ValidationError
from openapi_core.validation.response.exceptions import MissingData, MissingRequiredHeader
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers

from .media_types import base_type, is_json
from .specs import Operation, Service

MAX_REPORTED = 10


@dataclass(frozen=True)
class Violation:
    """One way a response breaks its operation's contract: where, and what."""

    where: str  # status | content-type | body/pointer | header NAME
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where not in ("status", "content-type") else self.message


def response_violations(service: Service, operation: Operation, status: int, content_type: str, body: bytes | None,
                        headers: dict[str, str] | None = None) -> list[str]:
    """Each way the response breaks the operation's declared responses, as short sentences (a stream's
    events judged one by one: `gw stubs verify` and HAR import see a recorded SSE stream's drift)."""
    from .stream_contract import whole_stream_violations  # it builds on this module's Violation

    found = check_response(service, operation, status, content_type, body, headers)
    if body:
        found += whole_stream_violations(service, operation, status, content_type, body)
    return [str(v) for v in found]


def check_response(service: Service, operation: Operation, status: int, content_type: str, body: bytes | None,
                   headers: dict[str, str] | None = None) -> list[Violation]:
    """The violations of one response; `body=None` when it was streamed and not read (not checked)."""
    validator, operation_path = _validator(service, operation)
    declared = operation.responses
    key = _declared_status(declared, status)
    if key is None:
        listed = ", ".join(sorted(declared)) or "none"
        return [Violation("status", f"status {status} is not declared (declared: {listed})")]
    mimetype = base_type(content_type) if content_type else ""
    lowered = Headers(list((headers or {}).items()))  # looked up case-insensitively, as HTTP means
    found: list[Violation] = []
    if body and is_json(mimetype or "application/json"):
        errors = validator._iter_errors(status, body, lowered, mimetype, operation_path)
    else:
        errors = validator._iter_headers_errors(status, lowered, operation_path)
        found += _media_violation(declared[key], status, mimetype, body)
    for error in errors:
        found += _explain(error, status, mimetype)
        if len(found) >= MAX_REPORTED:
            break
    return found[:MAX_REPORTED]


def short_reason(violations: list[Violation]) -> str:
    """One line for a response header: the first violation, and how many more."""
    first = str(violations[0])[:160]
    more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
    return (first + more).encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")


class _Built:
    """One of openapi-core's factories, keeping what it builds: stock openapi-core compiles a schema
    validator (format checker included) and a media-type deserializer anew for every response."""

    def __init__(self, factory: Any) -> None:
        self._factory = factory
        self._built: dict[tuple[Any, ...], Any] = {}

    def create(self, *args: Any, **kwargs: Any) -> Any:
        key = tuple(_identity(a) for a in args) + tuple((k, _identity(v)) for k, v in sorted(kwargs.items()))
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = self._factory.create(*args, **kwargs)
        return built

    def __getattr__(self, name: str) -> Any:
        return getattr(self._factory, name)


def _identity(value: Any) -> Any:
    """A hashable stand-in: a SchemaPath by its place in the document, mappings by content, the rest by id."""
    if isinstance(value, SchemaPath):
        return ("path", tuple(value.parts))
    if isinstance(value, (str, int, float, type(None))):
        return value
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _identity(v)) for k, v in value.items())))
    return ("id", id(value))


def _validator(service: Service, operation: Operation) -> tuple[Any, SchemaPath]:
    """The operation's responses as a one-operation document (Swagger 2 already in OpenAPI 3 shape)."""
    cached = operation.cache.get("contract")
    if cached is None:
        method = operation.method.lower()
        document = {"openapi": "3.1.0" if service.openapi31 else "3.0.3", "info": {"title": service.name, "version": "-"},
                    "paths": {"/": {method: {"responses": operation.responses}}}}
        spec = SchemaPath.from_dict(document)
        json_media = {base_type(m): json_loads for r in operation.responses.values() for m in (r.get("content") or {})
                      if is_json(m) and base_type(m) != "application/json"}  # problem+json, vnd.x+json...
        kind = V31ResponseValidator if service.openapi31 else V30ResponseValidator
        validator = kind(spec, extra_media_type_deserializers=json_media)
        validator.schema_validators_factory = _Built(validator.schema_validators_factory)
        validator.media_type_deserializers_factory = _Built(validator.media_type_deserializers_factory)
        cached = operation.cache["contract"] = (validator, spec / "paths" / "/" / method)
    return cached


def _declared_status(declared: dict[str, Any], status: int) -> str | None:
    text = str(status)
    return next((k for k in (text, f"{text[0]}XX", f"{text[0]}xx", "default") if k in declared), None)


def _media_violation(response: dict[str, Any], status: int, mimetype: str, body: bytes | None) -> list[Violation]:
    content = response.get("content") or {}
    if not content or not body or _declared_media(content, mimetype):
        return []
    return [Violation("content-type", f"content type {mimetype or '(none)'} is not declared for {status} "
                                      f"(declared: {', '.join(content)})")]


def _declared_media(content: dict[str, Any], received: str) -> bool:
    for media in content:
        declared = base_type(media)
        if declared in (received, "*/*", "") or (declared.endswith("/*") and received.startswith(declared[:-1])):
            return True
    return False


def _explain(error: Exception, status: int, mimetype: str) -> list[Violation]:
    """openapi-core's exception, as our short sentences with a place."""
    cause = error.__cause__ if isinstance(error, ValidationError) and error.__cause__ else error
    if isinstance(cause, ResponseNotFound):
        return [Violation("status", f"status {status} is not declared (declared: {', '.join(cause.responses)})")]
    if isinstance(cause, MediaTypeNotFound):
        return [Violation("content-type", f"content type {mimetype or '(none)'} is not declared for {status} "
                                          f"(declared: {', '.join(cause.availableMimetypes)})")]
    if isinstance(cause, MissingData):
        return []  # an empty body: nothing to judge (HEAD, 204-like answers)
    if isinstance(cause, MissingRequiredHeader):
        return [Violation(f"header {cause.name}", "required header is missing")]
    name = getattr(error, "name", None)
    where = f"header {name}" if name else "body"
    if isinstance(cause, InvalidSchemaValue):
        return [Violation(where + _pointer(e), e.message[:200]) for e in cause.schema_errors]
    return [Violation(where, str(cause)[:200] or type(cause).__name__)]


def _pointer(error: Any) -> str:
    return "".join(f"/{p}" for p in error.absolute_path)
