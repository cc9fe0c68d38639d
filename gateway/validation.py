"""Request validation against the spec: every failure, each with its place.

Plugged into connexion's validation middleware (see routing.py). Validators are compiled once
per operation at start-up; a request pays only for running them. OpenAPI 3.0 schemas are read
with `nullable` and readOnly/writeOnly rules, 3.1 schemas as JSON Schema 2020-12.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

from connexion.lifecycle import ConnexionRequest
from connexion.middleware.request_validation import RequestValidationOperation
from connexion.operations import AbstractOperation
from connexion.utils import is_null
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import FormParser, MultiPartParser
from starlette.requests import cookie_parser

from .judge import Lenient, compile_schema, schema_errors
from .media_types import is_json
from .problems import validation_problem

Error = dict[str, Any]
__all__ = ["Lenient", "OperationValidator", "coerce_text", "compile_schema", "declared_types", "schema_errors"]


class _Parameter:
    """One declared parameter: where it lives, how to turn its text into a typed value, its validator."""

    __slots__ = ("explode", "item_types", "kind", "name", "nullable", "required", "types", "validator", "where")

    def __init__(self, definition: dict[str, Any], openapi31: bool) -> None:
        self.name: str = definition["name"]
        self.where: str = definition["in"]
        self.required: bool = bool(definition.get("required")) or self.where == "path"
        schema = definition.get("schema", definition)
        self.types: list[str] = declared_types(schema)
        self.nullable = bool(schema.get("nullable") or definition.get("x-nullable")) or "null" in self.types
        self.kind = "object" if self.types == ["object"] else "array" if self.types == ["array"] else "scalar"
        self.item_types: list[str] = declared_types(_items(schema))
        style = definition.get("style") or definition.get("collectionFormat")
        self.explode = definition.get("explode", style in (None, "form", "multi") and self.where in ("query", "cookie"))
        clean = {k: v for k, v in schema.items() if k not in ("name", "in", "required", "description")}
        self.validator = compile_schema(clean, openapi31, direction="parameter")

    def typed(self, raw: list[str]) -> Any:
        """The request's text for this parameter, typed as the schema says (left as text when it is not).
        Where the schema allows both a single value and a list (oneOf), the reading it accepts wins."""
        as_list = [coerce_text(value, self.item_types) for value in
                   (raw if self.explode else [part for value in raw for part in value.split(",")])]
        if self.kind == "array":
            return as_list
        single = coerce_text(raw[-1], self.types)
        if "array" in self.types and not _accepts(self.validator, single) and _accepts(self.validator, as_list):
            return as_list
        return single


def declared_types(schema: Any) -> list[str]:
    """Every JSON type a schema (or its allOf/oneOf/anyOf branches) names, in order."""
    if not isinstance(schema, dict):
        return []
    declared = schema.get("type")
    found = list(declared) if isinstance(declared, list) else [declared] if isinstance(declared, str) else []
    for key in ("allOf", "oneOf", "anyOf"):
        for branch in schema.get(key) or []:
            found += [t for t in declared_types(branch) if t not in found]
    return found


def _items(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return {}
    if isinstance(schema.get("items"), dict):
        return schema["items"]
    for key in ("allOf", "oneOf", "anyOf"):
        for branch in schema.get(key) or []:
            found = _items(branch)
            if found:
                return found
    return {}


def _accepts(validator: Any, value: Any) -> bool:
    try:
        return validator.is_valid(value)
    except Exception:
        return False


_BOOLEANS = {"true": True, "false": False}


def coerce_text(text: str, types: list[str]) -> Any:
    """Request text as the first of `types` it reads as (left as text when none fits)."""
    for kind in types:
        try:
            if kind == "integer":
                return int(text)
            if kind == "number":
                number = float(text)
                return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
        except ValueError:
            continue
        if kind == "boolean" and text.lower() in _BOOLEANS:
            return _BOOLEANS[text.lower()]
        if kind == "null" and text in ("", "null"):
            return None
    return text


_WILDCARDS = ("*/*", "application/*")


class OperationValidator(RequestValidationOperation):
    """Checks one operation's parameters and body; raises one problem listing every failure."""

    def __init__(self, next_app: Any, *, operation: AbstractOperation, openapi31: bool) -> None:
        super().__init__(next_app, operation=operation)
        self.openapi31 = openapi31
        # Swagger 2.0 body and formData parameters are part of the body schema; OpenAPI says header
        # parameters named Accept, Content-Type and Authorization are ignored.
        self.parameters = [_Parameter(p, openapi31) for p in operation.parameters
                           if p.get("in") not in ("body", "formData")
                           and not (p.get("in") == "header" and str(p.get("name", "")).lower() in _IGNORED_HEADERS)]
        self.uri_parser = operation.uri_parser_class(operation.parameters, operation.body_definition())
        self.body_required = bool(operation.request_body.get("required", False)) if operation.request_body else False
        self._json_validators: dict[str, Any] = {}
        self._form_validators: dict[str, tuple[Any, Any]] = {}
        if operation.request_body or any(p.get("in") in ("body", "formData") for p in operation.parameters):
            for media in operation.consumes:
                schema = operation.body_schema(media)
                if schema and is_json(media):
                    self._json_validators[media.lower()] = compile_schema(schema, openapi31)
                elif schema and media.lower() in _FORM_PARSERS:
                    self._form_validators[media.lower()] = (schema, compile_schema(schema, openapi31))
            if not operation.request_body:  # Swagger 2.0 body parameter
                self.body_required = any(p.get("in") == "body" and p.get("required") for p in operation.parameters)
        self.expects_body = bool(operation.request_body) or any(p.get("in") in ("body", "formData")
                                                                 for p in operation.parameters)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        errors = self.parameter_errors(scope)
        if not self.expects_body:
            if errors:
                raise validation_problem(errors, self.failure_status(errors))
            await self.next_app(scope, receive, send)
            return
        mime_type, encoding = self.extract_content_type(scope["headers"])
        if self._operation.consumes and (self._json_validators or self._form_validators or self.body_required):
            self.validate_mime_type(mime_type)
        validator = self._json_validator(mime_type)
        form = self._form_validators.get(mime_type.lower()) if mime_type else None
        if validator is not None or (self.body_required and is_json(mime_type or "")):
            body, receive = await _read_and_replay(receive)
            errors += self.body_errors(body, encoding, validator)
        elif form is not None:
            body, receive = await _read_and_replay(receive)
            errors += await self.form_errors(body, scope, *form)
        if errors:
            raise validation_problem(errors, self.failure_status(errors))
        await self.next_app(scope, receive, send)

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
        declared = {str(code) for code in (self._operation.responses or {})}
        body_only = all(e["in"] == "body" and not e["message"].startswith("not valid JSON") for e in errors)
        return 422 if body_only and "422" in declared and "400" not in declared else 400

    def parameter_errors(self, scope: Any) -> list[Error]:
        if not self.parameters:
            return []
        sources = _Sources(scope)
        errors: list[Error] = []
        for param in self.parameters:
            if param.kind == "object":
                value = self._object_parameter(scope, param)
            else:
                raw = sources.get(param.where, param.name)
                value = param.typed(raw) if raw else None
            if value is None:
                if param.required:
                    errors.append({"in": param.where, "name": param.name, "pointer": "",
                                   "message": f"required {param.where} parameter is missing"})
                continue
            if param.nullable and is_null(value):
                continue
            errors += schema_errors(param.validator, value, param.where, param.name)
        return errors

    def _object_parameter(self, scope: Any, param: _Parameter) -> Any:
        """Object parameters (deepObject, form-exploded objects) are parsed by connexion's URI parser."""
        request = ConnexionRequest(scope, uri_parser=self.uri_parser)
        values = {"query": request.query_params, "path": request.path_params, "header": request.headers,
                  "cookie": request.cookies}.get(param.where, {})
        return values.get(param.name)

    async def form_errors(self, body: bytes, scope: Any, schema: Any, validator: Any) -> list[Error]:
        """Form and multipart bodies: fields typed as the schema says, files standing in as ""."""
        if not body.strip():
            return [{"in": "body", "name": "", "pointer": "", "message": "a request body is required"}] \
                if self.body_required else []
        try:
            fields = await parse_form(body, scope, schema)
        except Exception as exc:  # starlette's parsers raise several kinds on malformed bodies
            return [{"in": "body", "name": "", "pointer": "", "message": f"malformed form body: {exc}"}]
        return schema_errors(validator, fields, "body", "")

    def body_errors(self, body: bytes, encoding: str, validator: Any) -> list[Error]:
        if not body.strip():
            if self.body_required:
                return [{"in": "body", "name": "", "pointer": "", "message": "a request body is required"}]
            return []
        try:
            document = json.loads(body.decode(encoding or "utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return [{"in": "body", "name": "", "pointer": "", "message": f"not valid JSON: {exc}"}]
        if validator is None:
            return []
        return schema_errors(validator, document, "body", "")


_IGNORED_HEADERS = {"accept", "content-type", "authorization"}
_FORM_PARSERS = {"application/x-www-form-urlencoded": FormParser, "multipart/form-data": MultiPartParser}


async def parse_form(body: bytes, scope: Any, schema: Any) -> dict[str, Any]:
    """A form body as the object its schema describes: one value per field unless the schema says
    array, text typed as the property says, uploaded files as "" (their bytes are not text)."""
    headers = Headers(scope=scope)

    async def stream() -> Any:
        yield body

    media = headers.get("content-type", "").split(";")[0].strip().lower()
    form = await _FORM_PARSERS[media](headers, stream()).parse()
    properties: dict[str, Any] = {}
    for part in _all_of(schema):
        properties.update(part.get("properties") or {})
    fields: dict[str, Any] = {}
    try:
        for key in form:
            values = ["" if isinstance(v, UploadFile) else v for v in form.getlist(key)]
            prop = properties.get(key, {})
            types = declared_types(prop)
            if "array" in types:
                fields[key] = [coerce_text(v, declared_types(_items(prop))) for v in values]
            else:
                fields[key] = coerce_text(values[-1], types)
    finally:
        await form.close()
    return fields


def _all_of(schema: Any) -> list[dict[str, Any]]:
    if not isinstance(schema, dict):
        return []
    return [schema, *[p for part in schema.get("allOf") or [] for p in _all_of(part)]]


class _Sources:
    """The request's parameter text by location, each parsed only when first asked for."""

    def __init__(self, scope: Any) -> None:
        self.scope = scope
        self._query: dict[str, list[str]] | None = None
        self._headers: dict[str, list[str]] | None = None
        self._cookies: dict[str, str] | None = None

    def get(self, where: str, name: str) -> list[str]:
        if where == "path":
            value = self.scope.get("path_params", {}).get(re.sub(r"\W", "_", name))
            return [value] if value is not None else []
        if where == "query":
            if self._query is None:
                self._query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            return self._query.get(name, [])
        if where == "header":
            if self._headers is None:
                self._headers = {}
                for key, value in self.scope["headers"]:
                    self._headers.setdefault(key.decode("latin-1"), []).append(value.decode("latin-1"))
            return self._headers.get(name.lower(), [])
        if where == "cookie":
            if self._cookies is None:
                self._cookies = cookie_parser(dict(self.scope["headers"]).get(b"cookie", b"").decode("latin-1"))
            return [self._cookies[name]] if name in self._cookies else []
        return []


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

