"""Where the settings were read from: what a component needs to name a setting in an error and to find a file
the settings point at (key files), without being handed the whole settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import GatewayConfig


@dataclass(frozen=True)
class SettingsOrigin:
    """`source` names the settings in errors (`gateway.yaml`, `<flags>`); relative paths are read from `root`."""

    source: str
    root: Path

    @classmethod
    def of(cls, config: GatewayConfig) -> SettingsOrigin:
        return cls(config.source, Path(config.root))
