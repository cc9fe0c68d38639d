"""Record mode: turn a live exchange into a stub file (redacted first), one file per request.

The file name says what it holds: the operation and a digest of the request matcher, so the same
request always lands in the same file (recording it again updates it) and different requests
for one operation sit side by side.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from ..core.events import Channel, StubRecorded
from ..core.exchange import Exchange
from ..core.json_limits import json_depth
from ..core.json_once import JsonOnce
from ..settings.config import mount_prefix
from ..spec.load import Operation, Service
from .format import read_stub
from .persister import dump_yaml, write_atomic
from .redaction import Redactor
from .store import StubStore

log = logging.getLogger("gw.record")
INLINE_LIMIT = 64 * 1024
INLINE_DEPTH = 64  # deeper JSON goes to the side file as JSON: YAML's dumper and loader recurse per level
MAX_BODY = 10 * 1024 * 1024  # the default of gateway.yaml's `record.max_body`
FORM = "application/x-www-form-urlencoded"
KEPT_RESPONSE_HEADERS = ("content-type", "location", "etag", "cache-control", "content-language", "content-disposition",
                         "link", "retry-after", "vary", "last-modified", "expires")


@dataclass
class Captured:
    """One exchange as recording sees it, wherever it came from (live traffic, a HAR file)."""

    method: str
    path: str  # as requested, base path included
    query_string: str
    headers: list[tuple[str, str]]
    body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes
    source: str = ""  # where it was recorded from
    not_recorded: str = ""  # why the answer's body is left out of the stub (too big, cannot be scanned)
    truncated: str = ""  # why only the first part of a streamed answer is kept
    parsed: JsonOnce | None = field(default=None, repr=False, compare=False)  # the request body's JSON, shared
    response_parsed: JsonOnce | None = field(default=None, repr=False, compare=False)  # the answer's, shared

    def request_json(self) -> JsonOnce:
        """The request body's JSON, parsed once (with request validation and stub matching, when live)."""
        self.parsed = JsonOnce.reuse(self.parsed, self.body)
        return self.parsed

    def response_json(self, body: bytes) -> JsonOnce:
        """The answer's JSON (`body`: as recorded, decompressed), parsed once (with the validation proxy)."""
        self.response_parsed = JsonOnce.reuse(self.response_parsed, body)
        return self.response_parsed

    def header(self, name: str) -> str:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), "")

    @classmethod
    async def from_exchange(cls, exchange: Exchange, status: int, headers: list[tuple[str, str]],
                            body: bytes, parsed: JsonOnce | None = None) -> Captured:
        """`parsed`: the answer's JSON as the validation proxy parsed it."""
        request_body = await exchange.body()
        return cls(exchange.method, exchange.path, exchange.scope.get("query_string", b"").decode("latin-1"),
                   list(exchange.headers.items()), request_body, status, headers, body,
                   exchange.notes.get("upstream", ""), parsed=exchange.request_json(request_body), response_parsed=parsed)


@dataclass
class Recorded:
    """What one recording did, for the live line of `gw record` and its summary."""

    stub_id: str
    file: Path
    outcome: str  # created | updated | unchanged
    violations: list[str] = field(default_factory=list)


