"""State the gateway's policies keep between requests: in this process, or in Redis for several.

Rate-limit allowances, revoked tokens, refresh-token families, circuit counts, runtime modes and
stub scenario states all live behind one small interface, so N gateway processes sharing one Redis behave as one
gateway, and one process without Redis needs nothing else running.

Redis calls are bounded (short socket timeouts) and a failed Redis is not asked again for a
second: callers get `StateUnavailable` at once and decide to fail open or closed. Nothing hangs.
That is the request path's patience: a gateway must not wait on its bookkeeping. An operator's change
(the admin API, following the shared documents) is rare and must be applied or refused truthfully:
`state.patient()` is the same store on its own connections, waiting out a slow moment (PATIENT_TIMEOUT),
never refused because a request's call failed just before, and sending a call that may be repeated once
more after a timeout or a lost connection (never one that may not: no redis-py retry underneath).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("gw.state")

PREFIX = "gw:"
REDIS_TIMEOUT = 0.25  # seconds: a gateway must not wait on its bookkeeping
RETRY_AFTER_FAILURE = 1.0
PATIENT_TIMEOUT = 2.0  # seconds: an operator's change waits out a slow moment (a loaded box) rather than fail on it
HASH_FIELDS = 100_000  # fields one in-memory hash keeps (sessions per scenario)


def display_url(url: str) -> str:
    """The URL as logs and health pages may show it: a password in it becomes ***."""
    from yarl import URL

    parsed = URL(url)
    return str(parsed.with_password("***")) if parsed.password else url


class StateUnavailable(Exception):
    """The shared store cannot be reached now."""


@dataclass(frozen=True)
class Patience:
    """How one RedisState waits: its socket timeout, the bound on one attempt, whether a failure refuses every
    call at once for RETRY_AFTER_FAILURE, and how many more attempts a timed-out call that may be repeated gets."""

    socket: float
    bound: float
    fast_fail: bool
    retries: int


REQUEST_PATH = Patience(REDIS_TIMEOUT, REDIS_TIMEOUT * 4, fast_fail=True, retries=0)
OPERATOR = Patience(PATIENT_TIMEOUT, PATIENT_TIMEOUT * 1.5, fast_fail=False, retries=1)


@dataclass(frozen=True)
class Allowance:
    """One rate-limit decision (GCRA): whether this request may pass, and the numbers for its headers."""

    allowed: bool
    limit: int
    remaining: int
    reset: float  # seconds until the whole quota is back
    retry_after: float  # seconds until the next request may pass (0 when allowed)


def gcra(tat: float | None, now: float, limit: int, window: float, burst: int) -> tuple[Allowance, float | None]:
    """The generic cell rate algorithm: `limit + burst` at once, then `limit` per `window`, smoothly.

    `tat` is the stored theoretical arrival time; returns the decision and the new tat to store
    (None when refused: nothing changes). The Lua twin in `_GCRA_LUA` does the same sums in Redis.
    """
    capacity = limit + burst
    interval = window / limit
    tolerance = (capacity - 1) * interval
    tat = max(tat if tat is not None else now, now)
    if tat - now > tolerance:
        return Allowance(False, capacity, 0, tat - now, tat - tolerance - now), None
    new_tat = tat + interval
    remaining = max(0, math.floor((tolerance - (new_tat - now)) / interval + 1e-9) + 1)
    return Allowance(True, capacity, remaining, new_tat - now, 0.0), new_tat


class SharedState:
    """In-process state: the default, and the reference the Redis store behaves like."""

    kind = "memory"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # epoch seconds (TTLs, GCRA arrival times); injectable for tests on a fake clock
        self._values: dict[str, tuple[str, float]] = {}  # key -> (value, expires at; inf: never)
        self._tats: dict[str, float] = {}
        self._hashes: dict[str, dict[str, str]] = {}  # key -> {field: value}: scenario states per session
        self._hashes: dict[str, dict[str, str]] = {}  # simulated resources (gateway/simulation/store.py)
        self._sets: dict[str, set[str]] = {}
        self._counters: dict[str, int] = {}

    async def get(self, key: str) -> str | None:
        value = self._values.get(key)
        if value is None or value[1] <= self._clock():
            self._values.pop(key, None)
            return None
        return value[0]

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._values[key] = (value, self._clock() + ttl if ttl else math.inf)
        self._sweep()

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        if await self.get(key) is not None:
            return False
        await self.set(key, value, ttl)
        return True

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)
            self._hashes.pop(key, None)
            self._sets.pop(key, None)
            self._counters.pop(key, None)

    async def incr(self, key: str, ttl: float) -> int:
        """Add one to a counter that expires `ttl` after its first increment."""
        current = self._values.get(key)
        if current is None or current[1] <= self._clock():
            self._values[key] = ("1", self._clock() + ttl)
            return 1
        count = int(current[0]) + 1
        self._values[key] = (str(count), current[1])
        return count

    async def reserve(self, keys: list[str], limit: int, ttl: float) -> bool:
        """Count one more try on every counter, only if each is still below `limit`; all or nothing, atomically.

        The check and the count are one step (no await in between here; one Lua script in Redis), so
        however many requests arrive at once, at most `limit` are ever let through per window.
        """
        now = self._clock()
        counts = []
        for key in keys:
            current = self._values.get(key)
            counts.append(int(current[0]) if current is not None and current[1] > now else 0)
        if any(count >= limit for count in counts):
            return False
        for key, count in zip(keys, counts, strict=True):
            expires = self._values[key][1] if count else now + ttl
            self._values[key] = (str(count + 1), expires)
        self._sweep()
        return True

    async def release(self, key: str) -> None:
        """Give back one reserved try (a counter never goes below zero)."""
        current = self._values.get(key)
        if current is not None and current[1] > self._clock() and int(current[0]) > 0:
            self._values[key] = (str(int(current[0]) - 1), current[1])

    async def get_many(self, *keys: str) -> list[str | None]:
        return [await self.get(key) for key in keys]

    async def hget_many(self, keys: list[str], name: str) -> list[str | None]:
        """One field of several hashes (a session's state in each scenario)."""
        return [self._hashes.get(key, {}).get(name) for key in keys]

    async def hset(self, key: str, name: str, value: str) -> None:
        fields = self._hashes.setdefault(key, {})
        fields.pop(name, None)
        fields[name] = value
        if len(fields) > HASH_FIELDS:  # bounded: the longest-unchanged field goes first
            del fields[next(iter(fields))]

    async def hswap(self, key: str, name: str, expected: str, value: str, unset: str) -> bool:
        """Set the field to `value` only if it still holds `expected` (`unset`: what a missing field counts as),
        atomically: two processes moving the same flow never move it back."""
        if self._hashes.get(key, {}).get(name, unset) != expected:
            return False
        await self.hset(key, name, value)
        return True

    async def hgetall(self, key: str) -> dict[str, str]:
        return dict(self._hashes.get(key, {}))

    async def hdel(self, key: str, *names: str) -> None:
        fields = self._hashes.get(key, {})
        for name in names:
            fields.pop(name, None)

    async def take(self, key: str, limit: int, window: float, burst: int = 0) -> Allowance:
        now = self._clock()
        allowance, new_tat = gcra(self._tats.get(key), now, limit, window, burst)
        if new_tat is not None:
            self._tats[key] = new_tat
        if len(self._tats) > 100_000:
            self._tats = {k: t for k, t in self._tats.items() if t > now}
        return allowance

    # -- hashes, sets and counters: the simulated resources (gateway/simulation/store.py) ------------

    async def hash_get(self, key: str, field: str) -> str | None:
        return self._hashes.get(key, {}).get(field)

    async def hash_all(self, key: str) -> dict[str, str]:
        return dict(self._hashes.get(key, {}))

    async def hash_add(self, key: str, field: str, value: str, limit: int, index: str) -> bool:
        """Set a field, unless it is new and the hash holds `limit` already; the hash's key joins the set `index`."""
        fields = self._hashes.setdefault(key, {})
        if field not in fields and len(fields) >= limit:
            return False
        fields[field] = value
        self._sets.setdefault(index, set()).add(key)
        return True

    async def hash_replace(self, key: str, field: str, value: str) -> bool:
        """Set a field only if it is there (a resource deleted meanwhile is not brought back)."""
        fields = self._hashes.get(key)
        if fields is None or field not in fields:
            return False
        fields[field] = value
        return True

    async def hash_remove(self, key: str, field: str) -> bool:
        return self._hashes.get(key, {}).pop(field, None) is not None

    async def set_add(self, key: str, *members: str) -> None:
        self._sets.setdefault(key, set()).update(members)

    async def set_members(self, key: str) -> set[str]:
        return set(self._sets.get(key, set()))

    async def set_remove(self, key: str, *members: str) -> None:
        self._sets.get(key, set()).difference_update(members)

    async def counter_next(self, key: str, floor: int = 0) -> int:
        """The next number of a counter that never expires, above `floor` (ids already taken by seed data)."""
        number = self._counters[key] = max(self._counters.get(key, 0) + 1, floor + 1)
        return number

    async def fill_once(self, marker: str, hashes: dict[str, dict[str, str]], index: str) -> bool:
        """Write these hashes (each key joining `index`) only if `marker` is not set, and set it; all at once."""
        if marker in self._values:
            return False
        self._values[marker] = ("1", math.inf)
        for key, fields in hashes.items():
            self._hashes.setdefault(key, {}).update(fields)
            self._sets.setdefault(index, set()).add(key)
        return True

    def patient(self) -> SharedState:
        """This store for an operator's change (see the module's docstring); in memory nothing ever waits."""
        return self

    async def close(self) -> None:
        return None

    def _sweep(self) -> None:
        if len(self._values) > 100_000:
            now = self._clock()
            self._values = {k: v for k, v in self._values.items() if v[1] > now}


_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local capacity = limit + burst
local interval = window / limit
local tolerance = (capacity - 1) * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return {0, capacity, 0, tostring(tat - now), tostring(tat - tolerance - now)}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
local remaining = math.floor((tolerance - (new_tat - now)) / interval + 1e-9) + 1
if remaining < 0 then remaining = 0 end
return {1, capacity, remaining, tostring(new_tat - now), '0'}
"""

_INCR_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""

_RESERVE_LUA = """
local limit = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= limit then return 0 end
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[2]) end
end
return 1
"""

_RELEASE_LUA = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 0
"""


