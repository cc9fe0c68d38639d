"""A JSON body parsed once, its value shared by every reader of the body.

A request's body is read by request validation, stub matching, templates, the simulator, recording
(redaction) and the journal (verification's body matchers); an upstream's answer by the validation
proxy and the recorder. Each used to parse the same bytes again. A `JsonOnce` travels with the body: on
the exchange (`Exchange.request_json`), the response (`Response.body_json`) and the journal's entry. The
first reader parses it through json_limits.parse_json (bounded, orjson-fast); every later one gets the
same value, or the same ValueError. Readers must not change the value (copy before amending it).
"""

from __future__ import annotations

from typing import Any

from .json_limits import parse_json

_UNPARSED = object()


class JsonOnce:
    """One body and its JSON, parsed on first need. `encoding`: the charset the request declared (request
    validation decodes with it); None: the encoding is detected, as JSON's RFC says."""

    __slots__ = ("_error", "_value", "body", "encoding")

    def __init__(self, body: bytes, encoding: str | None = None) -> None:
        self.body = body
        self.encoding = encoding
        self._value: Any = _UNPARSED
        self._error: ValueError | LookupError | None = None

    def holds(self, body: bytes) -> bool:
        """Whether this is `body`'s parse (the same bytes; a replaced body is parsed anew)."""
        return self.body is body or self.body == body

    @classmethod
    def reuse(cls, previous: JsonOnce | None, body: bytes, encoding: str | None = None) -> JsonOnce:
        """`previous` when it is `body`'s parse, else a new one: how every holder of a body's JSON keeps it
        (a body replaced on the way, by a template or a redaction, is parsed anew)."""
        return previous if previous is not None and previous.holds(body) else cls(body, encoding)

    def value(self) -> Any:
        """The JSON value; ValueError (or LookupError: an unknown charset) as the first parse raised it."""
        if self._value is _UNPARSED:
            if self._error is None:
                try:
                    self._value = parse_json(self.body, encoding=self.encoding)
                except (ValueError, LookupError) as exc:
                    self._error = exc
            if self._error is not None:
                raise self._error
        return self._value

    def value_or(self, default: Any = None) -> Any:
        """The JSON value, or `default` when the body is not JSON (or is beyond the gateway's limits)."""
        try:
            return self.value()
        except (ValueError, LookupError):
            return default
