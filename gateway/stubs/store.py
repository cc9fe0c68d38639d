"""Every service's stub files, loaded and indexed; the best match for a request, or the near misses."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..settings.config import mount_prefix
from ..spec.load import Operation, Service, find_operation
from .deletion import Deletion, delete_stubs
from .format import Stub, StubError, read_stub
from .matchers import RequestView, Verdict, judge
from .persister import sweep_leftovers

log = logging.getLogger("gw.stubs")


def stub_operation(stub: Stub, service: Service) -> Operation | None:
    """The operation a stub answers: the one its meta names, else the one its method and exact path
    route to. None when the spec no longer has it."""
    if stub.operation:
        return service.operations.get(stub.operation)
    if isinstance(stub.path, str):
        base = mount_prefix(service.base_path)
        found = find_operation({service.name: service}, stub.method, base + stub.path)
        return found[1] if found else None
    return next((op for op in service.operations.values() if op.method == stub.method), None)
SUFFIXES = (".yaml", ".yml", ".json")
NEAR_MISSES = 3
# up to this many candidates, every miss is worded as it is judged (a reason is one f-string): cheaper than judging
# the nearest ones again to word them, as a lookup among many does
WORDED_AS_JUDGED = 8


@dataclass(slots=True)
class NearMiss:
    stub: Stub
    reasons: list[str]

    def line(self) -> str:
        return f"{self.stub.id}: {'; '.join(self.reasons)}"


class Candidates(NamedTuple):
    """The stubs that could answer an operation, indexed once per change of the stubs."""

    stubs: list[Stub]  # in the store's order
    scenarios: frozenset[str]  # the scenarios they take part in: a request reads its states only for these
    exact: dict[tuple[str, str], list[Stub]]  # those with an exact path, by (method, path): a request can match only its own
    loose: list[Stub]  # those with a regex or no path: any request may match them
    few: bool  # WORDED_AS_JUDGED or fewer: each miss is worded as it is judged (`lookup`)

    @classmethod
    def of(cls, stubs: list[Stub]) -> Candidates:
        exact: dict[tuple[str, str], list[Stub]] = {}
        for stub in stubs:
            if isinstance(stub.path, str):
                exact.setdefault((stub.method, stub.path), []).append(stub)
        return cls(stubs, frozenset(s.scenario.name for s in stubs if s.scenario is not None), exact,
                   [s for s in stubs if not isinstance(s.path, str)], len(stubs) <= WORDED_AS_JUDGED)


@dataclass(slots=True)
class Match:
    """The outcome of looking a request up: the stub that answers, or the nearest that did not."""

    stub: Stub | None = None
    near_misses: list[NearMiss] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # each near miss's line(), as the header and the access log show them


class StubStore:
    """Stub files under `root/<service>/`; a broken file is reported and skipped, never fatal."""

    def __init__(self, root: Path, services: list[str], reading: Callable[[Path], None] | None = None) -> None:
        """`reading`: told each file before it is read (a reload's worker tells the gateway, so a file past the
        reload's deadline is named: gateway/runtime/reload_worker.py)."""
        self.root = root
        self.services = services
        # the stubs and their candidates per operation (made once per change), one value: a reload's thread swaps
        # both at once, so a lookup never files candidates of the old stubs under the new ones
        self._indexed: tuple[dict[str, list[Stub]], dict[tuple[str, str | None], Candidates]] = ({}, {})
        self.errors: list[StubError] = []
        self.pinned: list[Stub] = []  # kept in memory, not read from files: stubs created over the admin API
        swept = sweep_leftovers(root)  # temp files of recordings killed mid-write, from an earlier run
        if swept:
            log.info("removed %d temp file(s) left by interrupted recordings in %s", swept, root)
        self.load(reading)

    @property
    def stubs(self) -> dict[str, list[Stub]]:
        """Each service's stubs. Changed only through this store's methods (or by setting it whole): the
        candidates of each operation are worked out once per change, not per request."""
        return self._indexed[0]

    @stubs.setter
    def stubs(self, stubs: dict[str, list[Stub]]) -> None:
        self._indexed = (stubs, {})

    def load(self, reading: Callable[[Path], None] | None = None) -> None:
        stubs: dict[str, list[Stub]] = {name: [] for name in self.services}
        errors: list[StubError] = []
        for service in self.services:
            folder = self.root / service
            if not folder.is_dir():
                continue
            files = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and not p.name.startswith("."))
            for file in files:
                if reading is not None:
                    reading(file)
                try:
                    stub = read_stub(file, service)
                except StubError as exc:
                    errors.append(exc)
                    log.warning("stub skipped: %s", exc)
                    continue
                stub.order = len(stubs[service])
                stubs[service].append(stub)
        self.replace(stubs, errors)

    def replace(self, stubs: dict[str, list[Stub]], errors: list[StubError]) -> None:
        """The files' stubs, just read (a load or a reload), with the pinned ones kept."""
        self.errors = errors
        self._join(stubs, self.pinned)

    def pin(self, pinned: list[Stub]) -> None:
        """Hold these (instead of the ones pinned before) beside the files' stubs, across reloads. Oldest first:
        a later one wins a tie with an earlier one and with every file; it hides a file stub of its own file."""
        dropped = {id(s) for s in self.pinned}
        self.pinned = pinned
        self._join({name: [s for s in stubs if id(s) not in dropped] for name, stubs in self.stubs.items()}, pinned)

    def _join(self, stubs: dict[str, list[Stub]], pinned: list[Stub]) -> None:
        files = {s.file for s in pinned}
        stubs = {name: [s for s in found if s.file not in files] for name, found in stubs.items()}
        for index, stub in enumerate(pinned):
            stub.order = -1 - index  # ties go to the lowest order: the newest pinned stub
            stubs.setdefault(stub.service, []).append(stub)
        self.stubs = stubs

    def add(self, stub: Stub) -> None:
        """A stub just written: replaces the one from the same file, or joins the end."""
        stubs = self.stubs.setdefault(stub.service, [])
        for index, existing in enumerate(stubs):
            if existing.file == stub.file:
                stub.order = existing.order
                stubs[index] = stub
                self.stubs = self.stubs  # its candidates worked out anew
                return
        stub.order = max((s.order for s in stubs), default=-1) + 1  # after a deletion too: ties go to the older stub
        stubs.append(stub)
        self.stubs = self.stubs

    def forget(self, service: str, file: Path) -> None:
        """Stop serving the stub of this file (deleted by another process)."""
        self.stubs = {**self.stubs, service: [s for s in self.stubs.get(service, []) if s.file != file]}

    def delete(self, *stubs: Stub) -> list[Deletion]:
        """Remove these stub files and their side files (stubs/deletion.py says which stay, and why); this
        process stops serving them at once."""
        deletions = delete_stubs(self.root, list(stubs))
        files = {deletion.stub.file for deletion in deletions if not deletion.failed}
        self.stubs = {name: [s for s in found if s.file not in files] for name, found in self.stubs.items()}
        return deletions

    def all(self, service: str | None = None) -> list[Stub]:
        names = [service] if service else self.services
        return [stub for name in names for stub in self.stubs.get(name, [])]

    def find(self, stub_id: str) -> Stub | None:
        return next((s for s in self.all() if s.id == stub_id or f"{s.service}/{s.id}" == stub_id), None)

    def for_operation(self, service: str, operation: str | None) -> Candidates:
        """The operation's candidates, and the scenarios they take part in; worked out once per change."""
        every, candidates = self._indexed
        found = candidates.get((service, operation))
        if found is None:
            stubs = [s for s in every.get(service, []) if not (operation and s.operation and s.operation != operation)]
            found = candidates[(service, operation)] = Candidates.of(stubs)
        return found

    def lookup(self, service: str, request: RequestView, operation: str | None = None,
               candidates: Candidates | None = None) -> Match:
        """The most specific matching stub (ties: file order), else the nearest misses with reasons. Only the stubs
        that can match are judged first (an exact path other than the request's never does); the rest only when
        none matched, for the near misses."""
        index = self.for_operation(service, operation) if candidates is None else candidates
        key = (request.method, request.path)
        explain = index.few  # few stubs: each miss worded as it is judged; among many, only the nearest, after
        best: tuple[int, int] | None = None
        chosen: Stub | None = None
        misses: list[tuple[float, Stub, Verdict]] = []
        for group in (index.exact.get(key, ()), index.loose):
            for stub in group:
                verdict = judge(stub, request, explain)
                if verdict.matched:
                    rank = (verdict.score, -stub.order)
                    if best is None or rank > best:
                        best, chosen = rank, stub
                elif stub.method == request.method or verdict.total > 1:
                    misses.append((verdict.score / verdict.total, stub, verdict))
        if chosen is not None:
            return Match(chosen)
        for other, stubs in index.exact.items():
            if other != key:
                for stub in stubs:
                    verdict = judge(stub, request, explain)  # its path differs: never a match
                    if stub.method == request.method or verdict.total > 1:
                        misses.append((verdict.score / verdict.total, stub, verdict))
        if len(misses) > 1:
            misses.sort(key=lambda item: (-item[0], item[1].order))
        match = Match()
        for _, stub, verdict in misses[:NEAR_MISSES]:
            miss = NearMiss(stub, (verdict if explain else judge(stub, request)).reasons)
            match.near_misses.append(miss)
            match.lines.append(miss.line())
        return match
