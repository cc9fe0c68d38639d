"""Logging: JSON lines for machines (when stderr is not a terminal), short text for people."""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
from typing import Any

from .json_text import dump_json


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if getattr(record, "request_id", None):
            entry["request_id"] = record.request_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return dump_json(entry).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


# Loggers of the libraries that log while gw serves, written through gw's own handler: with JSON
# logs, uvicorn's "Exception in ASGI application" and asyncio's "Task exception was never retrieved"
# are one JSON object each (the traceback in its `exc` field), never lines of plain text in between.
SERVER_LOGGERS = ("uvicorn", "asyncio")


def setup_logging(log_format: str = "auto", level: str = "info") -> None:
    global _access, _json
    flush_access_log()  # a writer set up before (the CLI's, then serve's) leaves nothing behind
    use_json = _json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    _access = AccessLogWriter(sys.stderr, use_json) if logging.getLevelName(level.upper()) <= logging.INFO else None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger("gw")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    for name in SERVER_LOGGERS:  # uvicorn.error and uvicorn.access propagate to `uvicorn`
        server = logging.getLogger(name)
        server.handlers[:] = [handler]
        server.propagate = False


def json_logs() -> bool:
    """Whether this process logs JSON lines (set up by `setup_logging`): then nothing else may write plain text."""
    return _json


class AccessLogWriter:
    """Writes the per-request lines without `logging`'s per-record machinery (it halved stub
    throughput in the benchmark). The lines of one event-loop step (a busy worker ends several requests
    in one) queue up and leave in one write when the step ends (`loop.call_soon`, as the answers do in
    gateway/server/whole_writes.py): one syscall for many requests, and an idle gateway's line at once.
    Outside a running loop (the CLI, a thread without one) a line is written at once.

    Nothing is lost on the way out: the server's shutdown (the app's lifespan), a worker's exit (SIGTERM,
    SIGINT: gateway/server/workers.py) and the interpreter's (atexit) flush what is queued. A process
    killed outright (SIGKILL, OOM) loses at most the lines of the step it was killed in, never part of a line."""

    def __init__(self, stream: Any = None, json_lines: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.json_lines = json_lines
        self._pending: list[Any] = []  # JSON lines as bytes (decoded once per write), text lines as str
        self._scheduled = False
        self._millisecond = -1  # the millisecond of the last JSON line, and its head: busy gateways write several in one
        self._head = b""

    def write(self, fields: dict[str, Any], now: float | None = None) -> None:
        """One line of `fields` (never empty, never naming ts, level or logger: the line's head) at `now` (a
        time.time() the caller already has, or now)."""
        if self.json_lines:  # the head, then the fields' object without its `{`: no dict merged per line
            if now is None:
                now = time.time()
            second = int(now)
            millisecond = second * 1000 + int(now % 1 * 1000)
            if millisecond != self._millisecond:
                self._millisecond, self._head = millisecond, _json_head(second, millisecond - second * 1000)
            self._pending.append(self._head + dump_json(fields)[1:])
        else:
            self._pending.append(_text_line(fields))
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if self._pending:
            lines, self._pending = self._pending, []
            text = b"\n".join(lines).decode() if self.json_lines else "\n".join(lines)
            try:
                self.stream.write(text + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass


def _json_head(second: int, millisecond: int) -> bytes:
    """`{"ts":"<UTC time to the millisecond>Z","level":"info","logger":"gw.access",`: how every access line starts."""
    ts = f"{_second(second)}.{millisecond:03d}Z"
    return dump_json({"ts": ts, "level": "info", "logger": "gw.access"})[:-1] + b","


_seconds: tuple[int, str] = (-1, "")  # the last second formatted: an access line per request formats it once


def _second(second: int) -> str:
    global _seconds
    if _seconds[0] != second:
        _seconds = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return _seconds[1]


def _text_line(fields: dict[str, Any]) -> str:
    extra = " ".join(f"{k}={fields[k]}" for k in ("service", "operation", "source", "duration_ms") if k in fields)
    return f"{fields.get('method')} {fields.get('path')} {fields.get('status')} {extra} id={fields.get('request_id', '')}"


_access: AccessLogWriter | None = None
_json = False


def access_log() -> AccessLogWriter | None:
    """The process's access log writer; None when the level is above info."""
    return _access


def flush_access_log() -> None:
    """Write the queued access lines now (on the way out: nothing may wait for a loop step that never comes)."""
    if _access is not None:
        _access.flush()


atexit.register(flush_access_log)
