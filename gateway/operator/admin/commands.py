"""What `gw mode` and `gw journal` do, kept out of cli.py so the commands stay a few lines each."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ...settings.config import MODES, PROXIED_MODES
from .client import DEFAULT_CONFIG, AdminClient, AdminError, connection, save_mode

MODE_COLUMNS = ["service", "operation", "mode", "path"]
JOURNAL_COLUMNS = ["time", "method", "path", "status", "source", "ms", "stub"]
FOLLOW_INTERVAL = 0.5
NEEDS_UPSTREAM = PROXIED_MODES - {"fallback"}  # fallback answers from stubs while there is no upstream


def client(url: str | None, config_path: Path = DEFAULT_CONFIG, port: int | None = None) -> AdminClient:
    return AdminClient(*connection(url, config_path, port))


def show_modes(url: str | None, service: str | None, port: int | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows for the modes table: each service, then the operations with a mode of their own
    (every operation when one service is asked for)."""
    services = client(url, port=port).services()
    if service is not None:
        services = [s for s in services if s["name"] == service]
        if not services:
            raise AdminError(f"the gateway has no service {service!r}")
    rows: list[dict[str, Any]] = []
    for entry in services:
        rows.append({"service": entry["name"], "operation": "*", "mode": entry["mode"], "path": entry["base_path"]})
        for operation in entry["operations"]:
            if service is not None or operation["override"]:
                mark = "" if operation["override"] else " (service)"
                rows.append({"service": entry["name"], "operation": operation["key"], "mode": operation["mode"] + mark,
                             "path": f"{operation['method']} {operation['path']}"})
    return rows, MODE_COLUMNS


def switch_mode(url: str | None, service: str, mode: str, operation: str | None, save: bool,
                config_path: Path = DEFAULT_CONFIG, port: int | None = None) -> str:
    """Switch at runtime through the admin API; with `save`, then write it into gateway.yaml. One line back.

    `operation` is an operationId (a key) or `METHOD /path` as `gw mode SERVICE` lists it. A mode that
    proxies is refused for a service with no upstream: every request would be answered 502.
    """
    if mode not in MODES:
        raise AdminError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if save and not config_path.exists():
        raise AdminError(f"--save: no {config_path} here to write the mode into")
    api = client(url, config_path, port)
    entry = api.service(service)
    operation = operation_key(entry, operation) if operation else None
    if mode in NEEDS_UPSTREAM and not entry.get("instances"):
        raise AdminError(f"service {service} has no upstream, so {mode} mode would answer every request 502; set "
                         f"services.{service}.upstream in gateway.yaml (or serve with --upstream URL) first")
    api.set_mode(service, mode, operation)
    target = f"{service} {operation}" if operation else service
    line = f"{target}: {mode}"
    if save:
        save_mode(config_path, service, mode, operation)
        line += f" (saved in {config_path})"
    return line


def operation_key(entry: dict[str, Any], given: str) -> str:
    """The key of the service's operation that `given` names: its key (operationId), or `METHOD /path` with
    the path as the spec writes it or as served under the base path (what `gw mode SERVICE` prints)."""
    operations = entry.get("operations") or []
    if any(op["key"] == given for op in operations):
        return given
    method, _, path = given.strip().partition(" ")
    base = entry.get("base_path", "").rstrip("/")
    for op in operations:
        served = op["path"]
        spec_path = served[len(base):] if base and served.startswith(base) else served
        if op["method"].upper() == method.upper() and path.strip() in (served, spec_path):
            return op["key"]
    listed = ", ".join(op["key"] for op in operations[:8]) + (", ..." if len(operations) > 8 else "")
    raise AdminError(f"service {entry['name']} has no operation {given!r}; give an operationId or METHOD /path "
                     f"as `gw mode {entry['name']}` lists them ({listed})")


def journal_rows(url: str | None, limit: int, port: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """The newest `limit` exchanges as table rows, and the cursor to follow from."""
    answer = client(url, port=port).journal(limit)
    if answer.get("size") == 0:
        raise AdminError("that gateway keeps no journal (admin.journal_size: 0)")
    return [journal_row(e) for e in answer["entries"]], answer["cursor"]


def journal_row(entry: dict[str, Any]) -> dict[str, Any]:
    when = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).astimezone()
    near = entry.get("near_miss")
    hint = entry["stub"] if entry.get("stub") else (f"near miss: {near}" if near else "")
    return {"time": when.strftime("%H:%M:%S.%f")[:-3], "method": entry["method"], "path": entry["path"],
            "status": entry["status"], "source": entry.get("source") or "-", "ms": entry["duration_ms"],
            "stub": hint, "id": entry["id"], "service": entry.get("service"), "operation": entry.get("operation")}


def follow_journal(url: str | None, cursor: int, emit: Callable[[str], None],
                   interval: float = FOLLOW_INTERVAL, port: int | None = None) -> None:
    """Poll GET /journal?since=cursor and emit one line per new exchange, until interrupted (Ctrl-C)."""
    api = client(url, port=port)
    while True:
        answer = api.journal(500, since=cursor)
        for entry in answer["entries"]:
            emit(follow_line(journal_row(entry)))
        cursor = answer["cursor"]
        time.sleep(interval)


def follow_line(row: dict[str, Any]) -> str:
    hint = f"  {row['stub']}" if row["stub"] else ""
    return (f"{row['time']}  {row['method']:<6} {row['path']}  {row['status']}  {row['source']}  "
            f"{row['ms']}ms{hint}")
