"""aiohttp, the client for WebSocket pass-through and callbacks, imported when first used (forwarded requests
and health checks go over gw's own client: forwarder/http1.py).

Importing aiohttp costs a quarter of a second of every start (it builds its TLS contexts as it loads), and a
gateway that only serves stubs never sends a request. So gw's modules reach aiohttp through this one
(`from ..forwarder import client`, then `client.ClientSession(...)`, `except client.ClientError`): the first name
asked for imports it. A gateway configured to reach upstreams loads it at start (`load`, called by the
forwarder), before serving and before `--workers N` forks, so no WebSocket pays for the import; a runtime switch
to live mode on a gateway started without upstreams pays it once.
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