_HSWAP_LUA = """
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ARGV[2]
if current ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return 1
"""

_HASH_ADD_LUA = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
return 1
"""

_HASH_REPLACE_LUA = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

_COUNTER_LUA = """
local n = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if n <= floor then n = floor + 1; redis.call('SET', KEYS[1], n) end
return n
"""

_FILL_ONCE_LUA = """
if redis.call('SET', KEYS[1], '1', 'NX') == false then return 0 end
local hashes = cjson.decode(ARGV[1])
for i = 3, #KEYS do
  local entry = hashes[i - 2]
  for name, value in pairs(entry[2]) do redis.call('HSET', KEYS[i], name, value) end
  redis.call('SADD', KEYS[2], entry[1])
end
return 1
"""


class RedisState(SharedState):
    """The same operations in Redis, atomic where two processes could race (Lua scripts)."""

    kind = "redis"

    def __init__(self, url: str, patience: Patience = REQUEST_PATH) -> None:
        super().__init__()
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.url = url
        self.patience = patience
        # redis-py sends any command again after a lost connection or its own timeout, by default, whether or not
        # it may be repeated: a patient store does so itself (`_call`), and only for calls that may be (a SET NX
        # whose answer was lost, sent again, finds its own value and says "taken"; an INCR sent twice counts twice).
        again = {} if patience.fast_fail else {"retry": Retry(NoBackoff(), 0)}
        self._client = redis.Redis.from_url(url, socket_timeout=patience.socket, socket_connect_timeout=patience.socket,
                                            decode_responses=True, health_check_interval=30, **again)
        self._gcra = self._client.register_script(_GCRA_LUA)
        self._incr = self._client.register_script(_INCR_LUA)
        self._reserve = self._client.register_script(_RESERVE_LUA)
        self._release = self._client.register_script(_RELEASE_LUA)
        self._hswap = self._client.register_script(_HSWAP_LUA)
        self._hash_add = self._client.register_script(_HASH_ADD_LUA)
        self._hash_replace = self._client.register_script(_HASH_REPLACE_LUA)
        self._counter = self._client.register_script(_COUNTER_LUA)
        self._fill_once = self._client.register_script(_FILL_ONCE_LUA)
        self._down_until = 0.0
        self._patient: RedisState | None = None

    def patient(self) -> SharedState:
        """The same Redis on connections of its own that wait PATIENT_TIMEOUT (made at the first use)."""
        if not self.patience.fast_fail:
            return self
        if self._patient is None:
            self._patient = RedisState(self.url, OPERATOR)
        return self._patient

    async def _call(self, send: Callable[[], Awaitable[Any]], repeatable: bool = False) -> Any:
        """`send()`'s answer, within this store's patience; StateUnavailable when Redis does not give it."""
        patience = self.patience
        if patience.fast_fail and time.monotonic() < self._down_until:
            raise StateUnavailable(f"redis at {display_url(self.url)} is unreachable")
        again = patience.retries if repeatable else 0
        while True:
            try:
                return await asyncio.wait_for(send(), patience.bound)
            except Exception as exc:  # redis' own errors, timeouts, refused connections
                if again and (_timed_out(exc) or _connection_lost(exc)):
                    again -= 1
                    continue
                if patience.fast_fail:
                    self._down_until = time.monotonic() + RETRY_AFTER_FAILURE
                raise StateUnavailable(f"redis at {display_url(self.url)}: {exc or type(exc).__name__}") from exc

    async def get(self, key: str) -> str | None:
        return await self._call(lambda: self._client.get(PREFIX + key), repeatable=True)

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        await self._call(lambda: self._client.set(PREFIX + key, value, px=_millis(ttl)), repeatable=True)

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        return bool(await self._call(lambda: self._client.set(PREFIX + key, value, px=_millis(ttl), nx=True)))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._call(lambda: self._client.delete(*[PREFIX + k for k in keys]), repeatable=True)

    async def incr(self, key: str, ttl: float) -> int:
        return int(await self._call(lambda: self._incr(keys=[PREFIX + key], args=[_millis(ttl)])))

    async def reserve(self, keys: list[str], limit: int, ttl: float) -> bool:
        names = [PREFIX + k for k in keys]
        return bool(await self._call(lambda: self._reserve(keys=names, args=[limit, _millis(ttl)])))

    async def release(self, key: str) -> None:
        await self._call(lambda: self._release(keys=[PREFIX + key]))

    async def get_many(self, *keys: str) -> list[str | None]:
        if not keys:
            return []
        return list(await self._call(lambda: self._client.mget([PREFIX + k for k in keys]), repeatable=True))

    async def hget_many(self, keys: list[str], name: str) -> list[str | None]:
        if not keys:
            return []
        if len(keys) == 1:
            return [await self._call(lambda: self._client.hget(PREFIX + keys[0], name), repeatable=True)]
        return list(await self._call(lambda: self._hgets(keys, name), repeatable=True))

    def _hgets(self, keys: list[str], name: str) -> Awaitable[list[str | None]]:
        """One round trip for the field of several hashes (built again for each attempt)."""
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(PREFIX + key, name)
        return pipe.execute()

    async def hset(self, key: str, name: str, value: str) -> None:
        await self._call(lambda: self._client.hset(PREFIX + key, name, value), repeatable=True)

    async def hswap(self, key: str, name: str, expected: str, value: str, unset: str) -> bool:
        return bool(await self._call(lambda: self._hswap(keys=[PREFIX + key], args=[name, unset, expected, value])))

    async def hgetall(self, key: str) -> dict[str, str]:
        return dict(await self._call(lambda: self._client.hgetall(PREFIX + key), repeatable=True))

    async def hdel(self, key: str, *names: str) -> None:
        if names:
            await self._call(lambda: self._client.hdel(PREFIX + key, *names), repeatable=True)

    async def take(self, key: str, limit: int, window: float, burst: int = 0) -> Allowance:
        ok, capacity, remaining, reset, retry = await self._call(lambda: self._gcra(keys=[PREFIX + "rl:" + key],
                                                                                     args=[limit, window, burst]))
        return Allowance(bool(ok), int(capacity), int(remaining), float(reset), float(retry))

    async def hash_get(self, key: str, field: str) -> str | None:
        return await self._call(lambda: self._client.hget(PREFIX + key, field), repeatable=True)

    async def hash_all(self, key: str) -> dict[str, str]:
        return dict(await self._call(lambda: self._client.hgetall(PREFIX + key), repeatable=True))

    async def hash_add(self, key: str, field: str, value: str, limit: int, index: str) -> bool:
        keys = [PREFIX + key, PREFIX + index]
        return bool(await self._call(lambda: self._hash_add(keys=keys, args=[field, value, limit, key]), repeatable=True))

    async def hash_replace(self, key: str, field: str, value: str) -> bool:
        return bool(await self._call(lambda: self._hash_replace(keys=[PREFIX + key], args=[field, value]),
                                     repeatable=True))

    async def hash_remove(self, key: str, field: str) -> bool:
        return bool(await self._call(lambda: self._client.hdel(PREFIX + key, field)))

    async def set_add(self, key: str, *members: str) -> None:
        if members:
            await self._call(lambda: self._client.sadd(PREFIX + key, *members), repeatable=True)

    async def set_members(self, key: str) -> set[str]:
        return set(await self._call(lambda: self._client.smembers(PREFIX + key), repeatable=True))

    async def set_remove(self, key: str, *members: str) -> None:
        if members:
            await self._call(lambda: self._client.srem(PREFIX + key, *members), repeatable=True)

    async def counter_next(self, key: str, floor: int = 0) -> int:
        return int(await self._call(lambda: self._counter(keys=[PREFIX + key], args=[floor])))

    async def fill_once(self, marker: str, hashes: dict[str, dict[str, str]], index: str) -> bool:
        keys = [PREFIX + marker, PREFIX + index, *(PREFIX + k for k in hashes)]
        text = json.dumps([[k, h] for k, h in hashes.items()])
        return bool(await self._call(lambda: self._fill_once(keys=keys, args=[text])))

    async def ping(self) -> bool:
        return bool(await self._call(self._client.ping, repeatable=True))

    async def close(self) -> None:
        if self._patient is not None:
            await self._patient.close()
        await self._client.aclose()


def _timed_out(exc: BaseException) -> bool:
    from redis.exceptions import TimeoutError as RedisTimeout

    return isinstance(exc, (TimeoutError, RedisTimeout))


def _connection_lost(exc: BaseException) -> bool:
    from redis.exceptions import ConnectionError as RedisConnectionError

    return isinstance(exc, RedisConnectionError)


def _millis(ttl: float | None) -> int | None:
    return max(1, int(ttl * 1000)) if ttl else None


def open_state(redis_url: str) -> SharedState:
    """Redis when a URL is configured, this process's memory otherwise."""
    return RedisState(redis_url) if redis_url else SharedState()
