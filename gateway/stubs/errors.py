"""The one error a stub file can be: unusable, said as `file: place: reason` (CLI and load warnings alike).

Its own module so the parts a stub file is read by (format, templates, scenarios) all raise it
without importing one another.
"""

from __future__ import annotations

from ..settings.config import ConfigError


class StubError(ConfigError):
    """A stub file that cannot be used: `file: place: reason`."""
