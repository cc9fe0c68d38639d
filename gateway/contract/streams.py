"""The validation proxy on a streamed answer: each event judged against the item schema as it passes.

Nothing is held back: a chunk goes on to the client first, then the events it completed are
checked, keeping at most one unfinished event (and giving up on a stream without separators
rather than holding it). The head went out long before, so a violation cannot change the status:
it is reported (logged and counted, as a head's are) for the first few events that break the
contract, and `strict` ends the stream unfinished so a client's test fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..core.json_limits import parse_json
from ..core.media_types import base_type
from ..mocker.streams import RS, cut_events, is_sse_shaped, item_checker, item_schema, stream_kind
from ..spec.load import Operation, Service
from .responses import Violation, check_response

MAX_REPORTED = 3  # event violations reported per stream; the rest pass unchecked
MAX_PENDING = 1024 * 1024  # an unfinished event longer than this is not checked (never held whole)


def response_violations(service: Service, operation: Operation, status: int, content_type: str, body: bytes | None,
                        headers: dict[str, str] | None = None) -> list[str]:
    """Each way a whole response breaks the operation's declared responses, as short sentences: its head and
    body (contract.check_response), and a stream's events judged one by one (`gw stubs verify`, recording
    checks and HAR import see a recorded SSE stream's drift)."""
    found = check_response(service, operation, status, content_type, body, headers)
    if body:
        found += whole_stream_violations(service, operation, status, content_type, body)
    return [str(v) for v in found]


class StreamBroke(Exception):
    """Strict contract: the stream is cut after an event that breaks the contract."""


def event_checker(service: Service, operation: Operation, status: int, content_type: str) -> Callable[..., Any] | None:
    """A function judging one event of this streamed answer, or None when the spec gives no item schema."""
    kind = stream_kind(content_type)
    status_key = _declared_status(operation.responses, status)
    if kind is None or status_key is None:
        return None
    content = (operation.responses.get(status_key) or {}).get("content") or {}
    media = next((m for m in content if base_type(m) == base_type(content_type)), None)
    schema = item_schema(content.get(media) or {}) if media else None
    if not isinstance(schema, dict):
        return None
    checker = item_checker(service, operation, (status_key, media, "item"), schema)
    shaped = kind == "sse" and is_sse_shaped(schema)
    return lambda event: _event_errors(kind, event, checker, shaped)


def whole_stream_violations(service: Service, operation: Operation, status: int, content_type: str,
                            body: bytes) -> list[Violation]:
    """The events of a streaming media type's body read whole (an upstream that sent its length) that break the
    contract, at most MAX_REPORTED of them: judged before the answer goes out, so they mark its head."""
    kind = stream_kind(content_type)
    judge = event_checker(service, operation, status, content_type) if kind else None
    if judge is None or kind is None:
        return []
    events, rest = cut_events(kind, body)
    found: list[Violation] = []
    for number, event in enumerate([*events, rest] if rest.strip() else events, start=1):
        errors = judge(event)
        found += [Violation(f"event {number}", message) for message in errors]
        if errors and len({v.where for v in found}) >= MAX_REPORTED:
            break
    return found


async def checked(chunks: AsyncIterator[bytes], kind: str, judge: Callable[[bytes], list[str]],
                  report: Callable[[list[Violation]], None], strict: bool) -> AsyncIterator[bytes]:
    """`chunks` passed on as they come, each completed event judged after it has gone out; with
    `strict`, passed on event by event, each judged first (at most one unfinished event held)."""
    splitter = _Splitter(kind)
    reported = 0
    number = 0
    async for chunk in chunks:
        if splitter.gave_up or reported >= MAX_REPORTED:
            yield chunk
            continue
        if not strict:
            yield chunk
        for event in splitter.feed(chunk):
            number += 1
            errors = judge(event) if reported < MAX_REPORTED else []
            if errors:
                reported += 1
                report([Violation(f"event {number}", message) for message in errors])
                if strict:
                    raise StreamBroke(f"event {number}: {errors[0]}")
            if strict:
                yield event
    rest = splitter.end()
    if rest:
        errors = judge(rest) if reported < MAX_REPORTED and not splitter.gave_up else []
        if errors:
            report([Violation(f"event {number + 1}", message) for message in errors])
            if strict:
                raise StreamBroke(f"event {number + 1}: {errors[0]}")
        if strict:
            yield rest


class _Splitter:
    """Cuts a byte stream into its events (SSE blocks, lines, RS-led records), each with its delimiter,
    keeping the unfinished one; one longer than MAX_PENDING comes out unfinished and ends the cutting."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.pending = b""
        self.gave_up = False

    def feed(self, chunk: bytes) -> list[bytes]:
        events, self.pending = cut_events(self.kind, self.pending + chunk)
        if len(self.pending) > MAX_PENDING:
            events.append(self.pending)
            self.pending, self.gave_up = b"", True
        return events

    def end(self) -> bytes:
        rest, self.pending = self.pending, b""
        return rest


def _event_errors(kind: str, event: bytes, checker: Any, shaped: bool) -> list[str]:
    text = event.decode("utf-8", "replace")
    if kind == "sse":
        fields = _sse_fields(text)
        if "data" not in fields:  # a comment or a bare `retry:`: nothing to judge
            return []
        if shaped:
            value: Any = fields
        elif fields["data"].strip() == "[DONE]":  # the usual terminator, no item
            return []
        else:
            value = _loaded(fields["data"])
    else:
        text = text.strip(RS.decode()).strip()
        if not text:
            return []
        try:
            value = parse_json(text)
        except ValueError:
            return ["not a JSON value"]
    try:
        return [_message(error) for error in checker.iter_errors(value)][:3]
    except Exception:  # the schema cannot be applied: not the upstream's fault
        return []


def _sse_fields(text: str) -> dict[str, Any]:
    """The fields of one SSE event as a client reads them (data lines joined, retry a number)."""
    fields: dict[str, Any] = {}
    data: list[str] = []
    for line in re.split(r"\r\n|\r|\n", text):
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name in ("event", "id"):
            fields[name] = value
        elif name == "retry" and value.isdigit():
            fields[name] = int(value)
    if data:
        fields["data"] = "\n".join(data)
    return fields


def _loaded(data: str) -> Any:
    try:
        return parse_json(data)
    except ValueError:
        return data  # judged as the text it is (a string item schema accepts it)


def _message(error: Any) -> str:
    place = "/".join(str(p) for p in getattr(error, "absolute_path", []))
    return f"{place}: {error.message}" if place else str(error.message)


def _declared_status(responses: dict[str, Any], status: int) -> str | None:
    for key in (str(status), f"{status // 100}XX", f"{status // 100}xx", "default"):
        if key in responses:
            return key
    return None
