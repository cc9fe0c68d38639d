"""The resolver a callback is sent with: the addresses the allow-list judged (guard.py), and no others.

Its own module because it is an aiohttp class: aiohttp is imported only when a callback is sent (forwarder/client.py).
"""

from __future__ import annotations

import socket
from typing import Any

from aiohttp.abc import AbstractResolver


class PinnedResolver(AbstractResolver):
    """aiohttp's resolver for one checked URL: the addresses the allow-list judged, and no others."""

    def __init__(self, addresses: tuple[str, ...]) -> None:
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        return [{"hostname": host, "host": address, "port": port,
                 "family": socket.AF_INET6 if ":" in address else socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST} for address in self.addresses]

    async def close(self) -> None:
        return None
