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

log = logging.getLogger("gw")

_SANE = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")
Count = Callable[[Exchange, int], None]  # the metrics' count of a finished exchange and its status
CountAborted = Callable[[str], None]  # the metrics' count of a request its client cut short, by service
OWN_PREFIX = "/_gw/"  # the gateway's own endpoints: not journaled (the dashboard polling them would fill it)
KEEP_PARSED = 8 * 1024  # request bodies up to this size keep their parsed JSON in the journal (parsed values take ~10x)
LOGGED_NOTES = ("upstream", "retries", "problem", "stub", "near_misses", "fallback_reason", "contract", "chaos")


def request_id_for(exchange: Exchange) -> str:
    """The client's id when it is sane (so one id follows a request across services), else a new one."""
    given = exchange.headers.get("x-request-id", "")
    return given if _SANE.match(given) else new_request_id()


def new_request_id() -> str:
    """A random UUID (version 4) as 32 hex digits, what `uuid.uuid4().hex` gives, without making the UUID
    object each request pays for."""
    value = int.from_bytes(os.urandom(16), "big")
    value = (value & ~(0xC000 << 48) | 0x8000 << 48) & ~(0xF000 << 64) | 0x4000 << 64  # RFC 4122 variant, version 4
    return f"{value:032x}"


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
        if self.count is not None:
            self.count(exchange, response.status)
        duration_ms = round((time.perf_counter() - exchange.started) * 1000, 2)
        writer = access_log()
        if writer is not None:
            writer.write(access_fields(exchange, response.status, duration_ms))
        if not exchange.scope["path"].startswith(OWN_PREFIX):
            self.keep(exchange, response, duration_ms)
        response.headers.append(("x-request-id", request_id))  # the journal holds this list: it shows there too
        return response

    def keep(self, exchange: Exchange, response: Response, duration_ms: float) -> None:
        """Into the request journal, and onto the live feed when someone listens. References only: JSON is built
        when the journal is read."""
        scope = exchange.scope
        operation = exchange.operation
        body = exchange.body_if_read
        if body is not None and len(body) > self.max_body:
            body = None
        parsed = exchange.request_json(body) if body and len(body) <= KEEP_PARSED else None  # verification reads it
        entry = Entry(self.journal.next_cursor(), exchange.request_id, time.time(), scope["method"], scope["path"],
                      scope.get("query_string", b""), scope["headers"], exchange.client_ip, response.status,
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


def access_fields(exchange: Exchange, status: int, duration_ms: float) -> dict[str, Any]:
    """One access log line's fields, tied to everything else by the request id."""
    fields: dict[str, Any] = {
        "request_id": exchange.request_id,
        "method": exchange.method,
        "path": exchange.path,
        "status": status,
        "duration_ms": duration_ms,
        "client": exchange.client_ip,
    }
    if exchange.operation is not None:
        fields.update(service=exchange.operation.service, operation=exchange.operation.key,
                      mode=exchange.mode, source=exchange.source)
    notes = exchange.notes
    for key in LOGGED_NOTES:
        if key in notes:
            fields[key] = notes[key]
    return fields
