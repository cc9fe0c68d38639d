"""Request validation against the spec: every failure, each with its place.

The router (routing/router.py) calls one OperationValidator per operation, after the policies. Validators are
compiled once per operation at start-up from the operation model (spec/operations.py); a request pays only for
running them. OpenAPI 3.0 schemas are read with `nullable` and readOnly/writeOnly rules, 3.1 schemas as JSON
Schema 2020-12. Form bodies are parsed by Starlette's public parsers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl  # form bodies

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartParser

from ..contract.judge import accepts, compile_schema, schema_errors
from ..core.exchange import PARAMETERS, READ_BODY
from ..core.json_once import JsonOnce
from ..core.media_types import base_type, is_json
from ..core.problems import Problem, validation_problem
from ..spec.operations import OperationModel
from .serialization import (
    DecodeError,
    RequestText,
    brackets_hint,
    coerce_text,
    declared_types,
    decode_form,
    decode_header,
    decode_parameter,
    names_json,
    route_key,
    style_of,
    text_readings,
    text_types,
    typed,
)

if TYPE_CHECKING:
    from ..core.exchange import Exchange

Error = dict[str, Any]
__all__ = ["OperationValidator", "parse_form", "split_content_type"]


class _Parameter:
    """One declared parameter: where it lives, how it is serialized, its schema and validator."""

    __slots__ = ("allow_empty", "name", "nullable", "reader", "required", "route_key", "schema", "several_scalars", "shapes",
                 "style", "text_types", "validator", "where")

    def __init__(self, definition: dict[str, Any], openapi31: bool) -> None:
        self.name: str = definition["name"]
        self.where: str = definition["in"]
        self.required: bool = bool(definition.get("required")) or self.where == "path"
        self.style = style_of(definition, self.where)
        self.schema = schema = _parameter_schema(definition)
        types = declared_types(schema)
        self.nullable = bool(schema.get("nullable") or definition.get("x-nullable")) or "null" in types
        # the shapes the value may take, in the schema's order: a union of scalar and array tries both
        kinds = [{"object": "object", "array": "array"}.get(t, "scalar") for t in types] or ["scalar"]
        self.shapes = ["content"] if self.style.style == "content" else list(dict.fromkeys(kinds))
        self.allow_empty = bool(definition.get("allowEmptyValue"))
        self.text_types = text_types(schema)  # how `typed` reads a plain text value, worked out once
        self.several_scalars = len(types) > 1
        clean = {k: v for k, v in schema.items() if k not in ("name", "in", "required", "description", "collectionFormat",
                                                               "allowEmptyValue")}
        self.validator = compile_schema(clean, openapi31, direction="parameter")
        self.route_key = route_key(self.name)
        self.reader = self._reader()

    def _reader(self) -> Callable[[RequestText, frozenset[str], bool], Any]:
        """How the request's value is found, chosen once: a plain scalar in the path (style simple), the query (any
        style: a scalar is the key's last value) or a header straight from its place; the rest through decode_parameter."""
        if self.shapes == ["scalar"] and not self.several_scalars:
            if self.where == "path" and self.style.style == "simple":
                return self._path_scalar
            if self.where == "query":
                return self._query_scalar
            if self.where == "header":
                return self._header_scalar
        return self.read

    def _path_scalar(self, sources: RequestText, claimed: frozenset[str], brackets: bool) -> Any:
        """`read` for a scalar path parameter of style simple: its segment's text, typed."""
        raw = sources.scope.get("path_params", _NONE).get(self.route_key)
        if raw is None:
            return MISSING
        return coerce_text(raw, self.text_types) if type(raw) is str else typed(raw, self.schema)

    def _query_scalar(self, sources: RequestText, claimed: frozenset[str], brackets: bool) -> Any:
        """`read` for a scalar query parameter: the last value its name was sent with, typed."""
        last = sources.last
        raw = (sources.last_in_query() if last is None else last).get(self.name)
        return MISSING if raw is None else coerce_text(raw, self.text_types)

    def _header_scalar(self, sources: RequestText, claimed: frozenset[str], brackets: bool) -> Any:
        """`read` for a scalar header: its lines as one value, typed."""
        lines = sources.header(self.name)
        return coerce_text(decode_header(lines, "scalar", self.style), self.text_types) if lines else MISSING

    def read(self, sources: RequestText, claimed: frozenset[str], brackets: bool) -> Any:
        """The request's value for this parameter, decoded as its style says and typed as its schema
        says; MISSING when the request does not carry it. Where several shapes are possible (a oneOf
        of a value and a list), the reading the schema accepts wins. Raises DecodeError."""
        candidates: list[Any] = []
        failure: DecodeError | None = None
        for shape in self.shapes:
            try:
                raw = decode_parameter(sources, self.where, self.name, self.style, shape, self.schema, claimed, brackets)
            except DecodeError as exc:
                failure = failure or exc
                continue
            if raw is not None:
                candidates.append(coerce_text(raw, self.text_types) if type(raw) is str else typed(raw, self.schema))
                if self.several_scalars:  # `oneOf: [integer, string]`: `0` read as 0 and as "0"
                    candidates += text_readings(raw, self.schema)
        if not candidates:
            if failure is not None:
                raise failure
            return MISSING
        if len(candidates) == 1:
            return candidates[0]
        candidates = list({repr(value): value for value in candidates}.values())  # the first of equal readings
        return next((value for value in candidates if accepts(self.validator, value)), candidates[0])