class Recorder:
    def __init__(self, store: StubStore, redactors: dict[str, Redactor], upstream_of: dict[str, str],
                 keep_versions: bool = False, max_body: int = MAX_BODY, events: Channel | None = None) -> None:
        self.store = store
        self.max_body = max_body  # an answer's body larger than this is not recorded (the stub says so)
        self.keep_versions = keep_versions  # an updated stub's previous content goes to .versions/
        self.redactors = redactors
        self.upstream_of = upstream_of
        self.recorded: list[Recorded] = []
        self.events = events if events is not None else Channel()  # each recording told (`gw record`'s live line)

    def save(self, service: Service, operation: Operation, captured: Captured, violations: list[str]) -> Recorded:
        """Write `captured` as a stub of `operation` (redacted first); the same request updates its file."""
        redactor, applied, request, name = self._named(service, operation, captured)
        folder = self.store.root / service.name
        body, not_recorded = self._body_to_record(captured)
        response = self._response(captured.status, captured.response_headers, captured.response_json(body), redactor,
                                  applied, folder, name)
        meta: dict[str, Any] = {
            "operation": operation.key,
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "source": redactor.text(captured.source or self.upstream_of.get(service.name, ""), applied, "source"),
            "redactions": sorted(set(applied)),
        }
        if not_recorded:
            meta["not_recorded"] = not_recorded
            log.warning("%s %s: answer body not recorded: %s", captured.method, captured.path, not_recorded)
        if captured.truncated:
            meta["truncated"] = captured.truncated
        if violations:
            meta["contract"] = {"ok": False, "violations": violations}
        target = folder / f"{name}.yaml"
        outcome = "created"
        if target.exists():
            outcome = "unchanged" if _same_response(target, response) else "updated"
        if outcome == "updated" and self.keep_versions:
            modified = target.stat().st_mtime_ns
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(modified / 1e9)) + f".{modified % 10**9:09d}"
            write_atomic(folder / ".versions" / f"{name}.{stamp}.yaml", target.read_bytes())
        if outcome != "unchanged":
            write_atomic(target, dump_yaml({"request": request, "response": response, "meta": meta}))
            self.store.add(read_stub(target, service.name))
        result = Recorded(f"{service.name}/{name}", target, outcome, violations)
        self.recorded.append(result)
        summary = f"{captured.method} {captured.path} -> {captured.status}"
        log.info("%s %s (%s)", outcome, result.stub_id, summary)
        if StubRecorded in self.events.listened:
            self.events.publish(StubRecorded(result.stub_id, str(target), outcome, summary, violations))
        return result

    def _body_to_record(self, captured: Captured) -> tuple[bytes, str]:
        """The answer's body as the stub keeps it (decoded when the upstream compressed it), or nothing
        and the reason: too big to record, or encoded in a way that cannot be scanned for secrets."""
        if captured.not_recorded:
            return b"", captured.not_recorded
        body = captured.response_body
        if len(body) > self.max_body:
            return b"", f"body over {_size(self.max_body)} ({len(body)} bytes): raise record.max_body to keep it"
        encoding = next((v for k, v in captured.response_headers if k.lower() == "content-encoding"), "").strip().lower()
        if encoding in ("", "identity") or not body:
            return body, ""
        if encoding not in ("gzip", "x-gzip", "deflate"):
            return b"", f"body encoded as {encoding}: it cannot be scanned for secrets"
        decoder = zlib.decompressobj(wbits=47 if "gzip" in encoding else 15)
        try:
            decoded = decoder.decompress(body, self.max_body + 1)
        except zlib.error:
            return b"", f"body declared {encoding} but not decodable: it cannot be scanned for secrets"
        if len(decoded) > self.max_body or decoder.unconsumed_tail:
            return b"", f"body over {_size(self.max_body)} once decoded: raise record.max_body to keep it"
        return decoded, ""

    def over_limit(self) -> str:
        return f"body over {_size(self.max_body)}: raise record.max_body to keep it"

    def kept_of_stream(self, body: bytes, captured: Captured) -> bytes:
        """A streamed answer's first `max_body` bytes, cut after its last whole line (event), noted as truncated."""
        if len(body) <= self.max_body:
            return body
        captured.truncated = f"stream over {_size(self.max_body)}: only its first whole events are kept"
        cut = body.rfind(b"\n\n", 0, self.max_body - 1)  # an SSE event ends with a blank line
        return body[:cut + 2] if cut >= 0 else body[:body.rfind(b"\n", 0, self.max_body) + 1]  # a JSON line

    def stub_id(self, service: Service, operation: Operation, captured: Captured) -> str:
        """The stub `captured` will be saved as: known before a streamed answer has ended."""
        return f"{service.name}/{self._named(service, operation, captured)[3]}"

    def _named(self, service: Service, operation: Operation,
               captured: Captured) -> tuple[Redactor, list[str], dict[str, Any], str]:
        """The redactor for this exchange, the redactions applied so far, the request matcher, and the file's name."""
        query_pairs = parse_qsl(captured.query_string, keep_blank_values=True)
        content_type = captured.header("content-type")
        redactor = self.redactors[service.name].secrets_in(
            captured.headers, query_pairs, _json(captured.request_json(), content_type), _form(captured.body, content_type))
        applied: list[str] = []
        request = self._request(captured, service.base_path, query_pairs, redactor, applied)
        return redactor, applied, request, f"{_slug(operation.key)}-{_digest(request)}"

    def _request(self, captured: Captured, base_path: str, query_pairs: list[tuple[str, str]], redactor: Redactor,
                 applied: list[str]) -> dict[str, Any]:
        base = mount_prefix(base_path)
        path = captured.path[len(base):] if captured.path.startswith(base) else captured.path
        request: dict[str, Any] = {"method": captured.method, "path": redactor.text(path or "/", applied, "path")}
        query: dict[str, str] = {}
        for key, value in query_pairs:
            if redactor.secret_query(key):
                applied.append(f"query {key}")
                continue
            scrubbed: list[str] = []
            cleaned = redactor.text(value, scrubbed, f"query {key}")
            if scrubbed:  # a secret inside: the matcher leaves the parameter out rather than keep a placeholder
                applied += scrubbed
                continue
            query[key] = cleaned
        if query:
            request["query"] = query
        matcher = _body_matcher(captured.request_json(), captured.header("content-type"), redactor, applied)
        if matcher:
            request["body"] = matcher
        for name, _ in captured.headers:
            if redactor.secret_header(name):
                applied.append(f"request header {name.lower()}")
        return request

    def _response(self, status: int, headers: list[tuple[str, str]], parsed: JsonOnce, redactor: Redactor,
                  applied: list[str], folder: Path, name: str) -> dict[str, Any]:
        body = parsed.body
        kept: dict[str, str] = {}
        for key, value in headers:
            key, value = str(key), str(value)  # aiohttp's header names are `istr`, which YAML cannot write
            lowered = key.lower()
            if redactor.secret_header(lowered):
                applied.append(f"response header {lowered}")
            elif lowered in KEPT_RESPONSE_HEADERS or (lowered.startswith("x-") and not lowered.startswith("x-gw-")):
                kept[key] = redactor.text(value, applied, f"response header {lowered}")
        response: dict[str, Any] = {"status": status}
        if kept:
            response["headers"] = kept
        content_type = next((v for k, v in kept.items() if k.lower() == "content-type"), "")
        if not body:
            return response
        document = _json(parsed, content_type)
        if document is not None and len(body) <= INLINE_LIMIT and json_depth(document) <= INLINE_DEPTH:
            response["body"] = redactor.document(document, applied, "response body")
        elif document is None and _is_text(content_type, body) and len(body) <= INLINE_LIMIT:
            response["body"] = redactor.text(body.decode("utf-8"), applied, "response body")
        else:  # a side file: scanned like inline bodies, binary ones byte for byte
            side = folder / f"{name}.body"
            if document is not None:
                body = json.dumps(redactor.document(document, applied, "response body")).encode()
            elif _is_text(content_type, body):
                body = redactor.text(body.decode("utf-8"), applied, "response body").encode()
            else:
                body = redactor.binary(body, applied, "response body")
            write_atomic(side, body)
            response["body_file"] = side.name
        return response


