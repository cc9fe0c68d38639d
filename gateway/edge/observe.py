"""The one step that sees each request first and its answer last: what the gateway observes of an exchange.

Every request gets its id here (the client's X-Request-ID when it sent a sane one, so one id follows a
request across services), and, once its answer is made, is counted for Prometheus (gateway/operator/metrics.py
says what), written as one access log line, and kept in the request journal and sent on the live event
feed. It sits outside problem+json, so it sees every answer as the client gets it: a refused request
(400, 401, 429) as much as a stub or an upstream answer. A request whose client left mid-body never
finishes: it is logged and counted as aborted (gateway/edge/aborted.py), nothing else. With `trusted_proxies`
it first resolves the client address behind them (steps/client_address.py), so every later step and
every observer sees the real client.

One frame for all of it: each observer was its own step (request id, metrics, access log, journal), each
a call and an await per request. What a setting turns off costs nothing: no metrics object, no counting;
no access log writer (log level above info), no line. Streamed answers are observed when their head is
ready (their duration is the time to the head), as before.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

from ..core.events import Channel, ExchangeFinished
from ..core.exchange import Exchange, Response
from ..core.logs import access_log
from ..core.pipeline import Next
from ..operator.journal import Entry, Journal
from .aborted import ClientAborted
from .client_address import ClientAddress
from .own_paths import OWN_PREFIX

log = logging.getLogger("gw")

_SANE = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")
# the metrics' count of a finished exchange: its status, seconds to its answer, and whether it was for /_gw/
Count = Callable[[Exchange, int, float, bool], None]
CountAborted = Callable[[str], None]  # the metrics' count of a request its client cut short, by service
KEEP_PARSED = 8 * 1024  # request bodies up to this size keep their parsed JSON in the journal (parsed values take ~10x)
LOGGED_NOTES = ("upstream", "retries", "problem", "stub", "near_misses", "fallback_reason", "contract", "chaos")


def request_id_for(exchange: Exchange) -> str:
    """The client's id when it is sane (so one id follows a request across services), else a new one."""
    given = exchange.headers.get("x-request-id")
    return given if given is not None and _SANE.match(given) else new_request_id()


POOLED_IDS = 256  # request ids made per read of the system's randomness: one syscall per 256 requests, not one each
_UUID_BYTES = 16
# RFC 4122 over every 16 bytes of a pool at once: version 4 in byte 6's high nibble, variant 10 in byte 8's top bits
_KEEP_BITS = int.from_bytes((b"\xff" * 6 + b"\x0f\xff\x3f" + b"\xff" * 7) * POOLED_IDS, "big")
_SET_BITS = int.from_bytes((b"\x00" * 6 + b"\x40\x00\x80" + b"\x00" * 7) * POOLED_IDS, "big")
_ids: list[str] = []  # made, not yet handed out; emptied in a forked child (workers never share one)
os.register_at_fork(after_in_child=_ids.clear)


def new_request_id() -> str:
    """A random UUID (version 4) as 32 hex digits, what `uuid.uuid4().hex` gives, taken from a pool made
    POOLED_IDS at a time: per request a list pop, not a urandom syscall and 128-bit integer arithmetic."""
    try:
        return _ids.pop()  # atomic: gateways in threads of one process (tests) never get the same id
    except IndexError:
        return _refill()


def _refill() -> str:
    """POOLED_IDS new ids from one urandom read, version and variant bits set in one pass; returns one of them."""
    size = _UUID_BYTES * POOLED_IDS
    text = ((int.from_bytes(os.urandom(size), "big") & _KEEP_BITS) | _SET_BITS).to_bytes(size, "big").hex()
    width = 2 * _UUID_BYTES
    _ids[:] = [text[start:start + width] for start in range(width, len(text), width)]
    return text[:width]


