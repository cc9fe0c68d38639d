"""Choose which of an operation's declared responses to answer: status, media type, example.

Prism-compatible `Prefer` (`code=404`, `example=notFound`, `dynamic=true`, combinable) and the
client's `Accept` decide (`delay=MS` and `fault=KIND` are read here too, for the chaos step); without
them, the lowest 2xx and the first media type win.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.problems import Problem
from ..spec.load import Operation
from ..spec.media_headers import ACCEPT_LISTED
from .generator import schema_example


@dataclass(frozen=True)
class Preferences:
    code: str | None = None
    example: str | None = None
    dynamic: bool = False
    delay: str | None = None  # milliseconds, as sent (gateway/chaos/step.py reads them)
    fault: str | None = None


NO_PREFERENCES = Preferences()  # what a request without `Prefer` asks for (frozen: one for all of them)


def parse_prefer(header: str | None) -> Preferences:
    if not header:
        return NO_PREFERENCES
    values: dict[str, str] = {}
    for part in header.replace(";", ",").split(","):
        key, _, value = part.strip().partition("=")
        if key:
            values[key.strip().lower()] = value.strip().strip('"')
    return Preferences(values.get("code"), values.get("example"), values.get("dynamic", "").lower() == "true",
                       values.get("delay"), values.get("fault"))


def choose_status(operation: Operation, prefs: Preferences) -> str:
    responses = operation.responses
    if prefs.code:
        if prefs.code.startswith("1"):
            raise Problem(422, detail=f"Prefer: code={prefs.code}: a 1xx status is never a final answer",
                          title="Preferred response cannot be sent", slug="prefer-not-declared")
        if prefs.code in responses:
            return prefs.code
        pattern = f"{prefs.code[0]}XX"
        if pattern in responses or pattern.lower() in responses:
            return pattern if pattern in responses else pattern.lower()
        if "default" in responses and prefs.code.isdigit():
            return "default"
        raise Problem(422, detail=f"Prefer: code={prefs.code}, but {operation.label} declares only "
                                  f"{', '.join(sorted(responses)) or 'no responses'}",
                      title="Preferred response is not in the contract", slug="prefer-not-declared")
    # a 1xx is never a final answer, so it is never the mock's
    responses = {code: value for code, value in responses.items() if not code.startswith("1")}
    codes = sorted(c for c in responses if c.isdigit() and c.startswith("2"))
    if codes:
        return codes[0]
    ranges = [c for c in responses if c.upper() == "2XX"]
    if ranges:
        return ranges[0]
    if "default" in responses:
        return "default"
    numeric = sorted(c for c in responses if c.isdigit())
    if numeric:
        return numeric[0]
    return "200"  # the operation declares no response at all (3.1 allows it): an empty 200


def status_number(status: str, preferred: str | None = None) -> int:
    """The status to send for a declared key: a range (`4XX`) or `default` chosen for `Prefer: code=404`
    answers 404, the code the client asked for."""
    if status.isdigit():
        return int(status)
    if preferred and preferred.isdigit() and len(preferred) == 3 and (status == "default" or preferred[0] == status[0]):
        return int(preferred)
    if status.upper().endswith("XX"):
        return int(status[0]) * 100
    return 200  # default


def choose_media(content: dict[str, Any], accept: str | None, operation: Operation) -> str | None:
    """The declared media type that best fits `Accept` (RFC 9110 section 12.5.1); None when the response
    has no body.

    Each declared type takes the quality of the most specific range that matches it (`text/csv` over
    `text/*` over `*/*`; a range's parameters must agree with the type's), so `q=0` refuses a type even
    when a wildcard admits it. The best quality wins; equal qualities go to the more specific match, then
    the range the client listed first, then the spec's order. No `Accept` (or `*/*`) is the spec's first
    type, as Prism does. 406 only when no declared type is acceptable."""
    if not content:
        return None
    if not accept or accept == "*/*":  # what most clients send: every type fits alike, the first wins
        return next(iter(content))
    offered = list(content)
    ranges = _accept_ranges(accept)
    if not ranges:
        return offered[0]
    best: tuple[float, tuple[int, int], int, int] | None = None
    chosen = offered[0]
    for index, media in enumerate(offered):
        match = _best_range(_media_range(media), ranges)
        if match is None or match[0] <= 0:
            continue
        quality, specificity, position = match
        rank = (quality, specificity, -position, -index)
        if best is None or rank > best:
            best, chosen = rank, media
    if best is None and _listed_by_accept_parameter(operation, ranges):
        return offered[0]
    if best is None:
        raise Problem(406, detail=f"{operation.label} can answer {', '.join(offered)}; Accept was {accept!r}",
                      extra={"available": offered})
    return chosen


def _listed_by_accept_parameter(operation: Operation, ranges: Any) -> bool:
    """The client asks for a type the operation's Accept header parameter lists (spec_media_headers):
    answered in the documented type (RFC 9110 lets a server disregard Accept) rather than 406."""
    listed = operation.definition.get(ACCEPT_LISTED) or []
    return any((found := _best_range(_media_range(media), ranges)) is not None and found[0] > 0 for media in listed)


_MediaRange = tuple[str, str, dict[str, str]]  # type, subtype, parameters (lowercase names)


def _media_range(text: str) -> _MediaRange:
    media, *params = text.split(";")
    kind, _, subtype = media.strip().lower().partition("/")
    parameters = {}
    for param in params:
        name, _, value = param.partition("=")
        if name.strip():
            parameters[name.strip().lower()] = value.strip().strip('"')
    return kind, subtype or "*", parameters


def _accept_ranges(accept: str) -> list[tuple[_MediaRange, float]]:
    """The ranges of an Accept header with their qualities (1 when not given; a broken `q` counts as 0)."""
    ranges = []
    for part in accept.split(","):
        media = part.split(";")[0].strip()
        if "/" not in media and media != "*":
            continue  # not a media range (a malformed header is ignored, as RFC 9110 allows)
        kind, subtype, params = _media_range(part)
        quality = 1.0
        if "q" in params:
            try:
                quality = min(max(float(params.pop("q")), 0.0), 1.0)
            except ValueError:
                quality = 0.0
        if kind:
            ranges.append(((kind, subtype, params), quality))
    return ranges


def _best_range(media: _MediaRange, ranges: list[tuple[_MediaRange, float]]) -> tuple[float, tuple[int, int], int] | None:
    """(quality, specificity, position in Accept) of the most specific range matching `media`, or None."""
    found: tuple[float, tuple[int, int], int] | None = None
    for position, (accepted, quality) in enumerate(ranges):
        specificity = _specificity(media, accepted)
        if specificity is not None and (found is None or specificity > found[1]):
            found = (quality, specificity, position)
    return found


def _specificity(media: _MediaRange, accepted: _MediaRange) -> tuple[int, int] | None:
    """How closely `accepted` names `media`: (2 exact, 1 `type/*`, 0 `*/*`; parameters agreed on), or
    None when it does not match. A declared wildcard (`image/*`) matches what it admits. A parameter
    the declared type does not state (`charset`, say) is no disagreement."""
    kind, subtype, params = media
    want_kind, want_subtype, want_params = accepted
    if want_kind == "*" or kind == "*":
        level = 0
    elif want_kind != kind:
        return None
    elif want_subtype == "*" or subtype == "*":
        level = 1
    elif want_subtype == subtype:
        level = 2
    else:
        return None
    agreed = 0
    for name, value in want_params.items():
        if name in params:
            if params[name].lower() != value.lower():
                return None
            agreed += 1
    return level, agreed


def find_example(media_entry: dict[str, Any], name: str | None) -> tuple[bool, Any]:
    """The named example (or the first one) declared for a media type: (found, value)."""
    examples = media_entry.get("examples")
    if isinstance(examples, dict) and examples:
        if name is not None:
            chosen = examples.get(name)
            if isinstance(chosen, dict) and "value" in chosen:
                return True, chosen["value"]
            return False, None
        for entry in examples.values():
            if isinstance(entry, dict) and "value" in entry:
                return True, entry["value"]
    if name is not None:
        return False, None
    if "example" in media_entry:
        return True, media_entry["example"]
    schema = media_entry.get("schema")
    return schema_example(schema) if isinstance(schema, dict) else (False, None)
