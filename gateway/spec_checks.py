"""Is this a usable OpenAPI document? What breaks the OpenAPI structure (a draft without `info`, a
response without `description`, an unknown key) and semantic findings (examples or defaults that
break their own schemas, common in published specs) become warnings that name the place; the
semantic ones are cached by content so a large spec is checked once. References that lead nowhere
are found here too: the loader leaves out only the operations that need them.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import re
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
from openapi_spec_validator import OpenAPIV2SpecValidator, OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from openapi_spec_validator.schemas import schema_v2, schema_v30, schema_v31

from .config import ConfigError
from .spec_refs import UNRESOLVED, RefError, pointer_target

log = logging.getLogger("gw.specs")


class SpecError(ConfigError):
    """A spec that cannot be served: `file: place: reason`."""


def _checker(raw: dict[str, Any]) -> Any:
    version = str(raw.get("openapi") or raw.get("swagger"))
    return (OpenAPIV2SpecValidator if version == "2.0" else
            OpenAPIV31SpecValidator if version.startswith("3.1") else OpenAPIV30SpecValidator)


Finding = tuple[tuple[Any, ...], str]  # (place in the document, reason)


def structural_findings(raw: dict[str, Any]) -> list[Finding]:
    """Every place where the document breaks the OpenAPI structure, with the reason.

    A draft spec (no `info`, a response without `description`, an unknown key) is still served,
    so these become warnings; the fast checker finds them, and where it only says "none of the oneOf
    alternatives", the reference checker is asked which rule of the closest alternative broke.
    """
    errors = [(_real_path(raw, error.absolute_path), error) for error in _checker(raw).schema_validator.iter_errors(raw)]
    explained = _explain_vague(raw, [path for path, e in errors if _VAGUE.search(_first_line(e.message))])
    findings: list[Finding] = []
    for path, error in errors:
        for finding in explained.get(path) or _located(path, error.message):
            if finding not in findings:
                findings.append(finding)
    return findings


def finding_lines(findings: list[Finding], spec_file: Path) -> list[str]:
    """`file: place: reason`, one line per finding."""
    return [f"{spec_file}: {dotted(place) or '(top level)'}: {reason}" for place, reason in findings]


_VAGUE = re.compile(r"is not valid under any of the schemas|is valid under each of")
_REQUIRED = re.compile(r"""^['"](.+)['"] is a required property""")
_UNEXPECTED = re.compile(r"(?:Additional|Unevaluated) properties are not allowed \((.*) (?:was|were) unexpected\)"
                         r"|^'(.+)' does not match any of the regexes")


def _real_path(document: Any, path: Any) -> tuple[Any, ...]:
    """The fast checker reports a key such as "200" as the number 200; the document's own keys."""
    real: list[Any] = []
    node = document
    for part in path:
        if isinstance(node, dict) and part not in node and str(part) in node:
            part = str(part)
        real.append(part)
        node = node.get(part) if isinstance(node, dict) else node[part] if isinstance(node, list) and \
            isinstance(part, int) and part < len(node) else None
    return tuple(real)


def merge_warnings(precise: list[str], deep: list[str]) -> list[str]:
    """Both lists, each line once, without a deep check's vague line about what a precise line already
    explains (a schema "not valid under any of the given schemas" because of its pattern; a value
    found "somewhere" that the structure check located)."""
    places = [": ".join(line.split(": ", 2)[:2]) for line in precise]
    vague = [line for line in deep if "not valid under any of the given schemas" in line
             and any(place.startswith(": ".join(line.split(": ", 2)[:2]) + ".") for place in places)]
    # "somewhere: 'strin' is not ...": a value the structure check already named with its place
    vague += [line for line in deep if ": somewhere: " in line
              and any(f": {line.split(': somewhere: ', 1)[1].split(' is not ', 1)[0]} is not " in p for p in precise)]
    return list(dict.fromkeys([*precise, *(line for line in deep if line not in vague)]))


def _located(path: tuple[Any, ...], message: str) -> list[tuple[tuple[Any, ...], str]]:
    """(place, reason) for one error: a missing key or an unknown one is named in the place."""
    line = _first_line(message)
    required = _REQUIRED.match(line)
    if required:
        return [((*path, required.group(1)), "is required but missing")]
    unexpected = _UNEXPECTED.search(line)
    if unexpected:
        keys = re.findall(r"'([^']*)'", unexpected.group(1)) if unexpected.group(1) else [unexpected.group(2)]
        return [((*path, key), "unknown key (not part of OpenAPI; extensions start with x-)") for key in keys]
    return [(path, _short(line))]