class Observe:
    """Pipeline step, first of all: request id, client address, then metrics, access log and journal."""

    def __init__(self, journal: Journal, events: Channel, journal_max_body: int = 64 * 1024, count: Count | None = None,
                 count_aborted: CountAborted | None = None, client_address: ClientAddress | None = None) -> None:
        self.journal = journal
        self.events = events
        self.max_body = journal_max_body  # a ring of 500 entries holding 10 MiB uploads each would hold 5 GiB
        self.count = count  # None: `metrics: false`, nothing counted
        self.count_aborted = count_aborted
        self.client_address = client_address  # None: the peer is the client

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        if self.client_address is not None:
            self.client_address.resolve(exchange.scope)
        request_id = exchange.request_id = request_id_for(exchange)
        try:
            response = await call_next(exchange)
        except ClientAborted as aborted:
            self.aborted(exchange, aborted)
            raise
        status = response.status
        seconds = time.perf_counter() - exchange.started
        own = exchange.scope["path"].startswith(OWN_PREFIX)  # not traffic, not journaled (the dashboard's polling would fill it)
        if self.count is not None:
            self.count(exchange, status, seconds, own)
        duration_ms = round(seconds * 1000, 2)
        now = time.time()  # one instant for the access line and the journal entry
        client = exchange.client_ip
        writer = access_log()
        if writer is not None:
            writer.write(access_fields(exchange, status, duration_ms, client), now)
        if not own and (self.journal.size or ExchangeFinished in self.events.listened):  # journal off, no feed: no entry
            self.keep(exchange, response, duration_ms, now, client)
        response.headers.append(("x-request-id", request_id))  # the journal holds this list: it shows there too
        return response

    def keep(self, exchange: Exchange, response: Response, duration_ms: float, now: float, client: str) -> None:
        """Into the request journal, and onto the live feed when someone listens. References only: JSON is built
        when the journal is read."""
        scope = exchange.scope
        operation = exchange.operation
        body = exchange.body_if_read
        if body is not None and len(body) > self.max_body:
            body = None
        parsed = exchange.request_json(body) if body and len(body) <= KEEP_PARSED else None  # verification reads it
        entry = Entry(self.journal.next_cursor(), exchange.request_id, now, scope["method"], scope["path"],
                      scope.get("query_string", b""), scope["headers"], client, response.status,
                      response.headers, operation.service if operation else None, operation.key if operation else None,
                      exchange.mode, exchange.source, duration_ms, exchange.notes, body, parsed)
        self.journal.add(entry)
        if ExchangeFinished in self.events.listened:
            self.events.publish(ExchangeFinished(entry))

    def aborted(self, exchange: Exchange, aborted: ClientAborted) -> None:
        """A request whose client left mid-body: nothing was forwarded, recorded or journaled; one line, one count."""
        operation = exchange.operation
        service = operation.service if operation is not None else exchange.service.name if exchange.service else ""
        log.warning("request aborted: %s %s: %s", exchange.method, exchange.path, aborted,
                    extra={"fields": {"request_id": exchange.request_id, "method": exchange.method, "path": exchange.path,
                                      "service": service, "received": aborted.received, "declared": aborted.declared,
                                      "client": exchange.client_ip}})
        if self.count_aborted is not None:
            self.count_aborted(service)


def access_fields(exchange: Exchange, status: int, duration_ms: float, client: str) -> dict[str, Any]:
    """One access log line's fields, tied to everything else by the request id."""
    scope = exchange.scope
    fields: dict[str, Any] = {"request_id": exchange.request_id, "method": scope["method"], "path": scope["path"],
                              "status": status, "duration_ms": duration_ms, "client": client}
    operation = exchange.operation
    if operation is not None:
        fields["service"] = operation.service
        fields["operation"] = operation.key
        fields["mode"] = exchange.mode
        fields["source"] = exchange.source
    notes = exchange.notes
    if notes:
        for key in LOGGED_NOTES:
            if key in notes:
                fields[key] = notes[key]
    return fields
