"""Load OpenAPI documents into services and operations the rest of the gateway can use.

Reading a spec is three steps: parse the file (YAML or JSON), bundle references to other files
into the one document (so the router, Swagger UI and the mocker all see a single self-contained
spec), then check it and resolve its references in place (spec/specification.py). Every failure is a `SpecError`: file, place,
reason, on one line.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..contract.judge import learn_schema_names
from ..core.wording import counted
from ..routing.paths import collapse, slash_twin
from ..settings.config import ConfigError, GatewayConfig, ServiceConfig, mount_prefix
from .checks import ContentKey, SpecError, cached_warnings, check_in_background, merge_warnings, semantic_warnings
from .draft import HTTP_METHODS, operations_of, servable
from .fetch import fetch_spec, is_url
from .loops import break_schema_loops
from .media_headers import media_header_types
from .nullable import nullable_as_31
from .plain_copy import plain_copy
from .refs import RefError, bundle
from .safe_yaml import AliasBomb, load_yaml
from .slips import schema_slips
from .specification import Specification
from .structure import finding_lines, structural_findings
from .trial import leave_out_unbuildable
from .walk import survey

__all__ = ["Bundled", "Operation", "Service", "SpecError", "below_base", "bundle_spec", "find_operation", "load_service",
           "path_specificity", "path_template", "read_document", "route_order"]

log = logging.getLogger("gw.specs")
Bundled = tuple[dict[str, Any], list[tuple[str, str]]]  # a bundled document and its unresolved references


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
    warnings: list[str] = field(default_factory=list)
    schema_names: dict[int, str] = field(default_factory=dict)  # id(resolved schema) -> component name
    brackets: bool = False  # the service's `brackets` setting: `a[b]=x` read as nested in every query and form
    left_out: set[str] = field(default_factory=set)  # keys of the spec's operations that could not be served (warned)

    @property
    def title(self) -> str:
        """The spec's `info.title`, else the service's name."""
        info = self.specification.raw.get("info") or {}
        return str(info.get("title") or self.name)

    @property
    def openapi3(self) -> bool:
        return self.version >= (3, 0, 0)

    @property
    def openapi31(self) -> bool:
        return self.version >= (3, 1, 0)


@dataclass
class LoadResult:
    """The configured services' specs, loaded (by name), and one SpecError for each that could not be."""

    services: dict[str, Service] = field(default_factory=dict)
    errors: list[SpecError] = field(default_factory=list)


def bundle_spec(spec_file: Path, read: Callable[[Path], dict[str, Any]] | None = None) -> Bundled:
    """The spec's document with other files brought in, and the references that could not be (place, reason)."""
    unresolved: list[tuple[str, str]] = []
    try:
        return bundle(spec_file, read or read_document, unresolved), unresolved
    except RefError as exc:
        raise SpecError(exc.source or str(spec_file), exc.key, exc.reason) from None
    except RecursionError:
        raise SpecError(str(spec_file), "", "the document nests too deeply to read") from None


