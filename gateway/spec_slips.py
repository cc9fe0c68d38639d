"""Schema slips no meta-schema names precisely: a `pattern` Python's regex engine cannot compile
(ECMA syntax such as `\\p{L}`). Served all the same; each is a located warning so the author can
fix it. (An `enum` listing a value twice is the semantic check's.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def schema_slips(document: dict[str, Any], spec_file: Path, limit: int = 50) -> list[str]:
    """One `file: place: reason` line per slip, in document order, at most `limit`."""
    warnings: list[str] = []
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack and len(warnings) < limit:
        node, place = stack.pop()
        if isinstance(node, dict):
            warnings += [f"{spec_file}: {place}.{key}: {reason}" if place else f"{spec_file}: {key}: {reason}"
                         for key, reason in _slips(node)]
            stack.extend((v, f"{place}.{k}" if place else str(k)) for k, v in reversed(node.items())
                         if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, f"{place}[{i}]") for i, v in reversed(list(enumerate(node))) if isinstance(v, (dict, list)))
    return warnings[:limit]


def _slips(node: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as exc:
            found.append(("pattern", f"{pattern!r} is not a regular expression Python can compile ({exc})"))
    return found
