"""What `gw mode` and `gw journal` do, kept out of cli.py so the commands stay a few lines each."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ..config import MODES
from .client import DEFAULT_CONFIG, AdminClient, AdminError, connection, save_mode

MODE_COLUMNS = ["service", "operation", "mode", "path"]
JOURNAL_COLUMNS = ["time", "method", "path", "status", "source", "ms", "stub"]
FOLLOW_INTERVAL = 0.5


def client(url: str | None, config_path: Path = DEFAULT_CONFIG) -> AdminClient:
    return AdminClient(*connection(url, config_path))


def show_modes(url: str | None, service: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows for the modes table: each service, then the operations with a mode of their own
    (every operation when one service is asked for)."""
    services = client(url).services()
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
                config_path: Path = DEFAULT_CONFIG) -> str:
    """Switch at runtime through the admin API; with `save`, then write it into gateway.yaml. One line back."""
    if mode not in MODES:
        raise AdminError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if save and not config_path.exists():
        raise AdminError(f"--save: no {config_path} here to write the mode into")
    client(url, config_path).set_mode(service, mode, operation)
    target = f"{service} {operation}" if operation else service
    line = f"{target}: {mode}"
    if save:
        save_mode(config_path, service, mode, operation)
        line += f" (saved in {config_path})"
    return line


def journal_rows(url: str | None, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The newest `limit` exchanges as table rows, and the cursor to follow from."""
    answer = client(url).journal(limit)
    return [journal_row(e) for e in answer["entries"]], answer["cursor"]


def journal_row(entry: dict[str, Any]) -> dict[str, Any]:
    when = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).astimezone()
    near = entry.get("near_miss")
    hint = entry["stub"] if entry.get("stub") else (f"near miss: {near}" if near else "")
    return {"time": when.strftime("%H:%M:%S.%f")[:-3], "method": entry["method"], "path": entry["path"],
            "status": entry["status"], "source": entry.get("source") or "-", "ms": entry["duration_ms"],
            "stub": hint, "id": entry["id"], "service": entry.get("service"), "operation": entry.get("operation")}


def follow_journal(url: str | None, cursor: int, emit: Callable[[str], None],
                   interval: float = FOLLOW_INTERVAL) -> None:
    """Poll GET /journal?since=cursor and emit one line per new exchange, until interrupted (Ctrl-C)."""
    api = client(url)
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
