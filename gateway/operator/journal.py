"""The request journal: the last N exchanges, in this process's memory, for the operator to read.

Recording sits on the hot path, so an entry holds references only (the request's header list,
the response's header list, the notes the pipeline wrote) and is turned into JSON, with every
credential redacted, only when someone reads it. The ring is a bounded deque: appending is O(1)
and the oldest entry falls out by itself.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from ..core.json_once import JsonOnce
from ..stubs.redaction import PLACEHOLDER, Redactor

JOURNAL_OFF = "the request journal is off (admin.journal_size: 0): nothing is kept to count, find or show"
NOTE_KEYS = ("upstream", "retries", "problem", "problem_detail", "fallback_reason", "contract", "stub_source", "callback",
             "scenario", "chaos")


class Entry:
    """One finished exchange, as references; `summary()` and `detail()` build the JSON views."""

    __slots__ = ("at", "body", "client", "cursor", "duration_ms", "id", "method", "mode", "notes", "operation", "parsed",
                 "path", "query", "request_headers", "response_headers", "service", "source", "status")

    def __init__(self, cursor: int, request_id: str, at: float, method: str, path: str, query: bytes,
                 request_headers: list[tuple[bytes, bytes]], client: str, status: int,
                 response_headers: list[tuple[str, str]], service: str | None, operation: str | None, mode: str,
                 source: str, duration_ms: float, notes: dict[str, Any], body: bytes | None = None,
                 parsed: JsonOnce | None = None) -> None:
        self.body = body  # the request body when the gateway read it (to match stubs' body fields against), else None
        self.parsed = parsed  # its JSON as the exchange's readers shared it (small bodies only: see edge/observe.py)
        self.cursor, self.id, self.at = cursor, request_id, at
        self.method, self.path, self.query, self.request_headers, self.client = method, path, query, request_headers, client
        self.status, self.response_headers = status, response_headers
        self.service, self.operation, self.mode, self.source = service, operation, mode, source
        self.duration_ms, self.notes = duration_ms, notes

    @property
    def ts(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @property
    def stub(self) -> str | None:
        return self.notes.get("stub")

    def near_misses(self) -> list[dict[str, Any]]:
        """Each stub that came close, and every reason it did not match."""
        detail = self.notes.get("near_miss_detail")
        if detail is not None:
            return [{"stub": f"{m.stub.service}/{m.stub.id}", "reasons": list(m.reasons)} for m in detail]
        return [{"stub": line.partition(": ")[0], "reasons": [line.partition(": ")[2]]}
                for line in self.notes.get("near_misses", [])]

    def summary(self) -> dict[str, Any]:
        lines = self.notes.get("near_misses") or []
        return {"id": self.id, "cursor": self.cursor, "ts": self.ts, "method": self.method, "path": self.path,
                "status": self.status, "service": self.service, "operation": self.operation, "mode": self.mode or None,
                "source": self.source or None, "duration_ms": self.duration_ms, "stub": self.stub,
                "near_miss": lines[0] if lines else None}

    def detail(self, redactor: Redactor) -> dict[str, Any]:
        view = self.summary()
        view.update(
            client=self.client,
            request={"query": redacted_query(self.query, redactor),
                     "headers": redacted_headers(((k.decode("latin-1"), v.decode("latin-1"))
                                                  for k, v in self.request_headers), redactor)},
            response={"status": self.status, "headers": redacted_headers(self.response_headers, redactor)},
            near_misses=self.near_misses(),
            notes={k: self.notes[k] for k in NOTE_KEYS if k in self.notes},
        )
        return view

    def event(self) -> dict[str, Any]:
        """The live feed's `exchange` event (the dashboard and `gw journal --follow` read it)."""
        event = {"type": "exchange", **self.summary(), "near_misses": list(self.notes.get("near_misses") or []),
                 "contract": list(self.notes.get("contract") or [])}
        del event["cursor"], event["near_miss"]  # the journal's paging and one-line hint; the feed has the list
        return event

    def matches(self, service: str | None, status: str | None) -> bool:
        if service and self.service != service:
            return False
        if status:
            text = str(self.status)
            return text == status or (status.endswith("xx") and text[0] == status[0])
        return True


def redacted_headers(headers: Iterable[tuple[str, str]], redactor: Redactor) -> dict[str, str]:
    """Headers by lower-case name (repeats joined), credentials replaced: the journal is read over HTTP."""
    view: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        shown = PLACEHOLDER if redactor.secret_header(key) else value
        view[key] = f"{view[key]}, {shown}" if key in view else shown
    return view


def redacted_query(query: bytes, redactor: Redactor) -> dict[str, list[str]]:
    parsed = parse_qs(query.decode("latin-1"), keep_blank_values=True)
    return {k: [PLACEHOLDER] * len(v) if redactor.secret_query(k) else v for k, v in parsed.items()}


class Journal:
    """A bounded ring of the last `size` exchanges, oldest first; `cursor` numbers them for `since=`."""

    def __init__(self, size: int = 500) -> None:
        self.size = max(0, size)  # 0: off, as WireMock's --no-request-journal for load tests; nothing is kept
        self.entries: deque[Entry] = deque(maxlen=self.size)
        self._cursors = itertools.count(1)
        self.cursor = 0  # the last number handed out
        self.add: Callable[[Entry], None] = self.entries.append  # an exchange's one write: the deque's own append

    @property
    def off(self) -> bool:
        return self.size == 0

    def next_cursor(self) -> int:
        self.cursor = next(self._cursors)
        return self.cursor

    def clear(self) -> None:
        self.entries.clear()

    def find(self, request_id: str) -> Entry | None:
        """The newest entry with this request id (a client may send the same X-Request-ID twice)."""
        return next((e for e in reversed(self.entries) if e.id == request_id), None)

    def recent(self, limit: int = 100, service: str | None = None, status: str | None = None,
               since: int | None = None) -> tuple[list[Entry], int]:
        """Entries that pass the filters, oldest first, and the cursor to pass as `since` next time.

        Without `since`: the newest `limit`. With it: the oldest `limit` after it, so a follower
        that falls behind catches up in order instead of skipping.
        """
        if since is None:
            picked = [e for e in reversed(self.entries) if e.matches(service, status)][:limit]
            return picked[::-1], self.cursor
        if since > self.cursor:  # a cursor from before this gateway restarted: start over
            since = 0
        newer = list(itertools.takewhile(lambda e: e.cursor > since, reversed(self.entries)))[::-1]
        picked: list[Entry] = []
        cursor = since
        for entry in newer:
            if len(picked) >= limit:
                break
            cursor = entry.cursor
            if entry.matches(service, status):
                picked.append(entry)
        return picked, cursor

