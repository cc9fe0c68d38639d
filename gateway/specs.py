"""Load OpenAPI documents into services and operations the rest of the gateway can use.

Reading a spec is three steps: parse the file (YAML or JSON), bundle references to other files
into the one document (so connexion, Swagger UI and the mocker all see a single self-contained
spec), then let connexion validate and resolve it. Every failure is a `SpecError`: file, place,
reason, on one line.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from connexion.exceptions import InvalidSpecification
from connexion.spec import OpenAPISpecification, Specification, Swagger2Specification
from jsonschema.exceptions import ValidationError
from openapi_spec_validator import validate as validate_openapi

from .config import ConfigError

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class SpecError(ConfigError):
    """A spec that cannot be served: `file: place: reason`."""


@dataclass
class Operation:
    """One method + path template of a service, with what the mocker and forwarder need."""

    service: str
    key: str  # operationId, or "GET /path" where the spec gives none
    method: str  # upper case
    path: str  # the spec's path template
    definition: dict[str, Any]  # the resolved operation object
    responses: dict[str, dict[str, Any]]  # status -> {"content": {media: {...}}, "headers": {...}}
    security: list[dict[str, list[str]]] | None = None
    idempotent: bool = False
    cache: dict[str, Any] = field(default_factory=dict)  # per-operation answers built once

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Service:
    """One downstream API: its loaded spec and operations."""

    name: str
    spec_file: Path
    base_path: str
    specification: Specification
    version: tuple[int, ...]
    operations: dict[str, Operation] = field(default_factory=dict)

    @property
    def openapi3(self) -> bool:
        return self.version >= (3, 0, 0)

    @property
    def openapi31(self) -> bool:
        return self.version >= (3, 1, 0)


def load_service(name: str, spec_file: Path, base_path: str) -> Service:
    """Read, bundle, validate and index one spec; raise SpecError on anything unusable."""
    raw = bundle(spec_file)
    _check_version(raw, spec_file)
    try:
        specification = _specification(raw, spec_file)
    except (InvalidSpecification, ValidationError) as exc:
        raise SpecError(str(spec_file), _place(exc), _reason(exc)) from None
    except (RecursionError, KeyError, TypeError, ValueError) as exc:
        raise SpecError(str(spec_file), "", f"cannot resolve the document: {exc}") from None
    service = Service(name, spec_file, base_path, specification, specification.version)
    for operation in _operations(service):
        if operation.key in service.operations:
            raise SpecError(str(spec_file), f"paths.{operation.path}.{operation.method.lower()}",
                            f"operationId {operation.key!r} is used twice")
        service.operations[operation.key] = operation
    return service


class _OpenAPI3(OpenAPISpecification):
    """connexion's OpenAPI 3 spec, checked by openapi-spec-validator (which knows 3.0 and 3.1;
    connexion's own check knows only 3.0)."""

    @classmethod
    def _validate_spec(cls, spec: dict[str, Any]) -> None:
        validate_openapi(spec)


def _specification(raw: dict[str, Any], spec_file: Path) -> Specification:
    base_uri = spec_file.resolve().as_uri()
    if str(raw.get("swagger", "")) == "2.0":
        return Swagger2Specification(raw, base_uri=base_uri)
    return _OpenAPI3(raw, base_uri=base_uri)