def _body_matcher(body: JsonOnce, content_type: str, redactor: Redactor, applied: list[str]) -> dict[str, Any]:
    """Top-level JSON fields as JSONPath matchers; secret fields are left out (they differ per
    caller, and must not be saved), which the redactions list says."""
    document = _json(body, content_type)
    if not isinstance(document, dict):
        return {}
    matcher = {}
    for key, value in document.items():
        if redactor.secret_field(str(key)):
            applied.append(f"request body.{key}")
            continue
        scrubbed_list: list[str] = []
        cleaned = redactor.document(value, scrubbed_list, f"request body.{key}")
        if scrubbed_list:  # a secret inside: match the field's presence only, never its value
            applied += scrubbed_list
            continue
        if json_depth(cleaned) > INLINE_DEPTH - 2:  # too deep to write as YAML: not a constraint of the stub
            continue
        path = f"$.{key}" if re.fullmatch(r"[A-Za-z_][\w-]*", str(key)) else f"$['{key}']"
        matcher[path] = cleaned
    return matcher


async def read_capped(response: Any, limit: int) -> tuple[list[bytes], AsyncIterator[bytes] | None]:
    """An answer's body read up to `limit` bytes: (its chunks, None) when it all came, else (the chunks
    read so far, the rest still to come) so that the caller passes it on without holding it whole."""
    if isinstance(response.body, bytes):
        return [response.body], None
    iterator = aiter(response.body)
    chunks, size = [], 0
    try:
        async for chunk in iterator:
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return chunks, iterator
    except BaseException:
        await response.close()
        raise
    await response.close()
    return chunks, None


def _form(body: bytes, content_type: str) -> list[tuple[str, str]] | None:
    if FORM not in content_type.lower():
        return None
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return None


def _size(count: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"


def _json(body: JsonOnce, content_type: str) -> Any:
    """The body's JSON (shared: never changed here), or None: not JSON, malformed, or beyond the JSON limits
    (kept as text or bytes)."""
    if "json" not in content_type.lower():
        return None
    return body.value_or(None)


def _is_text(content_type: str, body: bytes) -> bool:
    lowered = content_type.lower()
    if not (lowered.startswith("text/") or "xml" in lowered or "json" in lowered or "javascript" in lowered
            or FORM in lowered):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _same_response(target: Path, response: dict[str, Any]) -> bool:
    import yaml

    try:
        existing = yaml.safe_load(target.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(existing, dict) and existing.get("response") == response


def _digest(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", key).strip("-")[:60] or "operation"
