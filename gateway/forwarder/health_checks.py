"""Active health checks: every `interval`, `GET <instance><path>` on each instance of a service.

A 2xx answer within `timeout` is healthy; anything else (another status, no answer, a refused
connection) marks the instance unhealthy at once, and the balancer skips it until a probe
answers 2xx again. Instances count as healthy until their first probe, so a gateway starting
next to its upstreams does not refuse traffic while it looks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ..core.events import Channel, InstanceHealthChanged
from ..settings.policy_settings import HealthCheckSettings
from .connection_pool import HttpClient
from .http1 import Answer
from .instances import HEALTHY, UNCHECKED, UNHEALTHY, Instance
from .upstream_errors import UpstreamError
from .upstreams import UpstreamPool

log = logging.getLogger("gw.upstream")

PROBE_HEADERS = [("User-Agent", "gw-health-check")]
PROBE_BODY_READ = 64 * 1024  # bytes of a probe's body read at most (only its status counts): a larger one is not
#                              read to its end, and its connection is closed rather than kept


def probe_headers(instance: Instance) -> list[tuple[str, str]]:
    """A probe's headers: credentials written into the instance's URL go with it, as with every request."""
    auth = instance.authorization
    return PROBE_HEADERS if auth is None else [*PROBE_HEADERS, ("Authorization", auth)]


class HealthChecks:
    """One background task per service with a `health_check.path`, for the app's lifetime."""

    def __init__(self, pools: dict[str, UpstreamPool], settings: dict[str, HealthCheckSettings],
                 http: HttpClient, events: Channel | None = None) -> None:
        self.checked = {name: (pools[name], hc) for name, hc in settings.items() if hc.path and pools[name].instances}
        self.http = http  # the forwarder's client: a probe reuses the pool's connections as requests do
        self.events = events  # told of every instance turning healthy or unhealthy
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._every(pool, hc), name=f"gw-health-{name}")
                       for name, (pool, hc) in self.checked.items()]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def check(self, pool: UpstreamPool, hc: HealthCheckSettings) -> None:
        """Probe every instance of `pool` once, side by side."""
        results = await asyncio.gather(*(self._probe(instance, hc) for instance in pool.instances))
        for instance, (ok, detail) in zip(pool.instances, results, strict=True):
            mark(pool.service, instance, ok, detail, self.events)

    async def _every(self, pool: UpstreamPool, hc: HealthCheckSettings) -> None:
        while True:
            try:
                await self.check(pool, hc)
            except Exception:  # a probe must never end the loop
                log.exception("health check of %s failed to run", pool.service)
            await asyncio.sleep(hc.interval)

    async def _probe(self, instance: Instance, hc: HealthCheckSettings) -> tuple[bool, str]:
        try:
            async with asyncio.timeout(hc.timeout):  # the whole probe, connecting and reading included
                answer = await self.http.request(self.http.origin(instance.url), "GET", instance.path + hc.path,
                                                 probe_headers(instance), b"", hc.timeout, hc.timeout)
                try:
                    await drain(answer)
                finally:
                    answer.release()
                return 200 <= answer.status < 300, f"GET {hc.path}: {answer.status}"
        except TimeoutError:
            return False, f"GET {hc.path}: no answer within {hc.timeout:g}s"
        except (UpstreamError, ValueError) as exc:  # ValueError: a path with CR or LF in it (UnsafeRequest)
            return False, f"GET {hc.path}: {type(exc).__name__}"


async def drain(answer: Answer) -> None:
    """Read a probe's body so its connection can be kept, up to PROBE_BODY_READ bytes (then it is closed)."""
    read = 0
    async with contextlib.aclosing(answer.chunks()) as chunks:
        async for chunk in chunks:
            read += len(chunk)
            if read > PROBE_BODY_READ:
                return


def mark(service: str, instance: Instance, ok: bool, detail: str, events: Channel | None = None) -> None:
    """Record a probe's result; log and publish when the instance changes between healthy and unhealthy."""
    health = HEALTHY if ok else UNHEALTHY
    before = instance.health
    instance.healthy, instance.health, instance.health_detail = ok, health, "" if ok else detail
    instance.checked_at = time.time()
    if before != health and not (ok and before == UNCHECKED):  # starting healthy is no news
        level = logging.INFO if ok else logging.WARNING
        log.log(level, "upstream %s: %s %s (%s)", health, service, instance.url, detail,
                extra={"fields": {"event": "health", "service": service, "instance": instance.text,
                                  "from": before, "to": health, "detail": detail}})
        if events is not None:
            events.publish(InstanceHealthChanged(service, instance.text, before, health, detail))
