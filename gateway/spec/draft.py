"""Serve what can be served of a draft spec.

Frontend teams' specs are often drafts: no `info`, responses without `description`, a `$ref` to a
schema not written yet. The user is told each slip (spec_structure, spec_checks); the gateway serves a copy
patched with harmless defaults where the document lacks what the operation model and the mocker read, and
leaves out only the operations that need a reference that leads nowhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .checks import broken_refs
from .plain_copy import plain_copy
from .refs import RefError, pointer_target
from .structure import Finding
from .walk import LocalRefs

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PARAMETER_PLACES = {"query", "header", "path", "cookie", "body", "formData"}
Broken = list[tuple[str, dict[str, Any], str]]


def servable(raw: dict[str, Any], spec_file: Path, unresolved: list[tuple[str, str]],
             findings: list[Finding], refs: LocalRefs | None = None) -> tuple[dict[str, Any], list[str]]:
    """The document to serve (`raw` itself when it is sound) and a warning per thing left out.

    `findings`: where the document breaks the OpenAPI structure; in the copy, a value of the wrong
    type or outside its allowed set is dropped (the default applies, as for a key not written).
    `refs`: `raw`'s local references (`survey`), when the loader found them already.
    """
    broken = broken_refs(raw, unresolved, refs)
    if not broken and not findings:
        return raw, []
    served = plain_copy(raw)
    _drop_wrong_values(served, findings)
    broken = broken_refs(served, unresolved)  # the same places, on the copy's nodes
    warnings = _leave_out(served, broken, spec_file) if broken else []
    for _place, node, _reason in broken:
        node.pop("$ref", None)  # nothing served reaches it now; resolving must not trip on it
    _fill_defaults(served, spec_file)
    return served, warnings


_WRONG_VALUE = ("is not of type", "is not one of", "should be non-empty", "is too short", "is not valid under any",
                "does not match", "unknown key", "is less than", "is greater than", "non-unique")


def _drop_wrong_values(served: dict[str, Any], findings: list[Finding]) -> None:
    """Delete each mapping entry the structure check found a wrong value at (deepest first)."""
    for path, reason in sorted(findings, key=lambda finding: -len(finding[0])):
        if not path or not isinstance(path[-1], str) or not any(kind in reason for kind in _WRONG_VALUE):
            continue
        parent: Any = served
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else \
                parent[part] if isinstance(parent, list) and isinstance(part, int) and part < len(parent) else None
        if isinstance(parent, dict) and path[-1] != "$ref":
            parent.pop(path[-1], None)


def operations_of(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation object in the document."""
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return []
    return [(path, method, item[method]) for path, item in paths.items() if isinstance(item, dict)
            for method in HTTP_METHODS if isinstance(item.get(method), dict)]


def _leave_out(served: dict[str, Any], broken: Broken, spec_file: Path) -> list[str]:
    """Remove each operation that reaches a broken reference; one warning per operation, and one per
    broken reference that no operation reaches (an unused component)."""
    where = {id(node): (place, reason) for place, node, reason in broken}
    clean: set[int] = set()  # nodes known to reach no broken reference
    mentioned: set[int] = set()
    gone: list[str] = []  # places of the operations left out: the broken refs inside them are said with them
    warnings: list[str] = []
    for path, method, operation in operations_of(served):
        item = served["paths"][path]
        shared = [v for k, v in item.items() if k not in HTTP_METHODS]  # path-level parameters, servers
        hit = _first_broken(served, [operation, *shared], where, clean)
        if hit is None:
            continue
        mentioned.add(hit)
        gone.append(f"paths.{path}.{method}")
        place, reason = where[hit]
        warnings.append(f"{spec_file}: {place}: {reason}; {method.upper()} {path} is left out")
        del item[method]
    for place, node, reason in broken:
        if id(node) not in mentioned and not any(place == g or place.startswith(g + ".") for g in gone):
            warnings.append(f"{spec_file}: {place}: {reason}")
    return warnings


