"""Is this a usable OpenAPI document? Semantic findings (examples or defaults that break their own
schemas, common in published specs) become warnings that name the place, cached by content so a
large spec is checked once; references that lead nowhere are found here, so the loader leaves out
only the operations that need them. (Structural findings: spec_structure.py.)
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ..settings.config import ConfigError
from ..settings.spec_cache import cache_root
from .refs import UNRESOLVED, RefError, pointer_target
from .walk import LocalRefs, spelled, survey

log = logging.getLogger("gw.specs")


class SpecError(ConfigError):
    """A spec that cannot be served: `file: place: reason`."""


def checker_for(raw: dict[str, Any]) -> Any:
    """openapi-spec-validator's checker for the document's OpenAPI version (imported here, ~0.2 s with jsonschema
    and its own dependencies: a start whose checks are all cached never loads it)."""
    from openapi_spec_validator import OpenAPIV2SpecValidator, OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

    version = str(raw.get("openapi") or raw.get("swagger"))
    return (OpenAPIV2SpecValidator if version == "2.0" else
            OpenAPIV31SpecValidator if version.startswith("3.1") else OpenAPIV30SpecValidator)


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


def semantic_warnings(raw: dict[str, Any], spec_file: Path, key: ContentKey) -> list[str]:
    """What openapi-spec-validator finds beyond structure (examples, defaults that break their
    schemas...), as located warnings; saved in the cache for the next start under `key` (the document's
    `ContentKey`, worked out once by the loader)."""
    try:
        warnings = _semantic_warnings(raw, spec_file, checker_for(raw))
    except Exception as exc:  # the checker's own failure must not stop a servable spec
        warnings = [f"{spec_file}: could not finish checking the document ({type(exc).__name__}: {short(str(exc))})"]
    save_cached(key.file(), [w.replace(str(spec_file), "{spec}", 1) for w in warnings])
    return warnings


def cached_warnings(key: ContentKey, spec_file: Path) -> list[str] | None:
    """The warnings of an earlier check of exactly this document (by its `ContentKey`), if any."""
    try:
        data = json.loads(key.file().read_text())
    except (OSError, ValueError):
        return None
    return [w.replace("{spec}", str(spec_file)) for w in data] if isinstance(data, list) else None


def check_in_background(raw: dict[str, Any], spec_file: Path, into: list[str], key: ContentKey) -> None:
    """Work the warnings out in a thread, log them, and add them to `into` (the service's list); in a process
    about to fork its workers, later, in them (`defer_background_checks`). `key`: the document's `ContentKey`."""
    if _deferred is not None:
        _deferred.append((raw, spec_file, into, key))
        return
    threading.Thread(target=_check, args=(raw, spec_file, into, key), name=f"check {spec_file.name}", daemon=True).start()


def _check(raw: dict[str, Any], spec_file: Path, into: list[str], key: ContentKey) -> None:
    known = list(into)
    warnings = [line for line in merge_warnings(known, semantic_warnings(raw, spec_file, key)) if line not in known]
    into.extend(warnings)
    for warning in warnings[:5]:
        log.warning("%s", warning)
    if len(warnings) > 5:
        log.warning("%s more warnings for %s: see `gw lint`", len(warnings) - 5, spec_file)


_deferred: list[tuple[dict[str, Any], Path, list[str], ContentKey]] | None = None  # checks held for the workers
FOLLOW_INTERVAL = 1.0  # seconds between a worker's looks for the first worker's results


def defer_background_checks() -> None:
    """Hold every background check until `start_deferred_checks`: a process must not fork while a thread of
    its own runs (a lock the thread held would stay held in the child for ever)."""
    global _deferred
    if _deferred is None:
        _deferred = []


def start_deferred_checks(leader: bool) -> None:
    """Serving starts: the leader (the one process, or the first forked worker) runs the held checks and logs what
    they find; other workers wait for its results in the cache, so the checks run once, not once per worker."""
    global _deferred
    held, _deferred = _deferred or [], None  # from now on (a hot reload), checks start at once again
    for raw, spec_file, into, key in held:
        target = _check if leader else _follow
        threading.Thread(target=target, args=(raw, spec_file, into, key), name=f"check {spec_file.name}", daemon=True).start()


def _follow(_raw: dict[str, Any], spec_file: Path, into: list[str], key: ContentKey) -> None:
    """The leader's warnings for this document, once its check has saved them, added to `into` without logging."""
    time.sleep(FOLLOW_INTERVAL)  # the worker's own start first: the leader's check takes longer than this anyway
    while not key.file().exists():
        time.sleep(FOLLOW_INTERVAL)
    found = cached_warnings(key, spec_file)
    known = list(into)
    into.extend(line for line in merge_warnings(known, found or []) if line not in known)


class ContentKey:
    """A document's key in the check caches: its whole text, hashed. A large spec's text takes a while to write and
    hash (GitHub's: ~0.06 s), so the loader works it out once and hands it to every check that keeps findings."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._hash = hashlib.sha256(_canonical(document))

    def file(self, kind: str = "") -> Path:
        """Where what a check found in this document is kept, by `kind` of check (`.structure-...`): the text's hash
        carried on over the kind (the text is not hashed again; the names are those earlier versions used)."""
        digest = self._hash.copy()
        digest.update(kind.encode())
        return cache_root() / "checks" / f"{digest.hexdigest()[:32]}{kind}.json"


def _canonical(raw: dict[str, Any]) -> bytes:
    """The document as one text, keys sorted, to key its cache file by content: orjson's (a sixth of the stdlib's
    time: GitHub's spec 0.15 s -> 0.025 s of every start), the stdlib's for what orjson refuses (integers beyond
    64 bits, nesting beyond its 254 levels). The same document always takes the same path, so the same key."""
    try:
        return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    except orjson.JSONEncodeError:
        return json.dumps(raw, sort_keys=True, default=str).encode()


def save_cached(target: Path, found: Any) -> None:
    """Keep what a check found (JSON) for the next start, written whole or not at all."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(found))
        os.replace(temporary, target)
    except OSError:
        pass  # a read-only home only costs the next start the check again


def broken_refs(document: dict[str, Any], unresolved: list[tuple[str, str]],
                refs: LocalRefs | None = None) -> list[tuple[str, dict[str, Any], str]]:
    """Every local `$ref` that leads nowhere, as (place, the node holding it, reason); references the
    bundler could not bring in (`unresolved`) count, named at the place they were written. `refs`: the
    document's local references (`survey`), when the loader found them already (a `$ref` dropped since, as the
    loop breaker drops one, no longer counts)."""
    found: list[tuple[str, dict[str, Any], str]] = []
    judged: dict[str, tuple[str, str] | None] = {}  # each reference followed once (Kubernetes': 5,667 uses of ~600)
    for ref, node, chain in survey(document).refs if refs is None else refs:
        if node.get("$ref") != ref:
            continue
        problem = judged[ref] if ref in judged else judged.setdefault(ref, _ref_problem(document, ref, unresolved))
        if problem is not None:
            found.append((problem[0] or spelled(chain), node, problem[1]))
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
        warning = f"{spec_file}: {place or 'somewhere'}: {short(error.message)}"
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


def short(message: str) -> str:
    """The first line of a message, at most 240 characters."""
    line = message.splitlines()[0] if message else "invalid"
    return line if len(line) <= 240 else line[:237] + "..."


