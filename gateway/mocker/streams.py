"""Streamed mock answers: Server-Sent Events, JSON Lines and JSON text sequences, one event at a time.

A client reading `text/event-stream` (an SSE client, an LLM SDK) needs several events, each
flushed as it is sent, not one JSON document. The events come from the media type's example
(SSE text is sent as written, `data: [DONE]` terminator included; a list gives one event per
item) or are generated from the item schema: OpenAPI 3.2's `itemSchema`, an `x-item-schema` /
`x-sse-item` hint, or the response schema applied per event (its `items` when it is an array).
Every generated event is valid against the item schema; a oneOf/anyOf item schema has its
branches taken in turn. An item schema that describes the SSE event itself (3.2 style:
properties among `data`, `event`, `id`, `retry`) is framed field by field, its `data` generated
from `contentSchema` where one is given.

The answer is cached as an `EventStream` (the framed events), never as one body; how many events
are sent and how fast is decided per request: the gateway's `streams: {events, interval}`, or
`Prefer: count=N, delay=MS`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..contract.judge import compile_schema
from ..core.exchange import Exchange
from ..core.media_types import base_type

if TYPE_CHECKING:
    from ..spec.load import Operation, Service

# media type -> framing: sse (event blocks), lines (one JSON value a line), seq (RFC 7464: RS value LF)
STREAM_TYPES = {
    "text/event-stream": "sse",
    "application/x-ndjson": "lines",
    "application/ndjson": "lines",
    "application/jsonl": "lines",
    "application/x-jsonl": "lines",
    "application/jsonlines": "lines",
    "application/x-jsonlines": "lines",
    "application/x-ldjson": "lines",
    "application/json-seq": "seq",
}
ITEM_HINTS = ("itemSchema", "x-item-schema", "x-itemSchema", "x-sse-item", "x-stream-item", "x-event-schema")
SSE_FIELDS = frozenset({"data", "event", "id", "retry"})
POOL = 64  # distinct generated events at most; a longer stream takes them in turn
MAX_COUNT = 1000
MAX_DELAY = 10.0
RS = b"\x1e"
_SSE_END = re.compile(rb"(\r\n\r\n|\n\n|\r\r)")  # an SSE event ends at a blank line


def stream_kind(media: str | None) -> str | None:
    """`sse`, `lines` or `seq` for a streaming media type, else None."""
    return STREAM_TYPES.get(base_type(media)) if media else None


@dataclass(frozen=True)
class Pacing:
    """How many events a generated stream sends, and the pause before each one after the first."""

    events: int = 3
    delay: float = 0.0
    asked: bool = False  # the request named a count: an example's events are taken in turn up to it

    def preferred(self, prefer: str | None) -> Pacing:
        """`Prefer: count=N` and `delay=MS` (milliseconds) for this request, bounded."""
        events, delay, asked = self.events, self.delay, False
        for part in (prefer or "").replace(";", ",").split(","):
            key, _, value = part.strip().partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            try:
                if key == "count":
                    events, asked = max(0, min(MAX_COUNT, int(value))), True
                elif key == "delay":
                    delay = max(0.0, min(MAX_DELAY, float(value) / 1000))
            except ValueError:
                continue
        return Pacing(events, delay, asked)


@dataclass(frozen=True)
class EventStream:
    """A streamed answer as the mocker caches it: its framed events, and the terminator to end with.

    A generated stream makes each event when it is first needed (`make(index)`) and keeps it, so a
    repeat costs no schema work and a large union item schema costs only the events sent.
    """

    events: list[bytes]
    terminator: bytes = b""
    fixed: bool = False  # from an example: all its events unless the request asks for a count
    make: Callable[[int], bytes] | None = None

    def event(self, index: int) -> bytes:
        """The event at `index`: made (up to POOL distinct ones), or an earlier one taken in turn."""
        while self.make is not None and len(self.events) <= index and len(self.events) < POOL:
            self.events.append(self.make(len(self.events)))
        return self.events[index % len(self.events)]

    async def body(self, pacing: Pacing) -> AsyncIterator[bytes]:
        """Each event its own write (the edge flushes each), with the pacing delay between them."""
        count = len(self.events) if self.fixed and not pacing.asked else pacing.events
        if not self.events and self.make is None:
            count = 0
        for index in range(count):
            if index and pacing.delay:
                await asyncio.sleep(pacing.delay)
            yield self.event(index)
        if self.terminator:
            if count and pacing.delay:
                await asyncio.sleep(pacing.delay)
            yield self.terminator


def stream_headers(kind: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Streams are not cached by clients or buffered by proxies (nginx reads X-Accel-Buffering)."""
    names = {k.lower() for k, _ in headers}
    extra = [("cache-control", "no-cache")] if kind == "sse" and "cache-control" not in names else []
    return [*headers, *extra, ("x-accel-buffering", "no")]