def read_document(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON file into a dict with string keys."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(str(path), "", exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise SpecError(str(path), "", "not UTF-8 text") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
    except json.JSONDecodeError as exc:
        raise SpecError(str(path), f"line {exc.lineno}, column {exc.colno}", f"not valid JSON: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(str(path), place, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise SpecError(str(path), "", "is not an OpenAPI document (expected a mapping at the top)")
    return data


class _Loader(yaml.SafeLoader):
    """Safe YAML with string keys (YAML reads `200:` as an int; JSON and OpenAPI want "200")."""


def _string_keys(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    pairs = loader.construct_pairs(node, deep=True)
    return {str(k): v for k, v in pairs}


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _string_keys)
# Dates in examples stay strings, as they arrive over JSON.
_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def bundle(spec_file: Path) -> dict[str, Any]:
    """The document with every reference to another file brought inside it.

    A reference to another file's component (`common.yaml#/components/schemas/Address`) is
    copied into this document's components (renamed on a clash) and pointed at locally, so
    circular references across files stay references instead of recursing forever.
    """
    root = read_document(spec_file)
    return _Bundler(spec_file.resolve(), root).run()


class _Bundler:
    def __init__(self, root_file: Path, root: dict[str, Any]) -> None:
        self.root_file = root_file
        self.root = root
        self.documents: dict[Path, dict[str, Any]] = {root_file: root}
        self.hoisted: dict[tuple[Path, str], str] = {}

    def run(self) -> dict[str, Any]:
        self._walk(self.root, self.root_file, "")
        return self.root

    def _walk(self, node: Any, base: Path, place: str) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                self._rewrite(node, ref, base, place)
            for key, value in list(node.items()):
                if key != "$ref":
                    self._walk(value, base, f"{place}.{key}" if place else key)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self._walk(value, base, f"{place}[{index}]")

    def _rewrite(self, node: dict[str, Any], ref: str, base: Path, place: str) -> None:
        file_part, _, pointer = ref.partition("#")
        if not file_part:
            if base != self.root_file:  # a local ref inside another file: it points into that file
                node["$ref"] = self._hoist(base, pointer, place)
            return
        if file_part.startswith(("http://", "https://")):
            raise SpecError(str(self.root_file), place, f"remote $ref {ref!r} is not supported: save the file beside the spec")
        target = (base.parent / unquote(file_part)).resolve()
        if target == self.root_file:
            node["$ref"] = f"#{pointer}"
            return
        node["$ref"] = self._hoist(target, pointer, place)

    def _hoist(self, file: Path, pointer: str, place: str) -> str:
        """Copy `file#pointer` into the root document once; return the local ref to it."""
        if (file, pointer) in self.hoisted:
            return self.hoisted[(file, pointer)]
        document = self._document(file, place)
        value = _follow(document, pointer, file, place)
        parts = [unquote(p).replace("~1", "/").replace("~0", "~") for p in pointer.strip("/").split("/") if p]
        section = parts[-2] if len(parts) >= 3 and parts[0] == "components" else "schemas"
        name = _safe_name(parts[-1] if parts else file.stem)
        components = self.root.setdefault("components", {}) if "openapi" in self.root else self.root
        bucket_name = section if "openapi" in self.root else {"schemas": "definitions", "parameters": "parameters",
                                                            "responses": "responses"}.get(section, "definitions")
        bucket = components.setdefault(bucket_name, {})
        unique, n = name, 2
        while unique in bucket:
            unique, n = f"{name}_{n}", n + 1
        local = (f"#/components/{bucket_name}/{unique}" if "openapi" in self.root else f"#/{bucket_name}/{unique}")
        self.hoisted[(file, pointer)] = local
        copied = copy.deepcopy(value)
        bucket[unique] = copied
        self._walk(copied, file, f"{file.name}#{pointer}")
        return local

    def _document(self, file: Path, place: str) -> dict[str, Any]:
        if file not in self.documents:
            if not file.exists():
                raise SpecError(str(self.root_file), place, f"$ref to {file.name}: no such file")
            self.documents[file] = read_document(file)
        return self.documents[file]


def _follow(document: Any, pointer: str, file: Path, place: str) -> Any:
    node = document
    for raw in [p for p in pointer.split("/") if p]:
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise SpecError(str(file), place, f"$ref target #{pointer} does not exist")
    return node


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "ref"


def _check_version(raw: dict[str, Any], spec_file: Path) -> None:
    version = raw.get("openapi") or raw.get("swagger")
    if version is None:
        raise SpecError(str(spec_file), "openapi", "missing: not an OpenAPI document (no `openapi` or `swagger` field)")
    text = str(version)
    if not (text.startswith("3.0") or text.startswith("3.1") or text == "2.0"):
        raise SpecError(str(spec_file), "openapi", f"version {text} is not supported (3.0, 3.1 and Swagger 2.0 are)")
    if not isinstance(raw.get("paths", {}), dict):
        raise SpecError(str(spec_file), "paths", "must be a mapping of paths to operations")


def _place(exc: InvalidSpecification) -> str:
    path = list(getattr(exc, "absolute_path", []) or getattr(exc, "path", []) or [])
    return ".".join(str(p) for p in path)


def _reason(exc: InvalidSpecification) -> str:
    message = str(getattr(exc, "message", "") or exc).splitlines()[0]
    return message[:300]


def _operations(service: Service) -> list[Operation]:
    spec = service.specification.spec
    raw_paths = service.specification.raw.get("paths", {})
    result = []
    for path, item in (spec.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            definition = item.get(method)
            if not isinstance(definition, dict):
                continue
            raw_definition = (raw_paths.get(path) or {}).get(method) or {}
            key = raw_definition.get("operationId") or f"{method.upper()} {path}"
            security = definition.get("security", spec.get("security"))
            result.append(Operation(
                service=service.name,
                key=str(key),
                method=method.upper(),
                path=path,
                definition=definition,
                responses=_responses(definition, spec, service.openapi3),
                security=security,
                idempotent=bool(definition.get("x-gw-idempotent", False)),
            ))
    return result


def _responses(definition: dict[str, Any], spec: dict[str, Any], openapi3: bool) -> dict[str, dict[str, Any]]:
    """Responses in OpenAPI 3 shape, whatever the spec's version."""
    responses = {str(k): v for k, v in (definition.get("responses") or {}).items() if isinstance(v, dict)}
    if openapi3:
        return responses
    produces = definition.get("produces") or spec.get("produces") or ["application/json"]
    converted = {}
    for status, response in responses.items():
        examples = response.get("examples") or {}
        content = {}
        if "schema" in response:
            for media in produces:
                entry: dict[str, Any] = {"schema": response["schema"]}
                if media in examples:
                    entry["example"] = examples[media]
                content[media] = entry
        headers = {name: {"schema": h} for name, h in (response.get("headers") or {}).items() if isinstance(h, dict)}
        converted[status] = {"description": response.get("description", ""), "content": content, "headers": headers}
    return converted