MISSING = object()  # a parameter the request does not carry
_NONE: dict[str, Any] = {}


def _parameter_schema(definition: dict[str, Any]) -> dict[str, Any]:
    """The schema of a parameter: its own, its `content` media type's, or (Swagger 2.0) the parameter itself."""
    if isinstance(definition.get("schema"), dict):
        return definition["schema"]
    content = definition.get("content")
    if isinstance(content, dict):
        media = next(iter(content.values()), None)
        return (media.get("schema") or {}) if isinstance(media, dict) else {}
    return definition



_WILDCARDS = ("*/*", "application/*")
_Media = tuple[str, Any, Any, bool]  # (charset, JSON validator, form reading, body read as JSON)


class OperationValidator:
    """Checks one operation's parameters and body; raises one problem listing every failure."""

    def __init__(self, operation: OperationModel, *, openapi31: bool, brackets: bool = False) -> None:
        self.operation = operation
        self.openapi31 = openapi31
        self.brackets = brackets  # the service reads `a[b]=x` as nested everywhere, not only where deepObject says
        # Swagger 2.0 body and formData parameters are part of the body schema; OpenAPI says header
        # parameters named Accept, Content-Type and Authorization are ignored.
        self.parameters = [_Parameter(p, openapi31) for p in operation.parameters
                           if p.get("in") not in ("body", "formData")
                           and not (p.get("in") == "header" and str(p.get("name", "")).lower() in _IGNORED_HEADERS)]
        # which keys are some parameter's own, by location: never an exploded object's properties
        self.claimed = {where: frozenset(p.name for p in self.parameters if p.where == where) for where in _LOCATIONS}
        self.claimed["query"] |= frozenset(operation.security_query_params)
        form_fields = operation.form_fields
        request_body = operation.request_body  # raises for a Swagger 2.0 body OpenAPI does not allow
        takes_body = bool(request_body) or any(p.get("in") in ("body", "formData") for p in operation.parameters)
        # Swagger 2.0: a `required` body parameter; formData fields are required one by one (an empty form names them)
        self.body_required = bool(request_body.get("required", False)) if request_body and not form_fields else False
        self._json_validators: dict[str, Any] = {}
        self._form_validators: dict[str, tuple[Any, Any, dict[str, Any]]] = {}
        if takes_body:
            for media in operation.consumes:
                schema = self._checked_schema(media)
                if schema is not None and is_json(media):
                    self._json_validators[media.lower()] = compile_schema(schema, openapi31)
                elif schema is not None and base_type(media) in _FORM_MEDIA:
                    encoding = operation.body_definition(media).get("encoding") or {}
                    self._form_validators[base_type(media)] = (schema, compile_schema(schema, openapi31), encoding)
        self.form_fields_required = any(p.get("required") for p in form_fields)  # an empty form still names them
        self.expects_body = takes_body
        # worked out here, not per request: whether the Content-Type is checked against what the operation takes
        self.checks_media = bool(operation.consumes and (self._json_validators or self._form_validators
                                                         or self.body_required))
        self._media: dict[str | None, _Media] = {}  # Content-Type header -> what it means here (`_media_for`)
        declared = {str(code) for code in (operation.responses or {})}
        self.answers_422 = "422" in declared and "400" not in declared  # a bad body's refusal is a 422 (failure_status)

    def _checked_schema(self, media: str) -> dict[str, Any] | None:
        """The schema a body of `media` is checked against; None when it is not checked. A 3.x media type declared
        without a schema still says what the body is (JSON must parse, a form must read): checked against {}."""
        schema = self.operation.body_schema(media)
        if schema:
            return schema
        return {} if not self.operation.swagger2 and media in (self.operation.request_body.get("content") or {}) else None

    async def __call__(self, scope: Any, receive: Any, exchange: Exchange | None = None) -> Any:
        """Check the request (`scope`: as routed); raise its problem, or give the `receive` the rest of the walk
        reads the body from (the body replayed when validation read it)."""
        if not self.expects_body:
            self.check_parameters(scope)
            return receive
        errors = self.parameter_errors(scope) if self.parameters else []
        header = exchange.headers.get("content-type") if exchange is not None else Headers(scope=scope).get("content-type")
        encoding, validator, form, reads_json = self._media.get(header) or self._media_for(header)
        if reads_json:
            body, receive = await _read_and_replay(receive)
            shared = exchange.request_json(body, encoding or "utf-8") if exchange is not None else None
            errors += self.body_errors(body, encoding, validator, shared)
        elif form is not None:
            body, receive = await _read_and_replay(receive)
            errors += await self.form_errors(body, scope, *form)
        else:
            body = None
        if body is not None and exchange is not None:
            exchange.notes[READ_BODY] = body  # the journal keeps it: verification matches body fields
        if errors:
            raise validation_problem(errors, self.failure_status(errors))
        return receive

    def check_parameters(self, scope: Any) -> None:
        """The whole check of an operation that takes no body (nothing to read, so nothing to await): raises
        its problem."""
        errors = self.parameter_errors(scope)
        if errors:
            raise validation_problem(errors, self.failure_status(errors))

    def _check_media(self, mime_type: str) -> None:
        """A 415 for a media type the operation does not take (the wording gw has always answered with)."""
        if not self.operation.takes(mime_type):
            raise Problem(415, detail=f"Invalid Content-type ({mime_type}), expected {self.operation.consumes}")

    def _media_for(self, header: str | None) -> _Media:
        """What a Content-Type means for this operation's body: its charset, the JSON validator or form reading that
        applies, whether the body is read as JSON; a 415 when the operation does not take it. Worked out once per
        header value (bounded: MEDIA_REMEMBERED), as clients send few. With no Content-Type, the first type the
        operation takes."""
        mime_type, encoding = split_content_type(header)
        if mime_type is None:
            consumes = self.operation.consumes
            mime_type = consumes[0] if consumes else "application/octet-stream"
        if self.checks_media:
            self._check_media(mime_type)
        validator = self._json_validator(mime_type)
        form = self._form_validators.get(base_type(mime_type)) if mime_type and self._form_validators else None
        media = (encoding or "utf-8", validator, form, validator is not None or (self.body_required and is_json(mime_type)))
        if len(self._media) < MEDIA_REMEMBERED:
            self._media[header] = media
        return media

    def _json_validator(self, mime_type: str | None) -> Any:
        """The schema for a JSON body: its own media type's, else a wildcard's (`*/*` with a schema still
        describes the JSON it takes)."""
        if not mime_type:
            return None
        found = self._json_validators.get(mime_type.lower())
        if found is None and is_json(mime_type):
            found = next((self._json_validators[w] for w in _WILDCARDS if w in self._json_validators), None)
        return found

    def failure_status(self, errors: list[Error]) -> int:
        """400, or 422 for a well-formed body the spec answers with 422 (and not 400)."""
        if not self.answers_422:
            return 400
        body_only = all(e["in"] == "body" and not e["message"].startswith("not valid JSON") for e in errors)
        return 422 if body_only else 400

    def parameter_errors(self, scope: Any) -> list[Error]:
        """Every parameter's failures; the decoded values go into the scope (`PARAMETERS`), for the mock to echo."""
        if not self.parameters:
            return []
        sources = RequestText(scope)
        errors: list[Error] = []
        decoded: dict[str, dict[str, Any]] = {}
        for param in self.parameters:
            try:
                value = param.reader(sources, self.claimed.get(param.where, _NO_KEYS), self.brackets)
            except DecodeError as exc:
                errors.append({"in": param.where, "name": param.name, "pointer": "", "message": str(exc)})
                continue
            if value is MISSING:
                if param.required:
                    hint = "" if self.brackets or param.where != "query" else \
                        brackets_hint(key for key, _ in sources.query() if key.startswith(f"{param.name}["))
                    errors.append({"in": param.where, "name": param.name, "pointer": "",
                                   "message": f"required {param.where} parameter is missing{hint}"})
                continue
            decoded.setdefault(param.where, {})[param.name] = value
            if (param.nullable and _is_null(value)) or (param.allow_empty and value == ""):
                continue
            errors += schema_errors(param.validator, value, param.where, param.name)
        scope[PARAMETERS] = decoded
        return errors

    async def form_errors(self, body: bytes, scope: Any, schema: Any, validator: Any,
                          encoding: dict[str, Any]) -> list[Error]:
        """Form and multipart bodies: fields typed as the schema says, files standing in as ""."""
        if not body.strip() and not self.form_fields_required:
            return [{"in": "body", "name": "", "pointer": "", "message": "a request body is required"}] \
                if self.body_required else []
        try:
            fields = await parse_form(body, scope, schema, encoding, self.brackets) if body.strip() else {}
        except Exception as exc:  # starlette's parsers raise several kinds on malformed bodies
            return [{"in": "body", "name": "", "pointer": "", "message": f"malformed form body: {exc}"}]
        errors = schema_errors(validator, fields, "body", "")
        keys = fields if isinstance(fields, dict) else {}  # a form read as a list (an array body) has no field names
        hint = "" if self.brackets else brackets_hint(key for key in keys if any(key in e["message"] for e in errors))
        return [{**e, "message": e["message"] + hint} if hint and "[" in e["message"] else e for e in errors]

    def body_errors(self, body: bytes, encoding: str, validator: Any, parsed: JsonOnce | None = None) -> list[Error]:
        """`parsed`: the body's JSON as every later reader shares it (Exchange.request_json)."""
        if not body.strip():
            if self.body_required:
                return [{"in": "body", "name": "", "pointer": "", "message": "a request body is required"}]
            return []
        try:
            document = (parsed or JsonOnce(body, encoding or "utf-8")).value()
        except (ValueError, LookupError) as exc:  # malformed, undecodable, or beyond the gateway's json limits
            return [{"in": "body", "name": "", "pointer": "", "message": f"not valid JSON: {exc}"}]
        if validator is None:
            return []
        return schema_errors(validator, document, "body", "")