def _first_broken(document: dict[str, Any], roots: list[Any], where: dict[int, Any], clean: set[int]) -> int | None:
    """The id of the first broken `$ref` node reachable from `roots` (following references), else None;
    on None, everything visited is added to `clean` so later operations skip it."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if not isinstance(node, (dict, list)) or id(node) in seen or id(node) in clean:
            continue
        seen.add(id(node))
        if isinstance(node, list):
            stack.extend(node)
            continue
        if id(node) in where:
            return id(node)
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            stack.append(pointer_target(document, ref[1:]))
        stack.extend(v for k, v in node.items() if k != "$ref")
    clean.update(seen)
    return None


def _fill_defaults(served: dict[str, Any], spec_file: Path) -> None:
    """What the operation model, Swagger UI and the mocker read, where the draft lacks it or has the wrong shape."""
    info = served.get("info")
    if not isinstance(info, dict):
        info = served["info"] = {}
    info["title"] = str(info.get("title") or spec_file.stem)
    info["version"] = str(info.get("version") or "0")
    for key, kind in (("components", dict), ("servers", list), ("tags", list), ("security", list)):
        if key in served and not isinstance(served[key], kind):
            del served[key]
    components = served.setdefault("components", {}) if "openapi" in served else served
    for section in ("schemas", "responses", "parameters", "requestBodies", "headers", "securitySchemes",
                    "definitions", "securityDefinitions"):
        if section in components and not isinstance(components[section], dict):
            del components[section]
    for response in _values(components.get("responses")):
        _fill_response(response)
    paths = served.get("paths")
    for path in [p for p in paths if not p.startswith(("/", "x-"))] if isinstance(paths, dict) else []:
        item = paths.pop(path)
        paths.setdefault(f"/{path}", item)  # `pets:` for `/pets:`, a common slip (warned)
    for path, item in list(paths.items()) if isinstance(paths, dict) else []:
        if not isinstance(item, dict):
            del paths[path]  # a path item that is not a mapping holds no operation
            continue
        for method in HTTP_METHODS:
            if method in item and not isinstance(item[method], dict):
                del item[method]
        for _path, _method, operation in operations_of({"paths": {path: item}}):
            _fill_operation(served, item, operation)


def _fill_operation(served: dict[str, Any], item: dict[str, Any], operation: dict[str, Any]) -> None:
    if not isinstance(operation.get("responses"), dict):
        operation["responses"] = {}
    for status, response in list(operation["responses"].items()):
        if not isinstance(response, dict):
            del operation["responses"][status]
        elif "$ref" not in response:
            _fill_response(response)
    body = operation.get("requestBody")
    if "requestBody" in operation and not (isinstance(body, dict) and ("$ref" in body or _media_map(body))):
        del operation["requestBody"]  # no media type to read a body as: the operation takes none
    elif isinstance(body, dict) and "$ref" not in body:
        body["content"] = _media_map(body)
    if "security" in operation and not isinstance(operation["security"], list):
        del operation["security"]
    for holder in (item, operation):
        if "parameters" in holder:
            holder["parameters"] = [p for p in _as_list(holder["parameters"]) if _usable_parameter(served, p)]


def _fill_response(response: dict[str, Any]) -> None:
    response.setdefault("description", "")
    if "content" in response:
        response["content"] = _media_map(response)
    if "headers" in response:
        headers = response["headers"]
        response["headers"] = {k: v for k, v in headers.items() if isinstance(v, dict)} if isinstance(headers, dict) else {}


def _media_map(holder: dict[str, Any]) -> dict[str, Any]:
    """A `content` map with only media type objects in it; a non-mapping `examples` in one is dropped."""
    content = holder.get("content")
    if not isinstance(content, dict):
        return {}
    kept = {media: entry for media, entry in content.items() if isinstance(entry, dict)}
    for entry in kept.values():
        if "examples" in entry and not isinstance(entry["examples"], dict):
            del entry["examples"]
        if "schema" in entry and not isinstance(entry["schema"], (dict, bool)):
            del entry["schema"]
    return kept


def _usable_parameter(served: dict[str, Any], parameter: Any) -> bool:
    """A parameter the router and validator can use: a name and a place (a broken one is warned of)."""
    if isinstance(parameter, dict) and isinstance(parameter.get("$ref"), str):
        try:
            parameter = pointer_target(served, parameter["$ref"].lstrip("#"))
        except RefError:
            return False
    usable = isinstance(parameter, dict) and isinstance(parameter.get("name"), str) and parameter.get("in") in PARAMETER_PLACES
    if usable and "schema" in parameter and not isinstance(parameter["schema"], (dict, bool)):
        del parameter["schema"]
    return usable


def _values(mapping: Any) -> list[dict[str, Any]]:
    return [v for v in mapping.values() if isinstance(v, dict) and "$ref" not in v] if isinstance(mapping, dict) else []


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
