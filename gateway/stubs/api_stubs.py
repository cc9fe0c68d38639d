"""Stubs created over the admin API: checked against the contract, held by every gateway process.

A stub sent as JSON is the stub file format (stubs/format.py reads it, as it reads files). Before it is
taken it must answer an operation of its service, with a documented status and a body the one judge
accepts (stream_contract.response_violations); what is wrong is listed, never half taken.

All of them live in one shared document (`gw:api-stubs` in the shared state: this process's memory, or
Redis), like runtime modes: the process that takes a change writes it there, then asks every process
(gateway/operator/cluster.py) to apply it before answering, so a stub created through one worker answers
through all of them at once; a process started later, or one that missed the question, reads the
document at start and every SYNC_INTERVAL after. Each process pins the stubs in its StubStore, where
they stay across reloads and win ties with the files. With `persist: true` a stub is also written as a
file (atomically, as recordings are) that a restart loads like any other stub file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from ..contract.streams import response_violations
from ..core.media_types import is_json
from ..operator.cluster import Cluster
from ..runtime.background import Loop, follow
from ..runtime.shared_state import SharedState, StateUnavailable
from ..spec.load import Service
from .deletion import Deletion
from .format import Stub, StubError, stub_from_data
from .persister import dump_yaml, write_atomic
from .store import StubStore, stub_operation

log = logging.getLogger("gw.stubs")

KEY = "api-stubs"
LOCK = "api-stubs:lock"
LOCK_TTL = 5.0  # seconds: a process that died holding the lock holds it no longer
SYNC_INTERVAL = 1.0
SOURCE = "admin-api"


class UnknownStub(Exception):
    """No stub of that id was created over the admin API."""


class TakenId(Exception):
    """A stub of that id exists already."""


class Refused(Exception):
    """A stub the contract does not allow, or a request block that cannot be read: each failure listed."""

    def __init__(self, errors: list[dict[str, str]], about: str = "") -> None:
        first = f"{errors[0]['name']}: {errors[0]['message']}"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{about}{first}{more}")
        self.errors = errors


def checked_stub(service: Service, document: dict[str, Any], file: Path) -> dict[str, Any]:
    """The document as it will be kept (its operation named, its content type said), or Refused listing
    what is wrong: not the stub format, no such operation, an undocumented status, a body or header the
    operation's response does not allow."""
    if isinstance(document.get("response"), dict) and "body_file" in document["response"]:
        raise Refused([{"name": "response.body_file", "message": "names a file beside a stub file: over the API "
                                                               "send the body itself (`body`)"}])
    stub = _read(document, file, service.name)
    operation = stub_operation(stub, service)
    if operation is None:
        named = stub.operation
        shown = stub.path if isinstance(stub.path, str) else f"/{stub.path['regex'].pattern}/" if stub.path else "(any path)"
        message = (f"{service.name} has no operation {named!r}" if named else
                   f"{service.name} has no operation for {stub.method} {shown} (paths are below the base path "
                   f"{service.base_path}, which they leave out)")
        raise Refused([{"name": "meta.operation" if named else "request", "message": message}])
    kept = {**document, "meta": {**(document.get("meta") or {}), "operation": operation.key, "source": SOURCE}}
    media = _content_type(stub, operation.responses)
    if media is not None:
        response = kept["response"]
        kept["response"] = {**response, "headers": {**(response.get("headers") or {}), "Content-Type": media}}
        stub = _read(kept, file, service.name)
    content_type = stub.content_type or ""
    violations = response_violations(service, operation, stub.status, content_type, stub.response_body,
                                     stub.response_headers)
    if violations:
        raise Refused([{"name": "response", "message": v} for v in violations],
                      f"the answer breaks {operation.label} {stub.status}: ")
    return kept


def request_matcher(request: Any, service: str) -> Stub:
    """A stub file's `request` block, read by the stub format's own reader, to match journaled exchanges with."""
    return _read({"request": request, "response": {"status": 200}}, Path(f"<request>/{service}"), service)


