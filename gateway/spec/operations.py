"""The operation model: what routing and request validation read from one operation of a spec.

One object per method + path, built from the resolved document (`Specification`), with OpenAPI's rules
for what an operation takes applied once, for every version:

* parameters: the path item's and the operation's, the operation's winning by (name, in);
* request body: 3.x `requestBody`; Swagger 2.0's `formData` parameters read as one object schema (each field's
  parameter as its encoding), else its `body` parameter (its `x-nullable` read as `nullable`);
* consumes: 3.x the request body's media types; 2.0 the operation's `consumes`, else the document's, else
  `application/json` (Swagger 2.0's default, as connexion applied it);
* the query parameter names that apiKey-in-query security schemes claim (never an exploded object's keys).

A malformed operation (two `body` parameters) raises `OperationShapeError` when its
body is read, so the spec trial leaves out that operation alone.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from .specification import Specification


class OperationShapeError(ValueError):
    """The operation cannot be read as OpenAPI says (say, two `body` parameters)."""


class OperationModel:
    """One operation of a spec as the router and the request validator read it."""

    def __init__(self, specification: Specification, path: str, method: str) -> None:
        self.path = path
        self.method = method.lower()
        self.swagger2 = specification.swagger2
        definition = specification.operation(path, self.method)
        self.definition = definition
        own = list(definition.get("parameters") or [])
        taken = {(p.get("name"), p.get("in")) for p in own}
        self.parameters: list[dict[str, Any]] = own + [p for p in specification.path_parameters(path)
                                                       if (p.get("name"), p.get("in")) not in taken]
        self.responses: dict[str, Any] = definition.get("responses") or {}
        self.security: list[dict[str, Any]] | None = definition.get("security", specification.security)
        self.security_schemes = specification.security_schemes
        self._request_body: dict[str, Any] | None = None
        if self.swagger2:
            self.consumes = list(definition.get("consumes", specification.consumes) or [])
        else:
            body = definition.get("requestBody") or {}
            self._request_body = body
            self.consumes = list((body.get("content") or {}).keys())

    @property
    def request_body(self) -> dict[str, Any]:
        """3.x: the `requestBody`; 2.0: the `body` parameter, or {"schema", "encoding"} of the `formData` ones; {}
        when the operation takes no body. Raises OperationShapeError for a 2.0 body OpenAPI does not allow."""
        if self._request_body is None:
            self._request_body = _swagger2_body(self.parameters, f"{self.method.upper()} {self.path}")
        return self._request_body

    @property
    def form_fields(self) -> list[dict[str, Any]]:
        """Swagger 2.0's `formData` parameters ([] for 3.x)."""
        return [p for p in self.parameters if p.get("in") == "formData"] if self.swagger2 else []

    def body_definition(self, media: str | None = None) -> dict[str, Any]:
        """The request body's entry for `media` (3.x: its `content` entry, exact or by media range, `type/*`
        before `*/*`; 2.0: the body itself); {} when there is none."""
        body = self.request_body
        if not body or self.swagger2:
            return body
        content = body.get("content") or {}
        if media is None:
            media = self.consumes[0] if self.consumes else ""
        if media in content:
            return content[media] or {}
        for key in sorted(content, key=lambda k: ("*" not in k, k), reverse=True):
            if fnmatchcase(media, key):
                return content[key] or {}
        return {}

    def body_schema(self, media: str | None = None) -> dict[str, Any]:
        """The body's schema for `media`; {} when none is declared."""
        schema = self.body_definition(media).get("schema")
        return schema if isinstance(schema, dict) else {}

    def takes(self, media: str) -> bool:
        """Whether `media` (a request's media type) is one the operation takes: any when it declares none,
        else one of its `consumes`, exact or by media range (`image/*`), ignoring case."""
        if not self.consumes:
            return True
        wanted = media.lower()
        return any(fnmatchcase(wanted, declared.lower()) for declared in self.consumes)

    @property
    def security_query_params(self) -> list[str]:
        """The query parameter names its apiKey-in-query security schemes read (a key, not a parameter)."""
        names = []
        for requirement in self.security or ():
            for scheme_name in requirement if isinstance(requirement, dict) else ():
                scheme = self.security_schemes.get(scheme_name)
                if isinstance(scheme, dict) and scheme.get("type") == "apiKey" and scheme.get("in") == "query":
                    names.append(str(scheme.get("name")))
        return names


def _swagger2_body(parameters: list[dict[str, Any]], label: str) -> dict[str, Any]:
    bodies = [p for p in parameters if p.get("in") == "body"]
    fields = [p for p in parameters if p.get("in") == "formData"]
    if fields:  # a form: formData fields are what a client can send (a stray `body` beside them is not read)
        return {"schema": swagger2_form_schema(fields), "encoding": {field["name"]: field for field in fields}}
    if len(bodies) > 1:
        raise OperationShapeError(f"{label}: There can be one 'body' parameter at most")
    if not bodies:
        return {}
    body = bodies[0]
    nullable = body.get("x-nullable")
    if nullable is not None and isinstance(body.get("schema"), dict):
        return {**body, "schema": {**body["schema"], "nullable": nullable}}
    return body


def swagger2_form_schema(fields: list[dict[str, Any]]) -> dict[str, Any]:
    """Swagger 2.0 formData parameters as one object schema, every schema word of each kept
    (enum, minimum, pattern...); a `file` is a binary string."""
    properties = {}
    for field in fields:
        prop = {k: v for k, v in field.items() if k not in _NOT_SCHEMA}
        if prop.get("type") == "file":
            prop = {"type": "string", "format": "binary"}
        if field.get("x-nullable"):
            prop["nullable"] = True
        properties[field["name"]] = prop
    required = [f["name"] for f in fields if f.get("required")]
    return {"type": "object", "properties": properties, **({"required": required} if required else {})}


_NOT_SCHEMA = {"name", "in", "required", "description", "collectionFormat", "allowEmptyValue", "x-nullable"}
