"""Journal step: every finished exchange into the request journal, and onto the live event feed.

It sits just inside the request id (so problem answers are journaled with their final status)
and pays for references only; JSON is built when the journal is read, and an event only when
someone listens. The gateway's own `/_gw/` endpoints are left out: the dashboard and
`gw journal --follow` polling them must not fill the journal with themselves.
"""

from __future__ import annotations

import time

from ..events import EventBus
from ..exchange import Exchange, Response
from ..journal import Entry, Journal
from ..pipeline import Next

OWN_PREFIX = "/_gw/"


class JournalStep:
    def __init__(self, journal: Journal, events: EventBus) -> None:
        self.journal = journal
        self.events = events

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        response = await call_next(exchange)
        scope = exchange.scope
        if scope["path"].startswith(OWN_PREFIX):
            return response
        notes = exchange.notes
        operation = exchange.operation
        entry = Entry(self.journal.next_cursor(), exchange.request_id, time.time(), scope["method"], scope["path"],
                      scope.get("query_string", b""), scope["headers"], exchange.client_ip, response.status,
                      response.headers, operation.service if operation else None, operation.key if operation else None,
                      exchange.mode, exchange.source, round((time.perf_counter() - exchange.started) * 1000, 2),
                      notes, exchange.body_if_read)
        self.journal.add(entry)
        if self.events.listeners:
            self.events.publish(entry.event())
        return response
