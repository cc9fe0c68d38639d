"""Does this request match that stub? And when it does not, why not (the near-miss report).

A matched stub scores its specificity (an exact constraint counts more than a regex), so the
most specific stub wins; a stub that did not match says which constraints failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..core.json_once import JsonOnce
from .format import Stub
from .scenarios import STARTED


@dataclass
class RequestView:
    """The parts of a request a stub can constrain, in the shapes matchers compare."""

    method: str
    path: str  # below the service's base path
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    scenarios: dict[str, str] = field(default_factory=dict)  # scenario -> its state in the request's session
    parsed: JsonOnce | None = field(default=None, repr=False)  # the body's JSON, shared with the exchange's other readers

    def json(self) -> Any:
        """The body as JSON (parsed once), or None: no body, not JSON, or beyond the gateway's JSON limits."""
        if not self.body:
            return None
        if self.parsed is None or not self.parsed.holds(self.body):
            self.parsed = JsonOnce(self.body)
        return self.parsed.value_or(None)


@dataclass
class Verdict:
    matched: bool
    score: int  # specificity of a match; for a miss, how many constraints held
    total: int  # how many constraints the stub has
    reasons: list[str]  # the constraints that failed


def judge(stub: Stub, request: RequestView) -> Verdict:
    score, total, reasons = 0, 0, []

    def check(ok: bool, weight: int, reason: str) -> None:
        nonlocal score, total
        total += 1
        if ok:
            score += weight
        else:
            reasons.append(reason)

    check(stub.method == request.method, 1, f"method: expected {stub.method}, got {request.method}")
    if stub.scenario is not None:  # its state counts as an exact constraint: it beats the same stub without one
        current = request.scenarios.get(stub.scenario.name, STARTED)
        check(current == stub.scenario.state, 2,
              f"scenario {stub.scenario.name}: in state {current}, this stub answers in {stub.scenario.state}")
    if stub.path is not None:
        check(_text_matches(stub.path, request.path), _weight(stub.path),
              f"path: expected {_show(stub.path)}, got {request.path}")
    for name, expected in stub.query.items():
        values = request.query.get(name, [])
        check(any(_text_matches(expected, v) for v in values), _weight(expected),
              f"query {name}: expected {_show(expected)}, got {_show_values(values)}")
    for name, expected in stub.headers.items():
        value = request.headers.get(name)
        check(value is not None and _text_matches(expected, value), _weight(expected),
              f"header {name}: expected {_show(expected)}, got {_show_values([value] if value is not None else [])}")
    if stub.body:
        from .json_paths import values as selected  # loaded with the first stub that matches bodies (compiled by format.py)

        document = request.json()
        for path, expected in stub.body.items():
            found = selected(expected["query"], document)
            check(any(value_matches(expected, v) for v in found), _weight(expected),
                  f"body {path}: expected {_show(expected)}, got {_show_values(found)}")
    return Verdict(not reasons, score, total, reasons)


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
    return json.dumps(matcher)


def _show_values(values: list[Any]) -> str:
    if not values:
        return "nothing"
    return " or ".join(json.dumps(v) for v in values[:3])


def json_path(document: Any, path: str) -> list[Any]:
    """The values at an RFC 9535 JSONPath (stubs/json_paths.py); nothing for a path that is not one."""
    from .json_paths import json_path as select

    return select(document, path)
