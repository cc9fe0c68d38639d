"""Does this request match that stub? And when it does not, why not (the near-miss report).

A matched stub scores its specificity (an exact constraint counts more than a regex), so the
most specific stub wins; a stub that did not match says which constraints failed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from ..core.json_once import JsonOnce
from .format import Stub
from .scenarios import STARTED


class RequestView:
    """The parts of a request a stub can constrain, in the shapes matchers compare. The query and the headers
    may be given raw (`query_string`, `raw_headers`): parsed on first use, as most stubs constrain the path
    alone and most requests then never pay for parsing either."""

    __slots__ = ("_headers", "_query", "_raw_headers", "_raw_query", "body", "method", "parsed", "path", "scenarios")

    def __init__(self, method: str, path: str, query: dict[str, list[str]] | None = None,
                 headers: dict[str, str] | None = None, body: bytes = b"", scenarios: dict[str, str] | None = None,
                 parsed: JsonOnce | None = None, *, query_string: bytes = b"",
                 raw_headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self.method = method
        self.path = path  # below the service's base path
        self._query = query
        self._headers = headers  # lower-case names
        self._raw_query = query_string  # read when `query` was not given, on first use
        self._raw_headers = raw_headers  # read when `headers` was not given (ASGI's pairs), on first use
        self.body = body
        self.scenarios = {} if scenarios is None else scenarios  # scenario -> its state in the request's session
        self.parsed = parsed  # the body's JSON, shared with the exchange's other readers

    @classmethod
    def below(cls, base_path: str, method: str, path: str, query_string: bytes, raw_headers: Iterable[tuple[bytes, bytes]],
              body: bytes = b"", parsed: JsonOnce | None = None) -> RequestView:
        """A request (live, or journaled) as the stubs of the service at `base_path` see it: its path below it."""
        if base_path != "/" and path.startswith(base_path):  # a service mounted at `/` has no prefix (mount_prefix)
            path = path[len(base_path):]
        return cls(method, path or "/", body=body, parsed=parsed, query_string=query_string, raw_headers=raw_headers)

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            raw = self._raw_query
            self._query = parse_qs(raw.decode("latin-1"), keep_blank_values=True) if raw else {}
        return self._query

    @property
    def headers(self) -> dict[str, str]:
        """Lower-case names; a repeated header's last value."""
        if self._headers is None:
            self._headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self._raw_headers}
        return self._headers

    def json(self) -> Any:
        """The body as JSON (parsed once), or None: no body, not JSON, or beyond the gateway's JSON limits."""
        if not self.body:
            return None
        self.parsed = JsonOnce.reuse(self.parsed, self.body)
        return self.parsed.value_or(None)


@dataclass(slots=True)
class Verdict:
    matched: bool
    score: int  # specificity of a match; for a miss, how many constraints held
    total: int  # how many constraints the stub has
    reasons: list[str]  # the constraints that failed


def judge(stub: Stub, request: RequestView, explain: bool = True) -> Verdict:
    """Each constraint checked in turn; a failed one's reason is worded only when it failed, and only when
    `explain`: a lookup among many stubs words only the nearest misses it reports."""
    score, total, failed, reasons = 0, 1, 0, []
    if stub.method == request.method:
        score += 1
    else:
        failed += 1
        if explain:
            reasons.append(f"method: expected {stub.method}, got {request.method}")
    scenario = stub.scenario
    if scenario is not None:  # its state counts as an exact constraint: it beats the same stub without one
        total += 1
        current = request.scenarios.get(scenario.name, STARTED)
        if current == scenario.state:
            score += 2
        else:
            failed += 1
            if explain:
                reasons.append(f"scenario {scenario.name}: in state {current}, this stub answers in {scenario.state}")
    path = stub.path
    if path is not None:
        total += 1
        if path == request.path if type(path) is str else _text_matches(path, request.path):  # most paths are exact
            score += 2 if type(path) is str else _weight(path)
        else:
            failed += 1
            if explain:
                reasons.append(f"path: expected {_quoted(path) if type(path) is str else _show(path)}, got {request.path}")
    if stub.query:
        query = request.query
        for name, expected in stub.query.items():
            total += 1
            values = query.get(name, [])
            if any(_text_matches(expected, v) for v in values):
                score += _weight(expected)
            else:
                failed += 1
                if explain:
                    reasons.append(f"query {name}: expected {_show(expected)}, got {_show_values(values)}")
    if stub.headers:
        headers = request.headers
        for name, expected in stub.headers.items():
            total += 1
            value = headers.get(name)
            if value is not None and _text_matches(expected, value):
                score += _weight(expected)
            else:
                failed += 1
                if explain:
                    reasons.append(f"header {name}: expected {_show(expected)}, "
                                   f"got {_show_values([value] if value is not None else [])}")
    if stub.body:
        from .json_paths import values as selected  # loaded with the first stub that matches bodies (compiled by format.py)

        document = request.json()
        for path, expected in stub.body.items():
            total += 1
            found = selected(expected["query"], document)
            if any(value_matches(expected, v) for v in found):
                score += _weight(expected)
            else:
                failed += 1
                if explain:
                    reasons.append(f"body {path}: expected {_show(expected)}, got {_show_values(found)}")
    return Verdict(not failed, score, total, reasons)


def specificity(stub: Stub) -> int:
    """The score a stub earns when it matches: exact constraints count 2, regexes 1, the method 1."""
    weights = [_weight(m) for m in (*stub.query.values(), *stub.headers.values(), *stub.body.values())]
    return 1 + (_weight(stub.path) if stub.path is not None else 0) + sum(weights) + (2 if stub.scenario else 0)


def _weight(matcher: Any) -> int:
    return 1 if isinstance(matcher, dict) and "regex" in matcher else 2


def _text_matches(matcher: Any, value: str) -> bool:
    if isinstance(matcher, dict):
        return bool(matcher["regex"].search(value))
    return matcher == value


def value_matches(matcher: dict[str, Any], value: Any) -> bool:
    if "regex" in matcher:
        return isinstance(value, (str, int, float)) and bool(matcher["regex"].search(str(value)))
    return matcher["equals"] == value


def _show(matcher: Any) -> str:
    if isinstance(matcher, dict):
        if "regex" in matcher:
            return f"/{matcher['regex'].pattern}/"
        return json.dumps(matcher["equals"])
    return _quoted(matcher) if type(matcher) is str else json.dumps(matcher)


@lru_cache(maxsize=1024)
def _quoted(text: str) -> str:
    """An exact matcher as a near miss shows it, worded once per matcher (a stub's near miss recurs per request)."""
    return json.dumps(text)


def _show_values(values: list[Any]) -> str:
    if not values:
        return "nothing"
    return " or ".join(json.dumps(v) for v in values[:3])


def json_path(document: Any, path: str) -> list[Any]:
    """The values at an RFC 9535 JSONPath (stubs/json_paths.py); nothing for a path that is not one."""
    from .json_paths import json_path as select

    return select(document, path)
