"""Where a document breaks the OpenAPI structure, as (place, reason) findings a user can act on.

The fast checker (openapi-spec-validator's, on jsonschema-rs) finds every error; where it only says
"none of the oneOf alternatives", the pure-Python jsonschema checker is asked, on a copy pruned to
the failing branches, which rules the closest alternative broke. A missing key and an unknown key
are named in the place (`paths./pets.get.responses.200.description: is required but missing`).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

from .. import __version__
from .checks import ContentKey, checker_for, save_cached, short

Finding = tuple[tuple[Any, ...], str]  # (place in the document, reason)


def structural_findings(raw: dict[str, Any], key: ContentKey) -> list[Finding]:
    """Every place where the document breaks the OpenAPI structure, with the reason.

    A draft spec (no `info`, a response without `description`, an unknown key) is still served,
    so these become warnings; the fast checker finds them, and where it only says "none of the oneOf
    alternatives", the reference checker is asked which rule of the closest alternative broke.
    Kept by content (`key`: the document's `ContentKey`, as the deep check's warnings are, spec/checks.py), with
    gw's and the checker's versions: a start on a document checked before imports no checker (openapi-spec-validator
    and jsonschema, ~0.2 s).
    """
    cache = key.file(f".structure-{_checker_version()}")
    cached = _cached(cache)
    if cached is not None:
        return cached
    findings = _checked(raw)
    if all(type(part) in (str, int) for place, _ in findings for part in place):  # what JSON gives back the same
        save_cached(cache, [[list(place), reason] for place, reason in findings])
    return findings


def _checker_version() -> str:
    """gw's version and the installed checker's (its files' time: a reinstall or an upgrade checks again),
    found without importing it."""
    found = importlib.util.find_spec("openapi_spec_validator")
    try:
        stamp = Path(found.origin).stat().st_mtime_ns if found is not None and found.origin else 0
    except OSError:
        stamp = 0
    return f"{__version__}-{stamp}"


def _cached(cache: Path) -> list[Finding] | None:
    try:
        data = json.loads(cache.read_text())
        return [(tuple(place), str(reason)) for place, reason in data]
    except (OSError, ValueError, TypeError):
        return None


def _checked(raw: dict[str, Any]) -> list[Finding]:
    errors = [(_real_path(raw, error.absolute_path), error) for error in checker_for(raw).schema_validator.iter_errors(raw)]
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


def _located(path: tuple[Any, ...], message: str) -> list[tuple[tuple[Any, ...], str]]:
    """(place, reason) for one error: a missing key or an unknown one is named in the place."""
    line = _first_line(message)
    required = _REQUIRED.match(line)
    if required:
        return [((*path, required.group(1)), "is required but missing")]
    unexpected = _UNEXPECTED.search(line)
    if unexpected:
        keys = re.findall(r"'([^']*)'", unexpected.group(1)) if unexpected.group(1) else [unexpected.group(2)]
        return [((*path, key), f"a path must start with / (served as /{key})" if path == ("paths",) else
                 "unknown key (not part of OpenAPI; extensions start with x-)") for key in keys]
    return [(path, short(line))]


def _explain_vague(raw: dict[str, Any], paths: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[tuple[tuple[Any, ...], str]]]:
    """For oneOf/anyOf failures: the closest alternative's own errors, from the pure-Python checker
    (slow on a large document, so it sees only the branches that failed)."""
    if not paths:
        return {}
    import jsonschema

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
    from openapi_spec_validator.schemas import schema_v2, schema_v30, schema_v31

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