def _read(document: dict[str, Any], file: Path, service: str) -> Stub:
    try:
        return stub_from_data(document, file, service)
    except StubError as exc:
        raise Refused([{"name": exc.key or "stub", "message": exc.reason}]) from None


def _content_type(stub: Stub, responses: dict[str, Any]) -> str | None:
    """The type to send a body with when the stub says none: the operation's documented one for that status
    (JSON first), else JSON; None when the stub names one or has no body."""
    if not stub.response_body or any(k.lower() == "content-type" for k in stub.response_headers):
        return None
    declared = responses.get(str(stub.status)) or responses.get(f"{str(stub.status)[0]}XX") or responses.get("default")
    content = list((declared or {}).get("content") or {})
    return next((m for m in content if is_json(m)), content[0] if content else "application/json")


class ApiStubs:
    """The stubs created over the admin API, in the shared document and pinned in this process's store."""

    def __init__(self, store: StubStore, state: SharedState, cluster: Cluster,
                 services: Callable[[], dict[str, Service]]) -> None:
        self.store = store
        self.state = state.patient()  # an operator's changes, and following them: never failed by one slow moment
        self.cluster = cluster
        self.services = services  # the loaded specs now (a reload swaps them)
        self.entries: list[dict[str, Any]] = []  # {id, service, stub, persist}, oldest first, as applied here
        self._seen: str | None = None
        self._loop = Loop("gw-api-stubs-sync")
        cluster.on("stubs", self._sync_topic)
        cluster.on("forget-stub", self._forget_topic)

    def find(self, stub_id: str) -> dict[str, Any] | None:
        return next((e for e in self.entries if e["id"] == stub_id), None)

    def file(self, service: str, stub_id: str) -> Path:
        return self.store.root / service / f"{stub_id}.yaml"

    # -- changes -----------------------------------------------------------------------------------

    async def create(self, service: str, document: dict[str, Any], persist: bool, stub_id: str | None) -> dict[str, Any]:
        self.cluster.check()
        stub_id = stub_id or str(uuid.uuid4())
        entry = self._entry(stub_id, service, document, persist)

        def add(entries: list[dict[str, Any]]) -> None:
            if any(e["id"] == stub_id for e in entries) or self.store.find(f"{service}/{stub_id}") is not None:
                raise TakenId(f"a stub {stub_id!r} exists already (PUT /_gw/api/stubs/{stub_id} replaces it)")
            entries.append(entry)

        await self._edit(add, written=entry)
        return entry

    async def replace(self, stub_id: str, service: str, document: dict[str, Any], persist: bool) -> dict[str, Any]:
        self.cluster.check()
        entry = self._entry(stub_id, service, document, persist)
        before: list[dict[str, Any]] = []

        def swap(entries: list[dict[str, Any]]) -> None:
            index = next((i for i, e in enumerate(entries) if e["id"] == stub_id), None)
            if index is None:
                raise UnknownStub(f"no stub {stub_id!r} created over the admin API")
            before.append(entries[index])
            entries[index] = entry

        await self._edit(swap, written=entry)
        old = before[0]
        if old["persist"] and (not persist or old["service"] != service):
            await asyncio.to_thread(self.file(old["service"], stub_id).unlink, True)
        return entry

    async def remove(self, stub_id: str) -> dict[str, Any]:
        self.cluster.check()
        removed: list[dict[str, Any]] = []

        def drop(entries: list[dict[str, Any]]) -> None:
            removed.extend(e for e in entries if e["id"] == stub_id)
            if not removed:
                raise UnknownStub(f"no stub {stub_id!r} created over the admin API")
            entries.remove(removed[0])

        await self._edit(drop)
        if removed[0]["persist"]:
            await asyncio.to_thread(self.file(removed[0]["service"], stub_id).unlink, True)
        return removed[0]

    async def remove_all(self) -> int:
        """Every stub created over the API and kept in memory (persisted ones are files now: they stay)."""
        self.cluster.check()
        removed: list[dict[str, Any]] = []

        def drop(entries: list[dict[str, Any]]) -> None:
            removed.extend(e for e in entries if not e["persist"])
            entries[:] = [e for e in entries if e["persist"]]

        await self._edit(drop)
        return len(removed)

    async def remove_file_stub(self, stub: Stub) -> Deletion:
        """A stub read from a file: its file and side files go (StubStore.delete), and every process forgets it."""
        self.cluster.check()
        [deletion] = await asyncio.to_thread(self.store.delete, stub)
        if not deletion.failed:
            await self.cluster.ask("forget-stub", {"service": stub.service, "file": str(stub.file)})
        return deletion

    def _entry(self, stub_id: str, service: str, document: dict[str, Any], persist: bool) -> dict[str, Any]:
        found = self.services().get(service)
        if found is None:
            raise Refused([{"name": "service", "message": f"no service {service!r}; services: "
                                                          f"{', '.join(self.services())}"}])
        kept = checked_stub(found, document, self.file(service, stub_id))
        kept["meta"]["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {"id": stub_id, "service": service, "stub": kept, "persist": persist}

    async def _edit(self, change: Callable[[list[dict[str, Any]]], None], written: dict[str, Any] | None = None) -> None:
        """Under the shared lock: read the freshest document, change it, write the file if asked, store it;
        then every process applies it before this returns."""
        async with self._locked():
            entries = await self._read()
            change(entries)
            if written is not None and written["persist"]:
                stub = written["stub"]
                document = {"request": stub["request"], "response": stub["response"], "meta": stub["meta"]}
                await asyncio.to_thread(write_atomic, self.file(written["service"], written["id"]), dump_yaml(document))
            await self.state.set(KEY, json.dumps(entries))
        await self.cluster.ask("stubs", {})

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + LOCK_TTL
        while not await self.state.set_if_absent(LOCK, token, LOCK_TTL):
            if time.monotonic() > deadline:
                raise StateUnavailable("another process holds the stubs' lock")
            await asyncio.sleep(0.02)
        try:
            yield
        finally:
            if await self.state.get(LOCK) == token:
                await self.state.delete(LOCK)

    async def _read(self) -> list[dict[str, Any]]:
        text = await self.state.get(KEY)
        return json.loads(text) if text else [dict(e) for e in self.entries]

    # -- applying ----------------------------------------------------------------------------------

    async def sync_once(self) -> None:
        """Apply the shared document when it differs from what this process applied last."""
        text = await self.state.get(KEY)
        if text is not None and text != self._seen:
            self._seen = text
            self.apply(json.loads(text))

    def apply(self, entries: list[dict[str, Any]]) -> None:
        """Pin these stubs in this process's store (a broken one is logged and left out, never fatal)."""
        pinned: list[Stub] = []
        for entry in entries:
            try:
                pinned.append(stub_from_data(entry["stub"], self.file(entry["service"], entry["id"]), entry["service"]))
            except (StubError, KeyError, TypeError) as exc:
                log.warning("stub created over the admin API left out: %s", exc)
        self.entries = entries
        self.store.pin(pinned)

    async def _sync_topic(self, _payload: dict[str, Any]) -> bool:
        await self.sync_once()
        return True

    async def _forget_topic(self, payload: dict[str, Any]) -> bool:
        self.store.forget(str(payload.get("service")), Path(str(payload.get("file"))))
        return True

    # -- following other processes -------------------------------------------------------------------

    def start(self) -> None:
        """Apply what the shared document holds now; with Redis, follow it every SYNC_INTERVAL."""
        if self.cluster.shared:
            self._loop.start(lambda: follow(self.sync_once, SYNC_INTERVAL, log, "stubs created over the admin API "
                                            "not followed (%s): retrying", "reading the shared stubs failed"))

    async def stop(self) -> None:
        await self._loop.stop()

