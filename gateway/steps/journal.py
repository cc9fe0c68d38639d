"""Journal step: every finished exchange into the request journal, and onto the live event feed.

It sits just inside the request id (so problem answers are journaled with their final status)
and pays for references only; JSON is built when the journal is read, and an event only when
someone listens. The gateway's own `/_gw/` endpoints are left out: the dashboard and
`gw journal --follow` polling them must not fill the journal with themselves.
"""

from __future__ import annotations

import time

from ..core.events import Channel, ExchangeFinished
from ..exchange import Exchange, Response
from ..journal import Entry, Journal
from ..pipeline import Next

OWN_PREFIX = "/_gw/"
KEEP_PARSED = 8 * 1024  # request bodies up to this size keep their parsed JSON in the journal (parsed values take ~10x)


class JournalStep:
    def __init__(self, journal: Journal, events: Channel, max_body: int = 64 * 1024) -> None:
        self.journal = journal
        self.events = events
        self.max_body = max_body  # a ring of 500 entries holding 10 MiB uploads each would hold 5 GiB

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        response = await call_next(exchange)
        scope = exchange.scope
        if scope["path"].startswith(OWN_PREFIX):
            return response
        notes = exchange.notes
        operation = exchange.operation
        body = exchange.body_if_read
        if body is not None and len(body) > self.max_body:
            body = None
        parsed = exchange.request_json(body) if body and len(body) <= KEEP_PARSED else None  # verification reads it
        entry = Entry(self.journal.next_cursor(), exchange.request_id, time.time(), scope["method"], scope["path"],
                      scope.get("query_string", b""), scope["headers"], exchange.client_ip, response.status,
                      response.headers, operation.service if operation else None, operation.key if operation else None,
                      exchange.mode, exchange.source, round((time.perf_counter() - exchange.started) * 1000, 2),
                      notes, body, parsed)
        self.journal.add(entry)
        if ExchangeFinished in self.events.listened:
            self.events.publish(ExchangeFinished(entry))
        return response
