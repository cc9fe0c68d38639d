"""Where simulated resources live: the gateway's shared state (memory, or Redis for several processes).

Each session (`X-GW-Session`) has its own copy of every collection, filled from the seed data the first
time the session is used (atomically: two processes never seed it twice). A collection scoped to a
parent (`/users/{user_id}/orders`) keeps each parent's items apart. Keys, all below `sim|<service>|`:

    sessions                            the sessions in use (for dumps and resets)
    born                                a hash: session -> when it was first used (the oldest goes first)
    <session>|seeded                    set once the seed is copied in
    <session>|index                     every item hash of the session
    <session>|<collection>|<scope>      one hash: id -> {"seq", "id", "item"} as JSON
    <session>|<collection>|#id          the integer id counter
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from ..runtime.shared_state import SharedState

Scope = tuple[tuple[str, str], ...]  # (parent parameter, its value as text), in path order


@dataclass
class Seed:
    """The items each collection starts with, per scope, and the highest integer id among them."""

    items: dict[tuple[str, Scope], list[tuple[Any, dict[str, Any]]]] = field(default_factory=dict)
    floors: dict[str, int] = field(default_factory=dict)


def scope_text(scope: Scope) -> str:
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in scope)


def scope_of(text: str) -> dict[str, str]:
    return {unquote(k): unquote(v) for k, _, v in (part.partition("=") for part in text.split("&") if part)}


def id_text(value: Any) -> str:
    """One id as a hash field: `7` for 7 and "7" alike, as the path gives it."""
    return value if isinstance(value, str) else json.dumps(value)


class ResourceStore:
    """The resources of one service, per session, kept in the shared state."""

    def __init__(self, state: SharedState, service: str, seed: Seed, collections: list[str], limit: int,
                 max_sessions: int = 1000) -> None:
        self.state, self.service, self.seed, self.limit, self.max_sessions = state, service, seed, limit, max_sessions
        self.collections = collections  # their names: each has an id counter per session
        self.root = f"sim|{service}|"
        self._seeded = [(name, scope_text(scope), {id_text(i): _record(n, i, item) for n, (i, item) in enumerate(items)})
                        for (name, scope), items in seed.items.items()]  # serialized once, copied per session

    def patient(self) -> ResourceStore:
        """This store for an operator's dump or reset: waits out a slow moment of Redis (SharedState.patient)."""
        store = copy.copy(self)
        store.state = self.state.patient()
        return store

    def _bucket(self, session: str, collection: str, scope: Scope) -> str:
        return f"{self.root}{session}|{collection}|{scope_text(scope)}"

    async def enter(self, session: str) -> None:
        """The session's resources exist: copied from the seed the first time it is used."""
        marker = f"{self.root}{session}|seeded"
        if await self.state.get(marker) is not None:  # the common case: one small read, the seed not sent again
            return
        hashes = {f"{self.root}{session}|{name}|{scope}": fields for name, scope, fields in self._seeded}
        if await self.state.fill_once(marker, hashes, f"{self.root}{session}|index"):
            await self.state.set_add(f"{self.root}sessions", session)
            await self.state.hash_add(f"{self.root}born", session, str(time.time_ns()), 2**31, f"{self.root}born-index")
            await self._make_room(session)

    async def _make_room(self, newest: str) -> None:
        """Beyond `max_sessions`: the sessions first used longest ago are forgotten (a long-running gateway
        serving CI runs, each with its own X-GW-Session, stays bounded)."""
        born = await self.state.hash_all(f"{self.root}born")
        excess = len(born) - self.max_sessions
        if excess <= 0:
            return
        oldest = sorted((int(t), name) for name, t in born.items() if name != newest)[:excess]
        for _, name in oldest:
            await self.forget(name)

    async def forget(self, session: str) -> None:
        """The session and everything in it gone (a later request with it starts from the seed again)."""
        await self.reset(session)
        await self.state.set_remove(f"{self.root}sessions", session)
        await self.state.hash_remove(f"{self.root}born", session)

    async def get(self, session: str, collection: str, scope: Scope, item_id: Any) -> dict[str, Any] | None:
        raw = await self.state.hash_get(self._bucket(session, collection, scope), id_text(item_id))
        return json.loads(raw)["item"] if raw is not None else None

    async def items(self, session: str, collection: str, scope: Scope) -> list[dict[str, Any]]:
        """The items in the order they were added (seed first)."""
        records = [json.loads(raw) for raw in (await self.state.hash_all(self._bucket(session, collection, scope))).values()]
        return [r["item"] for r in sorted(records, key=lambda r: r["seq"])]

    async def add(self, session: str, collection: str, scope: Scope, item_id: Any, item: dict[str, Any]) -> bool:
        """False when the collection holds `max_resources` already."""
        return await self.state.hash_add(self._bucket(session, collection, scope), id_text(item_id),
                                         _record(time.time_ns(), item_id, item), self.limit, f"{self.root}{session}|index")

    async def replace(self, session: str, collection: str, scope: Scope, item_id: Any, item: dict[str, Any],
                      seq: int | None = None) -> bool:
        """False when the item is gone (deleted meanwhile): it is not brought back."""
        bucket = self._bucket(session, collection, scope)
        raw = await self.state.hash_get(bucket, id_text(item_id))
        if raw is None:
            return False
        return await self.state.hash_replace(bucket, id_text(item_id), _record(json.loads(raw)["seq"], item_id, item))

    async def remove(self, session: str, collection: str, scope: Scope, item_id: Any) -> bool:
        return await self.state.hash_remove(self._bucket(session, collection, scope), id_text(item_id))

    async def next_id(self, session: str, collection: str) -> int:
        return await self.state.counter_next(f"{self.root}{session}|{collection}|#id", self.seed.floors.get(collection, 0))

    async def sessions(self) -> list[str]:
        return sorted(await self.state.set_members(f"{self.root}sessions"))

    async def dump(self, session: str) -> list[dict[str, Any]]:
        """Every collection of the session, per scope: [{collection, parent, items}]."""
        found = []
        prefix = f"{self.root}{session}|"
        for bucket in sorted(await self.state.set_members(f"{prefix}index")):
            collection, _, scope = bucket[len(prefix):].partition("|")
            items = [r["item"] for r in sorted((json.loads(raw) for raw in (await self.state.hash_all(bucket)).values()),
                                               key=lambda r: r["seq"])]
            found.append({"collection": collection, "parent": scope_of(scope), "items": items})
        return found

    async def reset(self, session: str) -> None:
        """The session back to the seed: its items, counters and seed mark go; the next request seeds it again."""
        prefix = f"{self.root}{session}|"
        buckets = await self.state.set_members(f"{prefix}index")
        counters = [f"{prefix}{name}|#id" for name in self.collections]
        await self.state.delete(*buckets, *counters, f"{prefix}index", f"{prefix}seeded")


def _record(seq: int, item_id: Any, item: dict[str, Any]) -> str:
    return json.dumps({"seq": seq, "id": item_id, "item": item}, separators=(",", ":"))
