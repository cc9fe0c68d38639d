"""The operator surface's guard: who may use /_gw/api, /_gw/ui and /_gw/ws."""

from .access import AdminAccess

__all__ = ["AdminAccess"]
