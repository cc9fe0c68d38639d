"""Counts in messages agree with their noun: "1 problem", "2 problems", "1 entry", "3 entries"."""

from __future__ import annotations


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`number noun`, the noun made plural (`plural`, else noun + "s") unless the number is exactly one."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
