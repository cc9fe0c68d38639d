"""OpenAPI runtime expressions (`$request.body#/callbackUrl`, `$response.header.Location`, `$statusCode`):
parsed by the spec's ABNF and evaluated against one finished exchange. Callback URLs use them, embedded
in text between braces (`https://{$request.query.host}/hook?id={$response.body#/id}`).

    expression = "$url" / "$method" / "$statusCode" / "$request." source / "$response." source
    source     = header-reference / query-reference / path-reference / body-reference
    header-reference = "header." token       ; token = 1*tchar (RFC 7230), matched case-insensitively
    query-reference  = "query." name          ; name = *CHAR
    path-reference   = "path." name
    body-reference   = "body" ["#" json-pointer]   ; RFC 6901: "~1" is "/", "~0" is "~"

Parsing refuses what the grammar refuses (`ExpressionError`); evaluating something the exchange does
not hold (no such header, a pointer past the body) is `Unresolved`, so a caller can say which and why.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from ..core.json_once import JsonOnce

__all__ = ["Context", "Expression", "ExpressionError", "Unresolved", "expand", "parse", "parse_template", "pointer_get"]

_TCHAR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ESCAPE = re.compile(r"~(?![01])")
_SOURCES = ("header.", "query.", "path.", "body")


class ExpressionError(ValueError):
    """Text that is not a runtime expression by the spec's ABNF (the spec's author wrote it wrong)."""


class Unresolved(LookupError):
    """A well-formed expression that names nothing in this exchange (the request's author left it out)."""


@dataclass(frozen=True)
class Expression:
    """One parsed expression: `kind` is url | method | statusCode | request | response; for the last two,
    `source` is header | query | path | body and `name` the header/parameter name or the body's pointer."""

    text: str
    kind: str
    source: str = ""
    name: str = ""
    tokens: tuple[str, ...] = ()  # the body pointer's reference tokens, unescaped

    def evaluate(self, context: Context) -> Any:
        if self.kind == "url":
            return context.url
        if self.kind == "method":
            return context.method.upper()
        if self.kind == "statusCode":
            if context.status_code is None:
                raise Unresolved(f"{self.text}: there is no response yet")
            return context.status_code
        message = context.request if self.kind == "request" else context.response
        return message.lookup(self)


@dataclass
class Message:
    """The parts of a request or response an expression may read. Header names are compared in lower case;
    the body is given as bytes and parsed (JSON, else a form, else text) only when an expression reads it."""

    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    media_type: str = ""
    shared: JsonOnce | None = None  # the body's JSON as the exchange's other readers share it (parsed once)
    _parsed: tuple[Any] | None = None

    def __post_init__(self) -> None:
        self.headers = {k.lower(): v for k, v in self.headers.items()}

    def lookup(self, expression: Expression) -> Any:
        if expression.source == "body":
            return pointer_get(self.parsed_body(expression), expression.tokens, expression.text)
        found = {"header": self.headers, "query": self.query, "path": self.path}[expression.source]
        key = expression.name.lower() if expression.source == "header" else expression.name
        if key not in found:
            raise Unresolved(f"{expression.text}: the {expression.source} {expression.name!r} was not sent")
        return found[key]

    def parsed_body(self, expression: Expression) -> Any:
        if self.body is None:
            raise Unresolved(f"{expression.text}: there is no body to read")
        if self._parsed is None:
            self._parsed = (_parse_body(JsonOnce.reuse(self.shared, self.body), self.media_type),)
        return self._parsed[0]


@dataclass
class Context:
    """One exchange as runtime expressions see it."""

    url: str = ""
    method: str = ""
    status_code: int | None = None
    request: Message = field(default_factory=Message)
    response: Message = field(default_factory=Message)


def parse(text: str) -> Expression:
    """The expression `text` (without braces), checked against the ABNF."""
    if text in ("$url", "$method", "$statusCode"):
        return Expression(text, text[1:])
    for kind in ("request", "response"):
        prefix = f"${kind}."
        if text.startswith(prefix):
            return _source(text, kind, text[len(prefix):])
    raise ExpressionError(f"{text!r} is not a runtime expression: it must be $url, $method, $statusCode, "
                          f"$request.<source> or $response.<source>")


def _source(text: str, kind: str, rest: str) -> Expression:
    if rest.startswith("header."):
        token = rest[len("header."):]
        if not _TCHAR.fullmatch(token):
            raise ExpressionError(f"{text!r}: a header name is one or more token characters (RFC 7230)")
        return Expression(text, kind, "header", token)
    if rest.startswith(("query.", "path.")):
        source, _, name = rest.partition(".")
        return Expression(text, kind, source, name)
    if rest == "body":
        return Expression(text, kind, "body")
    if rest.startswith("body#"):
        pointer = rest[len("body#"):]
        return Expression(text, kind, "body", pointer, pointer_tokens(pointer, text))
    raise ExpressionError(f"{text!r}: the source must be header.<token>, query.<name>, path.<name> or body[#pointer]")


def pointer_tokens(pointer: str, text: str = "") -> tuple[str, ...]:
    """An RFC 6901 JSON Pointer's reference tokens, unescaped (`~1` -> `/`, then `~0` -> `~`)."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ExpressionError(f"{text or pointer!r}: a JSON pointer is empty or starts with /")
    if _ESCAPE.search(pointer):
        raise ExpressionError(f"{text or pointer!r}: ~ in a JSON pointer must be written ~0 or ~1")
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/"))


def pointer_get(document: Any, tokens: tuple[str, ...], text: str = "") -> Any:
    """The value `tokens` point at, or Unresolved naming the first step that finds nothing."""
    value = document
    for depth, token in enumerate(tokens):
        where = "/" + "/".join(t.replace("~", "~0").replace("/", "~1") for t in tokens[:depth + 1])
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and re.fullmatch(r"0|[1-9][0-9]*", token) and int(token) < len(value):
            value = value[int(token)]
        else:
            raise Unresolved(f"{text}: the body has nothing at {where}")
    return value


def parse_template(template: str) -> list[str | Expression]:
    """Text with `{expression}` parts, split into literal text and parsed expressions. A template that
    is one bare expression (`$request.body#/url`, as some specs write a callback key) is read as one."""
    if template.startswith("$") and "{" not in template:
        return [parse(template)]
    parts: list[str | Expression] = []
    position = 0
    for match in re.finditer(r"\{([^{}]*)\}", template):
        if match.start() > position:
            parts.append(template[position:match.start()])
        inner = match.group(1)
        parts.append(parse(inner) if inner.startswith("$") else match.group(0))  # `{id}`-style text stays as written
        position = match.end()
    if position < len(template):
        parts.append(template[position:])
    return parts


def expand(template: str | list[str | Expression], context: Context) -> str:
    """The template with each expression replaced by its value as text (numbers and booleans as JSON
    writes them, objects and arrays as compact JSON)."""
    parts = parse_template(template) if isinstance(template, str) else template
    return "".join(part if isinstance(part, str) else as_text(part.evaluate(context)) for part in parts)


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _parse_body(body: JsonOnce, media_type: str) -> Any:
    """JSON where it parses as JSON; a form as {name: value}; else the text itself."""
    text = body.body.decode("utf-8", "replace")
    if "x-www-form-urlencoded" in media_type:
        return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(text, keep_blank_values=True).items()}
    try:
        return body.value()  # bounded as every JSON body the gateway reads
    except (ValueError, LookupError):
        return text
