"""Does a response honour the contract? One checker for every place that asks: the validation proxy
(live, record, fallback and spy answers), `gw stubs verify`, recording and HAR import.

The status must be declared (or covered by `2XX`/`default`), the media type offered, a JSON body
valid against its schema, and the declared headers present and valid. Bodies and headers are
judged by judge.py, the same validators request validation and the mocker use (compiled once per
operation, status and media type), so a value has one verdict wherever it is checked.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.json_limits import JsonLimitError
from ..core.json_once import JsonOnce
from ..core.media_types import base_type, is_json
from ..spec.load import Operation, Service
from ..validation.serialization import coerce_text, declared_types
from .judge import compile_schema, explain, pointer

MAX_REPORTED = 10


@dataclass(frozen=True)
class Violation:
    """One way a response breaks its operation's contract: where, and what."""

    where: str  # status | content-type | body/pointer | header NAME
    message: str
    uncheckable: bool = False  # the body is beyond the gateway's JSON limits: nothing judged it

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where not in ("status", "content-type") else self.message


def check_response(service: Service, operation: Operation, status: int, content_type: str, body: bytes | None,
                   headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
                   parsed: JsonOnce | None = None) -> list[Violation]:
    """The violations of one response; `body=None` when it was streamed and not read (not checked). `headers`: a
    mapping or the answer's (name, value) pairs, read only where the spec declares response headers. `parsed`:
    the body's JSON as other readers share it (Response.body_json), so it is parsed once."""
    declared = operation.cache.get(("declared", status, content_type)) or _declared(service, operation, status, content_type)
    key, mimetype, content, media, json_body, validator, headed = declared
    if key is None:
        listed = ", ".join(sorted(operation.responses)) or "none"
        return [Violation("status", f"status {status} is not declared (declared: {listed})")]
    found: list[Violation] = []
    if content and body and media is None:
        found.append(Violation("content-type", f"content type {mimetype or '(none)'} is not declared for {status} "
                                               f"(declared: {', '.join(content)})"))
    elif json_body and body and not body.isspace():
        if validator is _UNBUILT:  # its schema raised when compiled: raised here again, as on every such answer
            validator = _validator(service, operation, key, media, quiet=False)
        found = _body_violations(validator, JsonOnce.reuse(parsed, body))
    if headed:
        pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
        found += _header_violations(service, operation, key, {k.lower(): v for k, v in pairs})
    return found[:MAX_REPORTED] if len(found) > MAX_REPORTED else found


def _declared(service: Service, operation: Operation, status: int,
              content_type: str) -> tuple[str | None, str, dict[str, Any], str | None, bool, Any, bool]:
    """What the operation declares for this status and media type: the response's key, the received media type
    without parameters, the declared content, the declared media type it falls under, whether a body of it is
    judged as JSON, the validator judging it (None: no schema; the body must still parse), and whether the
    response declares headers. Worked out once per status and Content-Type (an upstream sends the same few), kept
    in the operation's cache, which `check_response` reads first."""
    key = _declared_status(operation.responses, status)
    mimetype = base_type(content_type) if content_type else ""
    response = (operation.responses.get(key) or {}) if key is not None else {}
    content = response.get("content") or {}
    media = _declared_media(content, mimetype)
    json_body = media is not None and is_json(mimetype or "application/json")
    validator = _validator(service, operation, key, media) if json_body else None
    found = (key, mimetype, content, media, json_body, validator, bool(response.get("headers")))
    if len(operation.cache) < 4096:  # a bound: Content-Type is the upstream's to choose
        operation.cache[("declared", status, content_type)] = found
    return found


def _validator(service: Service, operation: Operation, status: Any, media: Any, quiet: bool = True) -> Any:
    """The body validator for a declared JSON media type (`body_validator`); `_UNBUILT` when its schema cannot be
    compiled and `quiet` (the cache is built before any body needs it: only a body to judge raises)."""
    try:
        return body_validator(service, operation, status, media, any_media=not is_json(media))
    except Exception:
        if not quiet:
            raise
        return _UNBUILT


_UNBUILT = object()


def body_validator(service: Service, operation: Operation, status: str, media: str, any_media: bool = False) -> Any:
    """The response schema's validator (None when there is no JSON schema), compiled once per
    operation, status and media type: the mocker checks its answers with the same one."""
    key = ("validator", status, media, any_media)
    if key not in operation.cache:
        entry = ((operation.responses.get(status) or {}).get("content") or {}).get(media) or {}
        schema = entry.get("schema") if isinstance(entry, dict) else None
        operation.cache[key] = compile_schema(schema, service.openapi31, direction="response") \
            if isinstance(schema, dict) and (any_media or is_json(media)) else None
    return operation.cache[key]