MEDIA_REMEMBERED = 32  # per operation: Content-Types a client sends are few; a stranger one is checked each time
_IGNORED_HEADERS = {"accept", "content-type", "authorization"}
_FORM_MEDIA = ("application/x-www-form-urlencoded", "multipart/form-data")
_LOCATIONS = ("path", "query", "header", "cookie")
_NO_KEYS: frozenset[str] = frozenset()


async def parse_form(body: bytes, scope: Any, schema: Any, encoding: dict[str, Any] | None = None,
                     brackets: bool = False) -> Any:
    """A form body as the object its schema describes, each field decoded as its `encoding` says
    (serialization.decode_form) and typed as its property says; uploaded files stand in as ""
    (their bytes are not text) unless they hold JSON."""
    headers = Headers(scope=scope)
    encoding = encoding or {}
    if base_type(headers.get("content-type", "")) != "multipart/form-data":
        pairs: list[tuple[str, Any]] = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return typed(decode_form(pairs, schema, encoding, brackets), schema)

    async def stream() -> Any:
        yield body

    form = await MultiPartParser(headers, stream()).parse()
    try:
        pairs = [(key, await _part_text(key, value, encoding)) for key, value in form.multi_items()]
    finally:
        await form.close()
    return typed(decode_form(pairs, schema, encoding, brackets), schema)