async def streamed_accept(exchange: Exchange) -> str | None:
    """The streaming media type a JSON request body asks for with `"stream": true`, as OpenAI-style
    APIs read it (their SDKs send `Accept: application/json` either way), when the operation documents one."""
    operation = exchange.operation
    if operation is None or "json" not in (exchange.headers.get("content-type") or ""):
        return None
    declared = streamed_media(operation)
    if not declared:
        return None
    body = await exchange.body()
    if b'"stream"' not in body:
        return None
    try:
        document = exchange.request_json(body).value()  # parsed once, with request validation
    except (ValueError, LookupError):
        return None
    return declared[0] if isinstance(document, dict) and document.get("stream") is True else None


def streamed_media(operation: Operation) -> list[str]:
    """The streaming media types the operation's 2xx answers document, worked out once per operation."""
    key = ("validator", "streamed media")  # kept with the validators when the mocker drops old answers
    found = operation.cache.get(key)
    if found is None:
        found = operation.cache[key] = [media for code, response in operation.responses.items() if code.startswith("2")
                                        for media in ((response or {}).get("content") or {}) if stream_kind(media)]
    return found


def item_schema(entry: dict[str, Any]) -> Any:
    """The schema of one event: a declared item schema, else the response schema (its items when an array)."""
    schema = entry.get("schema")
    for hint in ITEM_HINTS:
        for holder in (entry, schema if isinstance(schema, dict) else {}):
            if isinstance(holder.get(hint), dict):
                return holder[hint]
    if isinstance(schema, dict) and schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return schema["items"]
    return schema


def detached(exchange: Exchange) -> Exchange:
    """The request as generating an event needs it (path, query, parameters, operation), without the
    connection: a cached stream makes its events lazily, long after this request has gone."""
    scope = {k: v for k, v in exchange.scope.items()
             if k not in ("state", "extensions") and isinstance(v, (str, bytes, int, float, bool, list, tuple, dict))}
    copy = Exchange(scope, _gone, request_id=exchange.request_id)
    copy.service, copy.operation, copy.mode = exchange.service, exchange.operation, exchange.mode
    return copy


async def _gone() -> dict[str, Any]:
    return {"type": "http.disconnect"}


def item_checker(service: Service, operation: Operation, place: tuple[str, ...], schema: Any) -> Any:
    """The validator of an item (or an SSE item's data) schema, compiled once per operation and place."""
    key = ("validator", *place)  # the mocker's cache keeps validators when it drops old answers
    if key not in operation.cache:
        operation.cache[key] = compile_schema(schema, service.openapi31, direction="response") \
            if isinstance(schema, dict) else None
    return operation.cache[key]


def branches(schema: Any) -> list[dict[str, Any]]:
    """One schema per oneOf/anyOf branch, each keeping the rest of the item schema (a discriminator
    included, so the generator still writes the branch's tag); the schema itself when it has none."""
    if not isinstance(schema, dict):
        return [schema]
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        if isinstance(options, list) and len(options) > 1:
            return [{**schema, key: [option]} for option in options]
    return [schema]


def is_sse_shaped(schema: Any) -> bool:
    """An item schema describing the SSE event itself (OpenAPI 3.2): its properties are SSE fields, `data` among them."""
    if not isinstance(schema, dict):
        return False
    base = _properties(schema)
    options = [o for o in (schema.get("oneOf") or schema.get("anyOf") or []) if isinstance(o, dict)]
    fields = [{**base, **_properties(o)} for o in options] or [base]
    return all("data" in f and set(f) <= SSE_FIELDS for f in fields)


