"""`${NAME}` in a settings value (keys, secrets, passwords): replaced by the environment variable at use.

A module of its own, light to import: the gateway's auth setup and the CLI's admin client both expand them.
"""

from __future__ import annotations

import os
import re

from .errors import ConfigError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: str, source: str, key: str) -> str:
    """`${NAME}` replaced by the environment variable; a ConfigError when it is not set."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(source, key, f"environment variable {name} is not set")
        return os.environ[name]

    return _ENV.sub(replace, value)
