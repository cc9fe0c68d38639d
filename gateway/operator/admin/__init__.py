"""The operator surface's guard: who may use /_gw/api, /_gw/ui and /_gw/ws.

`AdminAccess` is imported on first use (PEP 562): the CLI's admin client (`gw mode`, `gw journal`) imports
`gw.operator.admin.client` and `gw.core.admin_headers` without the gateway's auth stack behind the guard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .access import AdminAccess

__all__ = ["AdminAccess"]


def __getattr__(name: str) -> Any:
    if name == "AdminAccess":
        from .access import AdminAccess

        return AdminAccess
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
