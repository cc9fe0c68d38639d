"""Is this a usable OpenAPI document? Structural errors refuse it, with their place; semantic
findings (examples or defaults that break their own schemas, common in published specs) become
warnings that name the place, cached by content so a large spec is checked once.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openapi_spec_validator import OpenAPIV2SpecValidator, OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

from .config import ConfigError
from .spec_refs import RefError, pointer_target

log = logging.getLogger("gw.specs")


class SpecError(ConfigError):
    """A spec that cannot be served: `file: place: reason`."""


def _checker(raw: dict[str, Any]) -> Any:
    version = str(raw.get("openapi") or raw.get("swagger"))
    return (OpenAPIV2SpecValidator if version == "2.0" else
            OpenAPIV31SpecValidator if version.startswith("3.1") else OpenAPIV30SpecValidator)


def check_structure(raw: dict[str, Any], spec_file: Path) -> None:
    """Refuse a document that breaks the OpenAPI structure or points nowhere, naming the place."""
    structural = _most_specific(list(_checker(raw).schema_validator.iter_errors(raw)))
    if structural is not None:
        place = ".".join(str(p) for p in structural.absolute_path)
        raise SpecError(str(spec_file), place, _short(structural.message))
    check_local_refs(raw, spec_file)


def semantic_warnings(raw: dict[str, Any], spec_file: Path) -> list[str]:
    """What openapi-spec-validator finds beyond structure (examples, defaults that break their
    schemas...), as located warnings; saved in the cache for the next start."""
    try:
        warnings = _semantic_warnings(raw, spec_file, _checker(raw))
    except Exception as exc:  # the checker's own failure must not stop a servable spec
        warnings = [f"{spec_file}: could not finish checking the document ({type(exc).__name__}: {_short(str(exc))})"]
    _save(raw, [w.replace(str(spec_file), "{spec}", 1) for w in warnings])
    return warnings


def cached_warnings(raw: dict[str, Any], spec_file: Path) -> list[str] | None:
    """The warnings of an earlier check of exactly this document, if any."""
    try:
        data = json.loads(_cache_file(raw).read_text())
    except (OSError, ValueError):
        return None
    return [w.replace("{spec}", str(spec_file)) for w in data] if isinstance(data, list) else None


def check_in_background(raw: dict[str, Any], spec_file: Path, into: list[str]) -> None:
    """Work the warnings out in a thread, log them, and add them to `into` (the service's list)."""

    def run() -> None:
        warnings = semantic_warnings(raw, spec_file)
        into.extend(warnings)
        for warning in warnings[:5]:
            log.warning("%s", warning)
        if len(warnings) > 5:
            log.warning("%s more warnings for %s: see `gw lint`", len(warnings) - 5, spec_file)

    threading.Thread(target=run, name=f"check {spec_file.name}", daemon=True).start()


def _cache_file(raw: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:32]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gw" / "checks"
    return root / f"{digest}.json"


def _save(raw: dict[str, Any], warnings: list[str]) -> None:
    try:
        target = _cache_file(raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(warnings))
        os.replace(temporary, target)
    except OSError:
        pass  # a read-only home only costs the next start the check again


def _most_specific(errors: list[Any]) -> Any:
    """The error deepest in the document; inside oneOf/anyOf, the deepest of the alternatives."""
    if not errors:
        return None
    best = max(errors, key=lambda e: len(e.absolute_path))
    while best.context:
        best = max(best.context, key=lambda e: len(e.absolute_path))
    return best


def check_local_refs(raw: dict[str, Any], spec_file: Path) -> None:
    """Every `#/...` reference must point somewhere; name the first that does not."""
    stack: list[tuple[Any, str]] = [(raw, "")]
    while stack:
        node, place = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#"):
                try:
                    pointer_target(raw, ref[1:])
                except RefError as exc:
                    raise SpecError(str(spec_file), place, exc.reason) from None
            stack.extend((v, f"{place}.{k}" if place else str(k)) for k, v in node.items() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, f"{place}[{i}]") for i, v in enumerate(node) if isinstance(v, (dict, list)))


def _semantic_warnings(raw: dict[str, Any], spec_file: Path, checker: Any) -> list[str]:
    warnings: list[str] = []
    places: dict[str, Iterator[str]] = {}
    validator = checker(raw, base_uri=spec_file.resolve().as_uri())
    for error in validator.root_validator(validator.schema_path):
        instance = _instance(error)
        key = repr(instance)
        place = next(places.setdefault(key, locate(raw, instance)), "")
        warning = f"{spec_file}: {place or 'somewhere'}: {_short(error.message)}"
        if warning in warnings:
            continue
        warnings.append(warning)
        if len(warnings) >= 50:
            warnings.append(f"{spec_file}: more problems not listed")
            break
    return warnings


def _instance(error: Any) -> Any:
    """The offending value; openapi-spec-validator leaves it unset on some errors, but puts its
    repr at the start of the message."""
    if type(error.instance).__name__ != "Unset":
        return error.instance
    head = error.message.split(" is not ", 1)[0]
    try:
        return ast.literal_eval(head)
    except (ValueError, SyntaxError):
        return None


def locate(document: Any, instance: Any, limit: int = 200_000) -> Iterator[str]:
    """Where a value that failed a check may sit in the document (as `a.b.c`), in document order."""
    keys = ("default", "example", "examples", "enum", "const", "x-example")
    queue: deque[tuple[Any, str]] = deque([(document, "")])
    visited = 0
    while queue and visited < limit:
        node, place = queue.popleft()
        visited += 1
        if isinstance(node, dict):
            for key, value in node.items():
                child = f"{place}.{key}" if place else str(key)
                if (key in keys or isinstance(value, (dict, list))) and value == instance:
                    yield child
                if isinstance(value, (dict, list)):
                    queue.append((value, child))
        elif isinstance(node, list):
            queue.extend((value, f"{place}[{i}]") for i, value in enumerate(node) if isinstance(value, (dict, list)))


def _short(message: str) -> str:
    line = message.splitlines()[0] if message else "invalid"
    return line if len(line) <= 240 else line[:237] + "..."


