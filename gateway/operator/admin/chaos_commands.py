"""What `gw chaos` does, kept out of cli.py: show, switch or clear chaos on a running gateway."""

from __future__ import annotations

from typing import Any

from ...settings.chaos import check_chaos
from ...settings.policy_settings import SettingsError
from .client import AdminError, segment
from .commands import client


def chaos_path(service: str, operation: str | None) -> str:
    path = f"/services/{segment(service)}"
    return (path + f"/operations/{segment(operation)}" if operation else path) + "/chaos"


def change_body(delay: str | None, fault: str | None, rate: float | None, status: int | None) -> dict[str, Any]:
    """The PUT body for the flags given, checked here first so a typo is one line before any request."""
    body: dict[str, Any] = {}
    if delay is not None:
        body["delay"] = delay
    if fault is not None:
        body["fault"] = fault
    if rate is not None:
        body["rate"] = rate
    if status is not None:
        body["status"] = status
    if not body:
        raise AdminError("give --delay, --fault (with --fault-rate) or --off; alone, `gw chaos SERVICE` shows its chaos")
    try:
        check_chaos(body)
    except SettingsError as exc:
        flag = {"rate": "--fault-rate", "status": "--status"}.get(exc.key.split(".")[0], f"--{exc.key.split('.')[0]}")
        raise AdminError(f"{flag}: {exc.reason}") from None
    return body


def chaos(url: str | None, service: str, operation: str | None, body: dict[str, Any] | None, off: bool) -> dict[str, Any]:
    """Through the admin API: GET (no body), PUT (a body) or DELETE (off). The chaos view it answers."""
    api, path = client(url), chaos_path(service, operation)
    if off:
        return api.call("DELETE", path)
    if body is not None:
        return api.call("PUT", path, json=body)
    return api.call("GET", path)


def chaos_line(view: dict[str, Any]) -> str:
    """`users getUser: delay 1s, connection_reset 10% (switched)`, as the operator reads it."""
    target = f"{view['service']} {view['operation']}" if view.get("operation") else view["service"]
    where = "switched at runtime" if view.get("switched") else ("from gateway.yaml" if view.get("configured") else "")
    return f"{target}: {view['summary']}" + (f" ({where})" if where and view["summary"] != "off" else "")
