"""The one place the CLI makes its rich Consoles: a terminal's own width, and unwrapped lines when piped.

Rich wraps at 80 columns when its output is not a terminal, so `gw contract > log.txt` in CI broke its
header, check names and the `(same run: --seed N)` line, and `gw routes > routes.txt` split rows. Piped or
redirected, a line is as long as its content (or `COLUMNS`, when set): logs and `grep` see whole lines.
Rich itself honours `NO_COLOR` (no colours), `FORCE_COLOR` and `COLUMNS`; off a terminal nothing is coloured.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

UNWRAPPED = 10_000  # columns for a pipe or file: wide enough that no table or line of ours is folded


def make_console(stderr: bool = False) -> Console:
    """A Console for stdout (or stderr): the terminal's width on a terminal, else COLUMNS or no wrapping."""
    stream = sys.stderr if stderr else sys.stdout
    if _is_terminal(stream) or os.environ.get("COLUMNS", "").strip().isdigit():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=UNWRAPPED)


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False