async def _part_text(name: str, value: Any, encoding: dict[str, Any]) -> str:
    """A multipart part as text: a field as it is, a file as "" unless it (or its encoding) says JSON."""
    if not isinstance(value, UploadFile):
        return value
    declared = str((encoding.get(name) or {}).get("contentType") or "")
    if any(names_json(media) for media in [value.content_type or "", *declared.split(",")]):
        return (await value.read()).decode("utf-8", "replace")
    return ""


async def _read_and_replay(receive: Any) -> tuple[bytes, Any]:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay



def split_content_type(content_type: str | None) -> tuple[str | None, str | None]:
    """A Content-Type as (media type, charset), other parameters ignored; (None, None) without one. The media type
    is the text before the first `;` as sent, the charset the value of the first `charset=` parameter."""
    if content_type is None:
        return None, None
    if ";" not in content_type:
        return content_type, None
    mime_type, parameters = content_type.split(";", maxsplit=1)
    charset = None
    for parameter in parameters.split(";"):
        if parameter.startswith("charset="):
            charset = parameter[len("charset="):]
    return mime_type, charset


def _is_null(value: Any) -> bool:
    """A nullable parameter's null: no value, or the text `null` or `None`."""
    return value is None or (isinstance(value, str) and value.strip() in ("null", "None"))
