"""Choose which of an operation's declared responses to answer: status, media type, example.

Prism-compatible `Prefer` (`code=404`, `example=notFound`, `dynamic=true`, combinable) and the
client's `Accept` decide; without them, the lowest 2xx and the first media type win.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..problems import Problem
from ..specs import Operation
from .generator import schema_example


@dataclass(frozen=True)
class Preferences:
    code: str | None = None
    example: str | None = None
    dynamic: bool = False


def parse_prefer(header: str | None) -> Preferences:
    if not header:
        return Preferences()
    values: dict[str, str] = {}
    for part in header.replace(";", ",").split(","):
        key, _, value = part.strip().partition("=")
        if key:
            values[key.strip().lower()] = value.strip().strip('"')
    return Preferences(values.get("code"), values.get("example"), values.get("dynamic", "").lower() == "true")


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


def status_number(status: str) -> int:
    if status.isdigit():
        return int(status)
    if status.upper().endswith("XX"):
        return int(status[0]) * 100
    return 200  # default


def choose_media(content: dict[str, Any], accept: str | None, operation: Operation) -> str | None:
    """The declared media type that best fits `Accept`; None when the response has no body."""
    if not content:
        return None
    offered = list(content)
    if not accept or accept.strip() in ("*/*", ""):
        return _preferred_default(offered)
    ranges = _accept_ranges(accept)
    best: tuple[float, int, str] | None = None
    for index, media in enumerate(offered):
        quality = _quality(media, ranges)
        if quality > 0 and (best is None or (quality, -index) > (best[0], best[1])):
            best = (quality, -index, media)
    if best is None:
        raise Problem(406, detail=f"{operation.label} can answer {', '.join(offered)}; Accept was {accept!r}",
                      extra={"available": offered})
    return best[2]


def _preferred_default(offered: list[str]) -> str:
    for media in offered:
        if media.split(";")[0].strip().lower() in ("application/json",) or media.endswith("+json"):
            return media
    return offered[0]


def _accept_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if media:
            ranges.append((media.lower(), quality))
    return ranges


def _quality(media: str, ranges: list[tuple[str, float]]) -> float:
    base = media.split(";")[0].strip().lower()
    kind = base.split("/")[0]
    best = 0.0
    specificity = -1
    for pattern, quality in ranges:
        if pattern == base:
            level = 2
        elif pattern == f"{kind}/*" or base == f"{pattern.split('/')[0]}/*":
            level = 1
        elif pattern == "*/*" or base == "*/*":
            level = 0
        else:
            continue
        if level > specificity:
            best, specificity = quality, level
    return best


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
