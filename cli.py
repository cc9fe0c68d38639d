"""`python cli.py ...`: the repository's entry to the `gw` command, for a checkout installed with `pip install -e .`.

The command itself is `gw.cli` (this repository's `gateway/` folder is installed as the package `gw`); this file
only re-exports it, so no top-level module named `cli` is installed.
"""

from gw.cli import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":
    main()
