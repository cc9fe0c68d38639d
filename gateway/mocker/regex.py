"""A string that matches a regular expression, built by walking Python's own parse of it.

JSON Schema `pattern`s are ECMA-262 regexes; the common subset (classes, ranges, quantifiers,
groups, alternation, anchors) parses the same way in Python, and ecma_regex rewrites the rest
(`\\p{L}`, named groups) into it. The result is checked as the judge reads the pattern; a
pattern we cannot satisfy yields None.
"""

from __future__ import annotations

import random
import re
import string
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser as parser  # type: ignore[attr-defined]

from ..ecma_regex import for_generation, search

_CATEGORIES = {
    c.CATEGORY_DIGIT: string.digits,
    c.CATEGORY_NOT_DIGIT: string.ascii_letters,
    c.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    c.CATEGORY_NOT_WORD: "-.,!",
    c.CATEGORY_SPACE: " ",
    c.CATEGORY_NOT_SPACE: string.ascii_letters,
}
_PRINTABLE = string.ascii_letters + string.digits
_OPEN_REPEAT = 3  # how far past the minimum an open-ended quantifier goes


def matching_string(pattern: str, rng: random.Random, min_length: int = 0, max_length: int | None = None) -> str | None:
    """A string matching `pattern` within the length bounds, or None when none was found."""
    try:
        tree = parser.parse(for_generation(pattern))
    except (re.error, RecursionError, OverflowError):
        return None
    for _ in range(12):
        try:
            text = _emit(tree, rng)
        except (ValueError, RecursionError, IndexError):
            return None
        if len(text) < min_length and not _anchored_end(tree):
            text += "".join(rng.choice(string.ascii_lowercase) for _ in range(min_length - len(text)))
        if (len(text) >= min_length and (max_length is None or len(text) <= max_length)
                and search(pattern, text)):
            return text
    return None


def _anchored_end(tree: parser.SubPattern) -> bool:
    return any(op == c.AT and arg in (c.AT_END, c.AT_END_STRING) for op, arg in tree)


def _emit(items: list, rng: random.Random) -> str:
    out: list[str] = []
    for op, arg in items:
        if op == c.LITERAL:
            out.append(chr(arg))
        elif op == c.NOT_LITERAL:
            out.append(rng.choice([ch for ch in _PRINTABLE if ord(ch) != arg]))
        elif op == c.ANY:
            out.append(rng.choice(string.ascii_lowercase))
        elif op == c.IN:
            out.append(_from_class(arg, rng))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            low, high, body = arg
            top = low + _OPEN_REPEAT if high == c.MAXREPEAT else high
            count = rng.randint(low, max(low, min(top, low + _OPEN_REPEAT)))
            out.extend(_emit(body, rng) for _ in range(count))
        elif op == c.SUBPATTERN:
            out.append(_emit(arg[-1], rng))
        elif op == c.BRANCH:
            out.append(_emit(rng.choice(arg[1]), rng))
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        elif op == c.GROUPREF:
            raise ValueError("back-references are not generated")
        else:
            raise ValueError(f"unsupported regex element {op}")
    return "".join(out)


def _from_class(items: list, rng: random.Random) -> str:
    negate = False
    chars: list[str] = []
    for op, arg in items:
        if op == c.NEGATE:
            negate = True
        elif op == c.LITERAL:
            chars.append(chr(arg))
        elif op == c.RANGE:
            low, high = arg
            chars.extend(chr(code) for code in range(low, min(high, low + 200) + 1))
        elif op == c.CATEGORY:
            chars.extend(_CATEGORIES.get(arg, _PRINTABLE))
    if negate:
        excluded = set(chars)
        chars = [ch for ch in _PRINTABLE if ch not in excluded]
    if not chars:
        raise ValueError("empty character class")
    return rng.choice(chars)
