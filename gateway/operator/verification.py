"""Verification for tests in any language: how many requests matched a stub file's `request` block, and which.

The request block is read by the stub format's reader and compared by the stubs' own matchers
(stubs/matchers.py), so "this stub would have answered it" and "this was counted" never disagree.
Each process matches its own journal (a bounded ring in its memory, nothing added to a request's
path) and the answers are added up over every process of the gateway (gateway/operator/cluster.py).
Body fields match when the gateway read the request's body (stub mode, validation, recording).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..core.problems import Problem
from ..spec.load import Service
from ..stubs.api_stubs import Refused, request_matcher
from ..stubs.format import Stub
from ..stubs.matchers import RequestView, judge
from ..stubs.redaction import Redactor
from .cluster import Cluster
from .journal import JOURNAL_OFF, Entry, Journal

FIND_LIMIT = 100  # exchanges `find` answers by default (the newest)


def entry_request(entry: Entry, base_path: str) -> RequestView:
    """A journaled exchange as the stubs' matchers see a live request."""
    return RequestView.below(base_path, entry.method, entry.path, entry.query, entry.request_headers, entry.body or b"",
                             entry.parsed)


def matching(journal: Journal, service: Service, matcher: Stub) -> Iterator[Entry]:
    for entry in list(journal.entries):
        if entry.service == service.name and judge(matcher, entry_request(entry, service.base_path), explain=False).matched:
            yield entry


class Verification:
    """count / find / clear over every process's journal."""

    def __init__(self, journal: Journal, cluster: Cluster, services: Callable[[], dict[str, Service]],
                 redactor: Callable[[str | None], Redactor]) -> None:
        self.journal = journal
        self.cluster = cluster
        self.services = services
        self.redactor = redactor  # the journal detail's redaction, per service
        cluster.on("count", self._count)
        cluster.on("find", self._find)
        cluster.on("clear-journal", self._clear)

    def check(self, service: str, request: Any) -> None:
        """Refused before asking anyone: the journal off (a count of 0 would be a lie), an unknown service, a request
        block the stub format does not read."""
        if self.journal.off:
            raise Problem(409, title="Journal off", detail=JOURNAL_OFF)
        self._matcher(service, request)

    async def count(self, service: str, request: Any) -> int:
        self.check(service, request)
        return sum(await self.cluster.ask("count", {"service": service, "request": request}))

    async def find(self, service: str, request: Any, limit: int = FIND_LIMIT) -> list[dict[str, Any]]:
        """The matching exchanges of every process, oldest first, at most `limit` (the newest)."""
        self.check(service, request)
        answers = await self.cluster.ask("find", {"service": service, "request": request, "limit": limit})
        found = sorted((e for answer in answers for e in answer), key=lambda e: e["ts"])
        return found[-limit:]

    async def clear(self) -> None:
        await self.cluster.ask("clear-journal", {})

    def _matcher(self, service: str, request: Any) -> tuple[Service, Stub]:
        found = self.services().get(service)
        if found is None:
            raise Refused([{"name": "service", "message": f"no service {service!r}; services: "
                                                          f"{', '.join(self.services())}"}])
        return found, request_matcher(request, service)

    async def _count(self, payload: dict[str, Any]) -> int:
        service, matcher = self._matcher(str(payload.get("service")), payload.get("request"))
        return sum(1 for _ in matching(self.journal, service, matcher))

    async def _find(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        service, matcher = self._matcher(str(payload.get("service")), payload.get("request"))
        entries = list(matching(self.journal, service, matcher))[-int(payload.get("limit") or FIND_LIMIT):]
        redactor = self.redactor(service.name)
        return [entry.detail(redactor) for entry in entries]

    async def _clear(self, _payload: dict[str, Any]) -> bool:
        self.journal.clear()
        return True
