"""Sends callbacks and webhooks in the background, as the API's server would, and says what happened.

A send never touches the answer it follows: it runs as its own task after the delay, at most
`callbacks.concurrency` at once and `callbacks.max_pending` waiting (one more is dropped, not queued
without end), each bounded by `callbacks.timeout`. Every attempt (sent, refused by the allow-list, failed)
is one journal entry and one live-feed event (mode `callback` or `webhook`, path = the target URL), and one
log line. The receiver's answer is judged against the callback's documented responses: a mismatch is a
contract note on the entry, not an error (the receiver is the client's code, not the API).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..contract.responses import check_response
from ..core.events import CallbackSent, Channel
from ..forwarder import client
from ..operator.journal import Entry, Journal
from ..settings.callbacks import CallbackSettings
from ..spec.load import Service
from .guard import AllowList
from .payload import Payload
from .plan import Target

log = logging.getLogger("gw.callbacks")
MAX_ANSWER = 1024 * 1024  # bytes of a receiver's answer read to judge it; the rest is not awaited
USER_AGENT = "gw-callbacks"


@dataclass
class Outgoing:
    """One request to send: where, what, and on whose behalf (the request it follows, if any)."""

    service: Service
    target: Target
    url: str
    payload: Payload
    origin: str = ""  # the request id of the exchange it follows
    trusted: bool = False  # the operator named this URL (`gw webhook --to`): the allow-list does not apply
    reason: str = ""  # set when it cannot be sent at all (an expression naming nothing in the request)


@dataclass
class Outcome:
    """What became of one send."""

    outcome: str  # sent | refused | failed | dropped
    status: int = 0
    duration_ms: float = 0.0
    reason: str = ""
    contract: list[str] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        """One line for a person: `204 in 12 ms`, or why not."""
        if self.outcome == "sent":
            note = f" (not as documented: {self.contract[0]})" if self.contract else ""
            return f"{self.status} in {self.duration_ms:g} ms{note}"
        return f"{self.outcome}: {self.reason}"


class CallbackSender:
    """One per gateway (kept across reloads); `send` for one request now, `schedule` for later."""

    def __init__(self, settings: CallbackSettings, journal: Journal | None = None, events: Channel | None = None,
                 log_outcomes: bool = True) -> None:
        self.settings = settings
        self.log_outcomes = log_outcomes  # the CLI prints its one line instead
        self.allow = AllowList(settings.allow, timeout=settings.timeout)
        self.journal, self.events = journal, events
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._numbers = itertools.count(1)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def schedule(self, builders: list[Callable[[], Outgoing]], delay: float | None = None) -> None:
        """Build and send each after `delay` (the setting's by default) in the background; never raises.
        Building (URL, payload) happens in the background too, off the path of the answer it follows."""
        for build in builders:
            if len(self._tasks) >= self.settings.max_pending:
                self._record(build(), Outcome("dropped", reason=f"{self.settings.max_pending} callbacks are already "
                                                                f"pending (callbacks.max_pending)"))
                continue
            task = asyncio.get_running_loop().create_task(self._later(build, self.settings.delay if delay is None else delay))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _later(self, build: Callable[[], Outgoing], delay: float) -> None:
        url = "?"
        try:
            if delay:
                await asyncio.sleep(delay)
            outgoing = build()
            url = outgoing.url
            await self.send(outgoing)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must never reach the event loop's default handler as a traceback per request
            log.exception("callback to %s could not be sent", url)

    async def send(self, outgoing: Outgoing) -> Outcome:
        """Judge, send, time, check and record one request; the outcome, whatever happened."""
        async with self._slots:
            started = time.perf_counter()
            outcome = await self._attempt(outgoing)
            if not outcome.duration_ms:
                outcome.duration_ms = round((time.perf_counter() - started) * 1000, 2)
        self._record(outgoing, outcome)
        return outcome

    async def _attempt(self, outgoing: Outgoing) -> Outcome:
        if outgoing.reason:
            return Outcome("refused", reason=outgoing.reason)
        if not outgoing.payload.valid:
            return Outcome("refused", reason=f"no payload fits {outgoing.target.operation.key}'s request body schema")
        addresses = None
        if not outgoing.trusted:
            verdict = await self.allow.judge(outgoing.url)
            if not verdict.allowed:
                return Outcome("refused", reason=verdict.reason)
            addresses = verdict.addresses
        return await self._post(outgoing, addresses)

    async def _post(self, outgoing: Outgoing, addresses: tuple[str, ...] | None) -> Outcome:
        from .pinned import PinnedResolver  # aiohttp's: imported when a callback is first sent

        connector = client.TCPConnector(resolver=PinnedResolver(addresses) if addresses else None, force_close=True)
        headers = {"user-agent": USER_AGENT, "x-gw-callback": outgoing.target.name}
        if outgoing.origin:
            headers["x-request-id"] = outgoing.origin
        if outgoing.payload.content_type:
            headers["content-type"] = outgoing.payload.content_type
        timeout = client.ClientTimeout(total=self.settings.timeout)
        started = time.perf_counter()
        try:
            async with client.ClientSession(connector=connector, timeout=timeout, trust_env=False) as session, \
                    session.request(outgoing.target.operation.method, outgoing.url, headers=headers,
                                    data=outgoing.payload.body if outgoing.payload.media else None,
                                    allow_redirects=False) as answer:  # a redirect could lead past the allow-list
                body = await answer.content.read(MAX_ANSWER)
                duration = round((time.perf_counter() - started) * 1000, 2)
                answer_headers = [(k, v) for k, v in answer.headers.items()]
                status, media = answer.status, answer.headers.get("content-type", "")
        except TimeoutError:
            return Outcome("failed", reason=f"no answer within {self.settings.timeout:g}s (callbacks.timeout)")
        except (client.ClientError, OSError, ValueError) as exc:
            return Outcome("failed", reason=f"{type(exc).__name__}: {exc}")
        contract = [str(v) for v in check_response(outgoing.service, outgoing.target.operation, status, media, body,
                                                   {k.lower(): v for k, v in answer_headers})]
        return Outcome("sent", status, duration, contract=contract, headers=answer_headers)

    def _record(self, outgoing: Outgoing, outcome: Outcome) -> None:
        """One log line, one journal entry, one live-feed event."""
        target = outgoing.target
        detail = {"kind": target.kind, "name": target.name, "target": outgoing.url, "method": target.operation.method,
                  "outcome": outcome.outcome, "status": outcome.status or None, "duration_ms": outcome.duration_ms,
                  "reason": outcome.reason or None, "follows": outgoing.origin or None}
        fields = {"service": outgoing.service.name, "operation": target.operation.key, **detail}
        if not self.log_outcomes:
            pass
        elif outcome.outcome == "sent":
            log.info("%s %s %s: %s", target.kind, target.operation.method, outgoing.url, outcome.line(),
                     extra={"fields": {**fields, "contract": outcome.contract}})
        else:
            log.warning("%s %s %s %s", target.kind, target.operation.method, outgoing.url, outcome.line(),
                        extra={"fields": fields})
        if self.journal is None:
            return
        notes: dict[str, Any] = {"callback": detail}
        if outcome.contract:
            notes["contract"] = outcome.contract
        if outcome.reason:
            notes["problem_detail"] = outcome.reason
        content_type = outgoing.payload.content_type.encode("latin-1")
        entry = Entry(self.journal.next_cursor(), f"{outgoing.origin or 'gw'}-{target.kind}-{next(self._numbers)}",
                      time.time(), target.operation.method, outgoing.url, b"",
                      [(b"content-type", content_type)] if content_type else [], "gw", outcome.status,
                      outcome.headers, outgoing.service.name, target.operation.key, target.kind, outcome.outcome,
                      outcome.duration_ms, notes)
        self.journal.add(entry)
        if self.events is not None and CallbackSent in self.events.listened:
            self.events.publish(CallbackSent(entry, detail))

    async def close(self) -> None:
        """At shutdown: what has not been sent yet is not sent."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
