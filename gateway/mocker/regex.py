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
from functools import lru_cache
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser as parser  # type: ignore[attr-defined]
from typing import Any

from ..contract.ecma_regex import for_generation, search

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
    plan = _plan(pattern)
    if plan is None:
        return None
    steps, anchored_end = plan
    for _ in range(12):
        try:
            text = _emit(steps, rng)
        except (ValueError, RecursionError, IndexError):
            return None
        if len(text) < min_length and not anchored_end:
            text += "".join(rng.choice(string.ascii_lowercase) for _ in range(min_length - len(text)))
        if (len(text) >= min_length and (max_length is None or len(text) <= max_length)
                and search(pattern, text)):
            return text
    return None


# A pattern's plan: its parse tree with each character class's characters worked out, made once per pattern
# (a generated body used to parse its patterns and list their classes' characters on every request). The
# draws from `rng` are the same, in the same order, so a seed still gives the same text.
_LITERAL, _CHOOSE, _REPEAT, _SEQUENCE, _BRANCH, _FAIL = range(6)
Plan = tuple[tuple[tuple[Any, ...], ...], bool]


@lru_cache(maxsize=1024)
def _plan(pattern: str) -> Plan | None:
    try:
        tree = parser.parse(for_generation(pattern))
        return _compile(tree), _anchored_end(tree)
    except (re.error, RecursionError, OverflowError):
        return None


def _anchored_end(tree: parser.SubPattern) -> bool:
    return any(op == c.AT and arg in (c.AT_END, c.AT_END_STRING) for op, arg in tree)


def _compile(items: Any) -> tuple[tuple[Any, ...], ...]:
    steps: list[tuple[Any, ...]] = []
    for op, arg in items:
        if op == c.LITERAL:
            steps.append((_LITERAL, chr(arg)))
        elif op == c.NOT_LITERAL:
            steps.append((_CHOOSE, [ch for ch in _PRINTABLE if ord(ch) != arg]))
        elif op == c.ANY:
            steps.append((_CHOOSE, string.ascii_lowercase))
        elif op == c.IN:
            chars = _class_chars(arg)
            steps.append((_CHOOSE, chars) if chars else (_FAIL, "empty character class"))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            low, high, body = arg
            top = low + _OPEN_REPEAT if high == c.MAXREPEAT else high
            steps.append((_REPEAT, low, max(low, min(top, low + _OPEN_REPEAT)), _compile(body)))
        elif op == c.SUBPATTERN:
            steps.append((_SEQUENCE, _compile(arg[-1])))
        elif op == c.BRANCH:
            steps.append((_BRANCH, [_compile(branch) for branch in arg[1]]))
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        elif op == c.GROUPREF:
            steps.append((_FAIL, "back-references are not generated"))
        else:
            steps.append((_FAIL, f"unsupported regex element {op}"))
    return tuple(steps)


def _emit(steps: tuple[tuple[Any, ...], ...], rng: random.Random) -> str:
    out: list[str] = []
    for step in steps:
        kind = step[0]
        if kind == _LITERAL:
            out.append(step[1])
        elif kind == _CHOOSE:
            out.append(rng.choice(step[1]))
        elif kind == _REPEAT:
            count = rng.randint(step[1], step[2])
            out.extend(_emit(step[3], rng) for _ in range(count))
        elif kind == _SEQUENCE:
            out.append(_emit(step[1], rng))
        elif kind == _BRANCH:
            out.append(_emit(rng.choice(step[1]), rng))
        else:
            raise ValueError(step[1])
    return "".join(out)


def _class_chars(items: list) -> list[str]:
    """The characters a class (`[a-z0-9_]`, `[^,]`) stands for, a range capped at 201 of them."""
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
    return chars
