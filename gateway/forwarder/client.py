"""aiohttp, the client for WebSocket pass-through and callbacks, imported when first used (forwarded requests
and health checks go over gw's own client: forwarder/http1.py).

Importing aiohttp costs a quarter of a second of every start (it builds its TLS contexts as it loads), and most
gateways never use it: stubs send nothing, and a live service's requests go over gw's own client. So gw's modules
reach aiohttp through this one (`from ..forwarder import client`, then `client.ClientSession(...)`, `except
client.ClientError`): the first name asked for imports it. A gateway that can use it loads it at start (`load`),
before serving and before `--workers N` forks, so no WebSocket or callback pays for the import: where a service
passes WebSockets to an upstream (the forwarder) and where a loaded spec documents callbacks (their pipeline step).
A webhook an operator sends (`gw webhook`), or a spec's callbacks added by a reload, pay it once.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


def load() -> ModuleType:
    """aiohttp, imported now if it was not yet."""
    return importlib.import_module("aiohttp")


def __getattr__(name: str) -> Any:
    """aiohttp's `name`, aiohttp imported the first time; kept here, so later look-ups are plain attribute reads."""
    value = getattr(load(), name)
    globals()[name] = value
    return value