def load_service(name: str, spec_file: Path, base_path: str, deep_check: str = "now",
                 bundled: Bundled | None = None) -> Service:
    """Read, bundle, check and index one spec; raise SpecError only on what cannot be served.

    A draft (no `info`, responses without `description`, unknown keys), examples or defaults that
    disagree with their schemas, and operations whose `$ref` leads nowhere (left out) all load, with
    a located warning each. Refused: not YAML/JSON, not OpenAPI, no operation to serve.
    `deep_check` says when the semantic warnings are worked out: "now", "later" (in the background,
    so a large spec starts at once) or "cached" (only what an earlier check of this content found).
    `bundled`: the document already read and bundled (`bundle_spec`), as a hot reload's worker hands it over.
    """
    with _gc_paused():
        return _load_service(name, spec_file, base_path, deep_check, bundled)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a spec loads: its nodes all live on, and each full collection
    would walk every one of them again (a fifth of a large spec's load)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _load_service(name: str, spec_file: Path, base_path: str, deep_check: str, bundled: Bundled | None) -> Service:
    started = time.perf_counter()
    raw, unresolved = bundled or bundle_spec(spec_file)
    try:
        _check_version(raw, spec_file)
        raw, keywords = _as_31(raw)
        as_written = raw
        walked = survey(raw)  # one walk for every step below (again only when a step serves a changed copy)
        raw, nullables = nullable_as_31(raw, spec_file, walked.marked)
        raw, media_headers = media_header_types(raw, spec_file)
        walked = walked if raw is as_written else survey(raw)
        loops = break_schema_loops(raw, spec_file, walked.refs)  # before anything resolves or walks the schemas
        key = ContentKey(raw)  # the document's text hashed once: the structure and deep checks' caches share it
        findings = [f for f in structural_findings(raw, key) if not (f[0] and f[0][-1] in keywords)]
        warnings = finding_lines(findings, spec_file) + loops + nullables + media_headers
        had_paths = bool(raw.get("paths"))
        served, left_out = servable(raw, spec_file, unresolved, findings, walked.refs)
        served, slips = schema_slips(served, spec_file, walked.marked if served is raw else None)
        warnings += left_out + slips
        key = key if served is raw else ContentKey(served)  # a draft serves a patched copy: its own key
        deep = semantic_warnings(served, spec_file, key) if deep_check == "now" else cached_warnings(key, spec_file)
        to_check = deep_check == "later" and deep is None
        # the background check reads the document as served before references resolve: the specification keeps
        # such a copy (`raw`), unless a draft's unbuildable operations are taken out of it below (then its own copy)
        unchecked = plain_copy(served) if to_check and warnings else None
        specification = Specification(served)
        if warnings:  # a draft: an operation that cannot be built is left out, not the whole spec
            unbuildable = _unbuildable(specification, spec_file)
            warnings += unbuildable
            left_out += unbuildable
        _check_operations(had_paths, specification.spec, spec_file, left_out)
    except RefError as exc:
        raise SpecError(exc.source or str(spec_file), exc.key, exc.reason) from None
    except RecursionError:
        raise SpecError(str(spec_file), "", "the document nests too deeply to read") from None
    service = Service(name, spec_file, base_path, specification, specification.version,
                      warnings=merge_warnings(warnings, deep or []), schema_names=_schema_names(specification.spec))
    learn_schema_names(specification.spec)
    if to_check:
        check_in_background(specification.raw if unchecked is None else unchecked, spec_file, service.warnings, key)
    _index_operations(service)
    service.left_out = {_key(path, method, operation) for path, method, operation in operations_of(raw)} - set(service.operations)
    log.debug("%s: loaded %s in %.2f s", spec_file, counted(len(service.operations), "operation"), time.perf_counter() - started)
    return service


def _key(path: str, method: str, operation: dict[str, Any]) -> str:
    """An operation's key: its operationId, or "GET /path" where the spec gives none."""
    return str(operation.get("operationId") or f"{method.upper()} {path}")


def _unbuildable(specification: Specification, spec_file: Path) -> list[str]:
    return [f"{spec_file}: paths.{path}.{method}: cannot be served ({reason}); {method.upper()} {path} is left out"
            for path, method, reason in leave_out_unbuildable(specification)]


def _check_operations(had_paths: bool, spec: dict[str, Any], spec_file: Path, left_out: list[str]) -> None:
    """Refuse a document with nothing to serve: no operation at all, or every one left out."""
    if operations_of(spec):
        return
    if had_paths and left_out:
        raise SpecError(str(spec_file), "paths", f"no operation can be served ({left_out[0].removeprefix(f'{spec_file}: ')})")
    raise SpecError(str(spec_file), "paths", "no operations to serve: the document describes no path with a method")


def _index_operations(service: Service) -> None:
    """The service's operations by key; an operationId used twice keys the later one by method and path."""
    for operation in _operations(service):
        if operation.key in service.operations:
            service.warnings.append(f"{service.spec_file}: paths.{operation.path}.{operation.method.lower()}.operationId: "
                                    f"{operation.key!r} is used twice; this one is {operation.label}")
            operation.key = operation.label
        service.operations[operation.key] = operation


def path_specificity(path: str) -> tuple[tuple[int, ...], ...]:
    """Sort key for path templates, most specific first, segment by segment from the left: a literal
    segment before one mixing literal text and parameters (`{model}:generate`, `report.{format}`, the
    more literal characters the earlier), before a bare parameter. So `/users/me` beats `/users/{id}`,
    `/a/b/{x}` beats `/a/{x}/{y}`, `/a/{x}/c` beats `/a/{x}/{y}`, `/models/{m}:generate` beats `/models/{m}`."""
    return tuple(_segment_specificity(segment) for segment in path.split("/"))


def _segment_specificity(segment: str) -> tuple[int, ...]:
    parameters = len(_PARAMETER.findall(segment))
    if not parameters:
        return (0,)
    literal = len(_PARAMETER.sub("", segment))
    return (1, -literal, parameters) if literal else (2, 0, parameters)


_PARAMETER = re.compile(r"\{[^}/]+\}")


def find_operation(services: dict[str, Service], method: str, path: str) -> tuple[Service, Operation] | None:
    """The service whose base path holds `path` (longest first), and its operation for method + path,
    tried in the router's order (`route_order`)."""
    for service in sorted(services.values(), key=lambda s: -len(s.base_path)):
        relative = below_base(service.base_path, path)
        if relative is None:
            continue
        by_path = {op.path: op for op in service.operations.values() if op.method == method}
        relative = collapse(relative)
        for template, declared in route_order(by_path):
            if path_template(template).fullmatch(relative):
                return service, by_path[declared]
    return None


def route_order(paths: Iterable[str]) -> list[tuple[str, str]]:
    """(template to match, declared path) pairs in the order the router tries them: every declared path,
    and its trailing-slash twin (`/x/` for `/x`) where the spec does not declare that too, most specific
    first (`path_specificity`), the spec's order between equals. A stray slash reaches the operation."""
    declared = list(dict.fromkeys(paths))
    pairs = [(path, path) for path in declared]
    pairs += [(twin, path) for path in declared if (twin := slash_twin(path)) is not None and twin not in declared]
    return sorted(pairs, key=lambda pair: path_specificity(pair[0]))


def below_base(base_path: str, path: str) -> str | None:
    """The part of `path` below a service's base path (`/` at least), or None when it is not below it."""
    base = mount_prefix(base_path)
    if base and not (path == base or path.startswith(base + "/")):
        return None
    return path[len(base):] or "/"


def path_template(path: str) -> re.Pattern[str]:
    """A spec path template (`/rooms/{room}`) as a pattern to `fullmatch`: each parameter one segment (it never
    spans a slash, it may hold any other character, an encoded newline too), captured in a group of its own.
    The one reading of a template: the router's table (routing/table.py) and the WebSocket paths match with it."""
    parts = _TEMPLATE_PARAMETER.split(path)
    return re.compile("".join("([^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)))


_TEMPLATE_PARAMETER = re.compile(r"{([^{}]+)}")  # the parameters of a path template, their names in the group


def read_document(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON file into a dict with string keys."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(str(path), "", exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise SpecError(str(path), "", "not UTF-8 text") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else load_yaml(text)
    except json.JSONDecodeError as exc:
        raise SpecError(str(path), f"line {exc.lineno}, column {exc.colno}", f"not valid JSON: {exc.msg}") from None
    except AliasBomb as exc:
        raise SpecError(str(path), "", f"refused: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(str(path), place, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise SpecError(str(path), "", "is not an OpenAPI document (expected a mapping at the top)")
    return data


# OpenAPI 3.2 keeps 3.1's schema dialect and adds keywords gw reads where it knows them (`itemSchema`
# for streams); the checks know 3.1, so a 3.2 document is served as 3.1.
KEYWORDS_32 = frozenset({"itemSchema", "itemEncoding", "prefixEncoding", "$self", "additionalOperations", "query",
                         "dataValue", "serializedValue", "defaultMapping", "parent", "kind", "summary", "name",
                         "oauth2MetadataUrl", "deprecated"})


def _as_31(raw: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    """A 3.2 document as the 3.1 one it extends (the version read as 3.1.1, its own keywords kept and not
    warned about), and the keywords that are its own."""
    if not str(raw.get("openapi", "")).startswith("3.2"):
        return raw, frozenset()
    return {**raw, "openapi": "3.1.1"}, KEYWORDS_32


def _check_version(raw: dict[str, Any], spec_file: Path) -> None:
    version = raw.get("openapi") or raw.get("swagger")
    if version is None:
        raise SpecError(str(spec_file), "openapi", "missing: not an OpenAPI document (no `openapi` or `swagger` field)")
    text = str(version)
    if not (text.startswith(("3.0", "3.1", "3.2")) or text == "2.0"):
        raise SpecError(str(spec_file), "openapi", f"version {text} is not supported (3.0, 3.1, 3.2 and Swagger 2.0 are)")
    if not isinstance(raw.get("paths", {}), dict):
        raise SpecError(str(spec_file), "paths", "must be a mapping of paths to operations")


def _schema_names(spec: dict[str, Any]) -> dict[int, str]:
    """Named schemas by identity: a discriminator without a mapping refers to schemas by name."""
    schemas = (spec.get("components") or {}).get("schemas") or spec.get("definitions") or {}
    return {id(schema): name for name, schema in schemas.items() if isinstance(schema, dict)}


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
            key = _key(path, method, raw_definition)
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
        content: dict[str, Any] = {}
        for media in produces:
            entry: dict[str, Any] = {"schema": response["schema"]} if "schema" in response else {}
            if media in examples:
                entry["example"] = examples[media]
            content[media] = entry
        headers = {name: {"schema": h} for name, h in (response.get("headers") or {}).items() if isinstance(h, dict)}
        converted[status] = {"description": response.get("description", ""), "content": content, "headers": headers}
    return converted


def load_spec(config: GatewayConfig, settings: ServiceConfig, deep_check: str = "later", **how: Any) -> Service:
    """One service's spec (fetched first when it is a URL); `how`: what `load_service` takes beyond the file."""
    note = fetch_spec(settings.spec, read=read_document)[1] if is_url(settings.spec) else None
    path = config.spec_path(settings)
    if note is None and not is_url(settings.spec) and not path.exists() and not config.source.startswith("<"):
        raise ConfigError(config.source, f"services.{settings.name}.spec", f"{settings.spec}: no such file")
    service = load_service(settings.name, path, settings.base_path, deep_check, **how)
    service.warnings[:0] = [note] if note else []
    return service
