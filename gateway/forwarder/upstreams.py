"""The upstream instances of a service and the one pooled HTTP client that reaches them.

aiohttp's ClientSession is the client: measured here (STACK-NOTES.md), its pool held up under
concurrency where httpx's async pool collapsed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import aiohttp
from yarl import URL


@dataclass
class Upstream:
    """One instance of a service: the only kind of place the gateway ever connects to."""

    url: URL

    @property
    def origin(self) -> URL:
        return self.url.origin()


@dataclass
class UpstreamPool:
    """A service's instances; picks the next one for each attempt (round robin for now)."""

    service: str
    instances: list[Upstream]
    _cycle: itertools.cycle = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cycle = itertools.cycle(self.instances) if self.instances else itertools.cycle([])

    @classmethod
    def from_urls(cls, service: str, urls: list[str]) -> UpstreamPool:
        return cls(service, [Upstream(URL(u)) for u in urls])

    def pick(self) -> Upstream | None:
        return next(self._cycle, None)


def new_session(limit_per_host: int = 256) -> aiohttp.ClientSession:
    """The gateway's one client: pooled keep-alive connections, no cookie jar, bytes as they come."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=limit_per_host, ttl_dns_cache=300,
                                     enable_cleanup_closed=True)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        timeout=aiohttp.ClientTimeout(total=None),
    )
