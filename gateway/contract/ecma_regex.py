"""JSON Schema `pattern`s are ECMA-262 regexes; Python's `re` refuses much of what published specs
write in them (`\\p{L}`, `(?<name>...)`, `\\k<name>`, `\\cJ`, `[^]`, `\\u{1F600}`).

`compiled(pattern)` is the pattern as the `regex` package reads it after rewriting the few ECMA
spellings it does not know; a pattern that still does not compile is an annotation (None): a
value is never refused for a pattern we cannot read. `for_generation(pattern)` is the same
pattern in plain `re` syntax with Unicode classes narrowed to ASCII, for the string generator,
which walks `re`'s parse tree.

Why `regex` and not `re`: Unicode property classes (`\\p{L}`, `\\p{Lu}`, scripts) have no `re`
spelling at all, and they are the commonest ECMA-only construct in real specs (names, addresses).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# What a Unicode property class stands for when a generator needs ASCII: letters, digits, spaces.
_ASCII_CLASSES = {
    "L": "a-zA-Z", "Letter": "a-zA-Z", "Lu": "A-Z", "Uppercase_Letter": "A-Z", "Ll": "a-z", "Lowercase_Letter": "a-z",
    "N": "0-9", "Nd": "0-9", "Number": "0-9", "Decimal_Number": "0-9", "Z": " ", "Zs": " ", "P": ".,", "S": "+",
}
_PROPERTY = re.compile(r"\\([pP])\{([^}]*)\}")


@lru_cache(maxsize=4096)
def compiled(pattern: str) -> Any:
    """The pattern ready to `search`, or None when it cannot be read (then it is an annotation)."""
    import regex  # when a pattern is first judged: a start that judges none never loads it (~15 ms)

    try:
        return regex.compile(_rewrite(pattern), regex.V0)
    except (regex.error, ValueError, OverflowError, RecursionError):
        return None


def search(pattern: str, text: str) -> bool:
    """Does `text` match `pattern`? True for a pattern that cannot be read."""
    found = compiled(pattern)
    return found is None or found.search(text) is not None


@lru_cache(maxsize=1024)
def for_generation(pattern: str) -> str:
    """The pattern in `re` syntax, Unicode property classes replaced by ASCII ones."""
    return _rewrite(pattern, ascii_classes=True).replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!")


def _ascii_class(escape: str, in_class: bool) -> str:
    """`\\p{Lu}` as `[A-Z]` (inside a class: `A-Z`); a negated `\\P{..}` inside a class as punctuation."""
    match = _PROPERTY.fullmatch(escape)
    chars = _ASCII_CLASSES.get(match.group(2).split("=")[-1], "a-zA-Z") if match else "a-zA-Z"
    negated = bool(match) and match.group(1) == "P"
    if in_class:
        return "!-/" if negated else chars
    return f"[{'^' if negated else ''}{chars}]"


def _rewrite(pattern: str, ascii_classes: bool = False) -> str:
    """ECMA spellings with no `regex` equivalent, rewritten; everything else kept as written."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "c" and i + 2 < len(pattern) and pattern[i + 2].isalpha():  # control letter: \cJ is \n
                out.append(f"\\x{ord(pattern[i + 2]) % 32:02x}")
                i += 3
                continue
            if nxt == "k" and pattern.startswith("<", i + 2) and ">" in pattern[i + 3:]:  # named back-reference
                end = pattern.index(">", i + 3)
                out.append(f"(?P={pattern[i + 3:end]})")
                i = end + 1
                continue
            if nxt == "u" and pattern.startswith("{", i + 2) and "}" in pattern[i + 3:]:  # \u{1F600}
                end = pattern.index("}", i + 3)
                out.append(f"\\U{int(pattern[i + 3:end], 16):08x}")
                i = end + 1
                continue
            if ascii_classes and nxt in "pP" and pattern.startswith("{", i + 2) and "}" in pattern[i + 3:]:
                end = pattern.index("}", i + 3)
                out.append(_ascii_class(pattern[i:end + 1], in_class))
                i = end + 1
                continue
            if nxt == "d" and not in_class:  # ECMA's \d is ASCII digits only
                out.append("[0-9]")
                i += 2
                continue
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if not in_class and pattern.startswith("[^]", i):  # ECMA: any character at all
            out.append(r"[\s\S]")
            i += 3
            continue
        if not in_class and pattern.startswith("[]", i):  # ECMA: matches nothing
            out.append("(?!)")
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            i += 1
            continue
        if ch == "]" and in_class:
            in_class = False
        if ch == "$" and not in_class:  # ECMA's $ is the very end, not before a final newline
            out.append(r"\Z")
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)

