"""The body gw sends in a callback or webhook: the request body its operation documents, chosen as the
mocker chooses an answer's (the declared example when it fits the schema, else a generated value), and
held to the schema by the one judge, as a request body (readOnly properties left out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..contract.judge import accepts, checker_factory, compile_schema
from ..core.media_types import is_json
from ..mocker.generator import Options, generate
from ..mocker.media import content_type, encode, is_binary
from ..mocker.negotiator import find_example
from ..spec.load import Service

ATTEMPTS = 8


@dataclass(frozen=True)
class Payload:
    """What goes on the wire: no body (`media` empty) or `body` as `content_type`."""

    media: str = ""
    content_type: str = ""
    body: bytes = b""
    value: Any = None
    valid: bool = True  # False only where no example or generated value fits the schema (the spec cannot be met)


def request_payload(service: Service, definition: dict[str, Any], seed: str) -> Payload:
    """The operation's request body: its first JSON media type (else its first one), example or generated."""
    content = (definition.get("requestBody") or {}).get("content") or {}
    if not isinstance(content, dict) or not content:
        return Payload()
    media = next((m for m in content if is_json(m)), next(iter(content)))
    entry = content.get(media) or {}
    schema = entry.get("schema") if isinstance(entry.get("schema"), dict) else None
    if is_binary(media, schema):
        return Payload(media, content_type(media), encode(None, media, schema))
    checker = compile_schema(schema, service.openapi31, "request") if schema is not None else None
    found, example = find_example(entry, None)
    if found and (checker is None or accepts(checker, example)):
        return Payload(media, content_type(media), encode(example, media, schema), example)
    value, valid = _generated(service, schema or {}, seed, checker)
    return Payload(media, content_type(media), encode(value, media, schema), value, valid)


def _generated(service: Service, schema: dict[str, Any], seed: str, checker: Any) -> tuple[Any, bool]:
    """A generated value that fits (the last attempts only what is required), else the last one tried."""
    value = None
    for attempt in range(ATTEMPTS):
        options = Options(response=False, names=service.schema_names, attempt=attempt, use_examples=attempt < 2,
                          validator=checker_factory(service.openapi31, "request"),
                          null_when_allowed=attempt >= ATTEMPTS - 2, minimal=attempt == ATTEMPTS - 1)
        value = generate(schema, f"{seed}#{attempt}", options)
        if checker is None or accepts(checker, value):
            return value, True
    return value, False