def _explain_vague(raw: dict[str, Any], paths: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[tuple[tuple[Any, ...], str]]]:
    """For oneOf/anyOf failures: the closest alternative's own errors, from the pure-Python checker
    (slow on a large document, so it sees only the branches that failed)."""
    if not paths:
        return {}
    try:
        schema = dict(_meta_schema(raw))
        validator = jsonschema.validators.validator_for(schema)(schema)
        found: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], str]]] = {}
        for error in validator.iter_errors(_pruned(raw, paths)):
            path = tuple(error.absolute_path)
            if path in paths and error.context:
                found.setdefault(path, []).extend(f for leaf in _leaves(error) for f in _located(*leaf))
        return found
    except Exception:  # the explanation is a nicety: without it the fast checker's line stands
        return {}


def _meta_schema(raw: dict[str, Any]) -> Any:
    version = str(raw.get("openapi") or raw.get("swagger"))
    return schema_v2 if version == "2.0" else schema_v31 if version.startswith("3.1") else schema_v30


def _leaves(error: Any) -> list[tuple[tuple[Any, ...], str]]:
    """Down through oneOf/anyOf, the errors of the alternative that got furthest (a bare `$ref`
    alternative only when it is the only one): every (place, message) that breaks it."""
    if not error.context:
        return [(tuple(error.absolute_path), error.message)]
    branches: dict[Any, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0] if sub.relative_schema_path else 0, []).append(sub)
    candidates = [b for b in branches.values() if not all("'$ref'" in e.message for e in b)] or list(branches.values())
    chosen = _one_choice(candidates)
    if chosen is not None:
        return [chosen]
    branch = max(candidates, key=lambda b: (max(len(e.absolute_path) for e in b), -len(b)))
    leaves = [leaf for sub in branch for leaf in _leaves(sub)]
    plain = [leaf for leaf in leaves if not _NOISE.search(leaf[1])]  # "valid under each of" repeats a plain reason
    return plain or leaves[:1]


def _one_choice(branches: list[list[Any]]) -> tuple[tuple[Any, ...], str] | None:
    """When every alternative is told apart by one value (a security scheme's `type`) and the value
    matches none, that is the one reason: the allowed values of all the alternatives together."""
    if len(branches) < 2:
        return None
    choices = [[e for e in branch if e.validator in ("enum", "const")] for branch in branches]
    if not all(choices) or len({tuple(c[0].absolute_path) for c in choices}) != 1:
        return None
    allowed = [v for c in choices for v in (c[0].validator_value if c[0].validator == "enum" else [c[0].validator_value])]
    return tuple(choices[0][0].absolute_path), f"{choices[0][0].instance!r} is not one of {list(dict.fromkeys(allowed))!r}"


_NOISE = re.compile(r"is valid under each of|should not be valid under|is not valid under any of")


def _pruned(node: Any, paths: list[tuple[Any, ...]]) -> Any:
    """The document cut down to the branches on `paths` (whole below them); scalars kept on the way."""
    if any(not path for path in paths):
        return node
    by_key: dict[Any, list[tuple[Any, ...]]] = {}
    for path in paths:
        by_key.setdefault(path[0], []).append(path[1:])
    if isinstance(node, dict):
        kept = {k: v for k, v in node.items() if not isinstance(v, (dict, list))}
        kept.update({k: _pruned(node[k], rest) for k, rest in by_key.items() if k in node})
        return kept
    if isinstance(node, list):
        return [_pruned(v, by_key[i]) if i in by_key else v for i, v in enumerate(node)]
    return node


def dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _first_line(message: str) -> str:
    return message.splitlines()[0] if message else ""


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
        known = list(into)
        warnings = [line for line in merge_warnings(known, semantic_warnings(raw, spec_file)) if line not in known]
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


def broken_refs(document: dict[str, Any], unresolved: list[tuple[str, str]]) -> list[tuple[str, dict[str, Any], str]]:
    """Every local `$ref` that leads nowhere, as (place, the node holding it, reason); references the
    bundler could not bring in (`unresolved`) count, named at the place they were written."""
    found: list[tuple[str, dict[str, Any], str]] = []
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        node, place = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#"):
                problem = _ref_problem(document, ref, unresolved)
                if problem is not None:
                    found.append((problem[0] or place, node, problem[1]))
            stack.extend((v, f"{place}.{k}" if place else str(k)) for k, v in node.items() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, f"{place}[{i}]") for i, v in enumerate(node) if isinstance(v, (dict, list)))
    return sorted(found, key=lambda item: item[0])


def _ref_problem(document: dict[str, Any], ref: str, unresolved: list[tuple[str, str]]) -> tuple[str, str] | None:
    """None when `ref` (and any chain of refs it starts) reaches a value; else (place or "", reason)."""
    for _ in range(64):
        if ref.startswith(UNRESOLVED + "/"):
            index = ref.rsplit("/", 1)[1]
            return unresolved[int(index)] if index.isdigit() and int(index) < len(unresolved) else ("", "unresolved $ref")
        try:
            target = pointer_target(document, ref[1:])
        except RefError as exc:
            return "", exc.reason
        ref = target.get("$ref") if isinstance(target, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#"):
            return None
    return "", "a $ref chain loops on itself"


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