def _body_violations(validator: Any, body: JsonOnce) -> list[Violation]:
    """A JSON body judged by its media type's schema (a range's such as `*/*` too: it still describes the JSON);
    without a schema it must still be JSON."""
    try:
        document = body.value()
    except JsonLimitError as exc:  # nothing can walk it: the answer cannot be checked (a 502 on the proxy)
        return [Violation("body", f"cannot be checked: {exc}", uncheckable=True)]
    except ValueError as exc:  # malformed or undecodable
        return [Violation("body", f"not valid JSON: {exc}")]
    if validator is None:
        return []
    try:
        errors = validator.iter_errors(document)
        if not errors:  # the usual answer
            return []
        errors = explain(errors)
    except Exception as exc:  # a schema no validator can apply
        return [Violation("body", f"the schema cannot be applied: {exc}"[:200])]
    return [Violation("body" + pointer(e), e.message[:200]) for e in errors[:MAX_REPORTED]]


def _header_violations(service: Service, operation: Operation, status: str, received: dict[str, str]) -> list[Violation]:
    """Declared headers: present when required, and their text typed and judged as a `simple`-style parameter."""
    found: list[Violation] = []
    for name, header in ((operation.responses.get(status) or {}).get("headers") or {}).items():
        if not isinstance(header, dict) or name.lower() == "content-type":
            continue
        text = received.get(name.lower())
        if text is None:
            if header.get("required"):
                found.append(Violation(f"header {name}", "required header is missing"))
            continue
        validator = _header_validator(service, operation, status, name, header)
        if validator is None:
            continue
        schema = validator.schema
        if "array" in declared_types(schema):
            item = schema.get("items") if isinstance(schema.get("items"), dict) else {}
            value: Any = [coerce_text(part.strip(), declared_types(item)) for part in text.split(",")]
        else:
            value = coerce_text(text, declared_types(schema))
        try:
            errors = explain(validator.iter_errors(value))
        except Exception:
            continue
        found += [Violation(f"header {name}", e.message[:200]) for e in errors]
    return found


def _header_validator(service: Service, operation: Operation, status: str, name: str, header: dict[str, Any]) -> Any:
    key = ("validator", status, f"header:{name}")
    if key not in operation.cache:
        schema = header.get("schema")
        operation.cache[key] = compile_schema(schema, service.openapi31, direction="parameter") \
            if isinstance(schema, dict) else None
    return operation.cache[key]


def short_reason(violations: list[Violation]) -> str:
    """One line for a response header: the first violation, and how many more."""
    first = str(violations[0])[:160]
    more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
    return (first + more).encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")


def report_violations(exchange: Any, response: Any, violations: list[Violation], what: str, logger: logging.Logger,
                      counts: Counter[tuple[str, str]] | None = None) -> None:
    """A verdict against the contract on an answer gw passes on (an upstream's, a simulated one): noted for the
    journal and `gw_contract_violations_total`, counted per operation, logged once with every reason."""
    operation = exchange.operation
    found = [str(v) for v in violations]
    exchange.notes["contract"] = found
    if counts is not None:
        counts[(operation.service, operation.key)] += 1
    fields = {"request_id": exchange.request_id, "service": operation.service, "operation": operation.key,
              "status": response.status, "violations": found}
    if "stub" in exchange.notes:
        fields["stub"] = exchange.notes["stub"]
    logger.warning("%s breaks the contract: %s %s", what, operation.key, short_reason(violations),
                   extra={"fields": fields})


def mark_violation(response: Any, violations: list[Violation]) -> None:
    """What a client sees of a violation it is still given the answer of: `X-GW-Contract: violation` and the reason."""
    response.headers.append(("x-gw-contract", "violation"))
    response.headers.append(("x-gw-contract-reason", short_reason(violations)))


def _declared_status(declared: dict[str, Any], status: int) -> str | None:
    text = str(status)
    return next((k for k in (text, f"{text[0]}XX", f"{text[0]}xx", "default") if k in declared), None)


def _declared_media(content: dict[str, Any], received: str) -> str | None:
    """The declared media type a response's type falls under: itself, else a range (`application/*`, `*/*`)."""
    ranked = sorted(content, key=lambda m: (base_type(m) != received, base_type(m).endswith("/*"), base_type(m) == "*/*"))
    for media in ranked:
        declared = base_type(media)
        if declared in (received, "*/*", "") or (declared.endswith("/*") and received.startswith(declared[:-1])):
            return media
    return None