def content_schema(schema: Any) -> Any:
    """The `contentSchema` of an SSE-shaped item's `data` (JSON carried in a string), if any."""
    data = _properties(schema, with_branches=True).get("data")
    return data.get("contentSchema") if isinstance(data, dict) and isinstance(data.get("contentSchema"), dict) else None


def event_name(value: Any, schema: Any, typed_union: bool) -> str | None:
    """The SSE `event:` a payload names: its `event` property when the schema fixes it, or its
    `type` when the item schema is a union of typed events (Anthropic, OpenAI Responses)."""
    if not isinstance(value, dict):
        return None
    properties = _properties(schema, with_branches=True)
    for name in ("event", "type") if typed_union else ("event",):
        sub = properties.get(name)
        fixed = isinstance(sub, dict) and ("const" in sub or len(sub.get("enum") or []) == 1)
        if fixed and isinstance(value.get(name), str) and value[name]:
            return value[name]
    return None


def _properties(schema: Any, with_branches: bool = False) -> dict[str, Any]:
    """A schema's properties with its allOf parts' (and, with `with_branches`, its oneOf/anyOf branches')."""
    if not isinstance(schema, dict):
        return {}
    found: dict[str, Any] = {}
    keys = ("allOf", "oneOf", "anyOf") if with_branches else ("allOf",)
    for part in (schema, *(p for key in keys for p in (schema.get(key) or []))):
        if isinstance(part, dict) and isinstance(part.get("properties"), dict):
            found.update(part["properties"])
    return found


def _required(schema: Any) -> set[str]:
    """The property names a schema (its allOf parts and oneOf/anyOf branches included) requires."""
    if not isinstance(schema, dict):
        return set()
    parts = [schema, *(p for key in ("allOf", "oneOf", "anyOf") for p in (schema.get(key) or []))]
    return {str(name) for part in parts if isinstance(part, dict) for name in (part.get("required") or [])}


def frame_sse(data: str, event: str | None = None, event_id: Any = None, retry: Any = None) -> bytes:
    """One SSE event block: its fields, `data` split over lines, a blank line to end it."""
    lines = []
    if event:
        lines.append(f"event: {_one_line(event)}")
    if event_id is not None:
        lines.append(f"id: {_one_line(str(event_id))}")
    if isinstance(retry, int) and not isinstance(retry, bool):
        lines.append(f"retry: {retry}")
    lines += [f"data: {line}" for line in re.split(r"\r\n|\r|\n", data)]
    return ("\n".join(lines) + "\n\n").encode()


def frame_sse_object(value: dict[str, Any]) -> bytes:
    """An SSE-shaped item (`{event, id, retry, data}`) as its event block."""
    data = value.get("data", "")
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return frame_sse(text, value.get("event") if isinstance(value.get("event"), str) else None, value.get("id"),
                     value.get("retry"))


def frame_value(kind: str, value: Any, event: str | None = None) -> bytes:
    """A payload as one event of `kind`: SSE data (text as is, else JSON), or one JSON line / RS-record."""
    if kind == "sse":
        return frame_sse(value if isinstance(value, str) else _json(value), event)
    text = _json(value)
    return (RS + text.encode() + b"\n") if kind == "seq" else (text + "\n").encode()


def parse_sse_text(text: str) -> list[bytes]:
    """An example written as SSE text, split into its event blocks (each sent as written)."""
    blocks = re.split(r"(?:\r\n|\r|\n)[ \t]*(?:\r\n|\r|\n)", text.strip("\r\n"))
    return [(block.rstrip("\r\n") + "\n\n").encode() for block in blocks if block.strip()]


def looks_like_sse(text: str) -> bool:
    return bool(re.search(r"^(data|event|id|retry):", text, re.MULTILINE))


def sse_data(block: bytes) -> str:
    """The data of an SSE event block, its `data:` lines joined as a client joins them."""
    lines = block.decode("utf-8", "replace").splitlines()
    return "\n".join(line[5:].removeprefix(" ") for line in lines if line.startswith("data:"))


def split_terminator(kind: str, events: list[bytes]) -> tuple[list[bytes], bytes]:
    """An SSE example's closing event that is no JSON while the others are (OpenAI's `data: [DONE]`)."""
    if kind != "sse" or len(events) < 2:
        return events, b""
    last = sse_data(events[-1]).strip()
    if last == "[DONE]" or (not _parses(last) and any(_parses(sse_data(e)) for e in events[:-1])):
        return events[:-1], events[-1]
    return events, b""


def text_events(kind: str, text: str) -> list[bytes]:
    """A string example for a stream: SSE blocks, or one value a line (RS-prefixed for json-seq)."""
    if kind == "sse":
        return parse_sse_text(text) if looks_like_sse(text) else [frame_sse(text)]
    lines = [line.strip(RS.decode()).strip() for line in text.splitlines()]
    return [frame_value(kind, json.loads(line)) if _parses(line) else (line + "\n").encode() for line in lines if line]


def build_stream(kind: str, entry: dict[str, Any], example: tuple[bool, Any], use_example: bool,
                 make: Callable[[Any, int, str], Any], valid: Callable[[Any], bool]) -> EventStream:
    """The stream for one media entry: the example's events when there is a usable one, else generated.

    `make(schema, index, role)` generates a value from `schema` valid against the item schema
    (role `item`; `schema` is one of its branches) or against `schema` itself (role `data:N`, an
    SSE item's contentSchema); `valid(value)` checks an example item against the item schema.
    """
    schema = item_schema(entry)
    shaped = kind == "sse" and is_sse_shaped(schema)
    found, value = example
    terminator = b""
    if found and isinstance(value, str) and kind == "sse" and looks_like_sse(value):
        events, terminator = split_terminator(kind, parse_sse_text(value))
        if use_example:
            return EventStream(events, terminator, fixed=True)
    elif found and use_example and isinstance(value, str):
        return EventStream(text_events(kind, value), fixed=True)
    elif found and use_example and isinstance(value, list) and value:
        items, terminator = _list_terminator(kind, value)
        if all(valid(item) for item in items):
            return EventStream([_frame_item(kind, item, schema, shaped) for item in items], terminator, fixed=True)
    first: list[bytes] = []
    if found and use_example and not isinstance(value, (list, str)) and valid(value):
        first = [_frame_item(kind, value, schema, shaped)]
    parts = branches(schema)

    def generated(index: int) -> bytes:
        part = parts[index % len(parts)]
        item = make(part, index, "item")
        if shaped and isinstance(item, dict):
            if "retry" not in _required(part):  # an optional retry, generated, would set browsers reconnecting in ms
                item = {k: v for k, v in item.items() if k != "retry"}
            inner = content_schema(part)
            if isinstance(inner, dict) and isinstance(item.get("data"), str):
                item = {**item, "data": _json(make(inner, index, f"data:{index % len(parts)}"))}
            return frame_sse_object(item)
        return frame_value(kind, item, event_name(item, part, len(parts) > 1) if kind == "sse" else None)

    stream = EventStream(first, terminator, make=generated)
    stream.event(0)  # the first one now: a schema no event can meet fails before the answer has begun
    return stream


def _list_terminator(kind: str, items: list[Any]) -> tuple[list[Any], bytes]:
    if kind == "sse" and len(items) > 1 and items[-1] == "[DONE]":
        return items[:-1], frame_sse("[DONE]")
    return items, b""


def _frame_item(kind: str, item: Any, schema: Any, shaped: bool) -> bytes:
    if shaped and isinstance(item, dict):
        return frame_sse_object(item)
    return frame_value(kind, item, event_name(item, schema, len(branches(schema)) > 1) if kind == "sse" else None)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _one_line(text: str) -> str:
    return re.sub(r"[\r\n]", " ", text)


def cut_events(kind: str, data: bytes) -> tuple[list[bytes], bytes]:
    """The complete events at the start of `data` (delimiters kept, so they join back to it) and the rest."""
    if kind == "sse":
        parts = _SSE_END.split(data)
        return [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)], parts[-1]
    if kind == "seq":
        parts = data.split(RS)
        if len(parts) == 1:
            return [], data
        return [p for p in [parts[0], *(RS + p for p in parts[1:-1])] if p], RS + parts[-1]
    end = data.rfind(b"\n") + 1
    return data[:end].splitlines(keepends=True), data[end:]


async def replay_events(kind: str, body: bytes) -> AsyncIterator[bytes]:
    """A recorded stream's body sent again event by event, byte for byte as recorded."""
    events, rest = cut_events(kind, body)
    for event in events:
        yield event
    if rest:
        yield rest
