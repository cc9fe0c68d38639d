"""The chaos step: delays and faults drawn per request, from the most specific level that sets them.

Levels, most specific first, each part (delay, fault) on its own: the request's `Prefer: delay=MS` /
`Prefer: fault=KIND`, a runtime switch for the operation, one for the service, the stub file that
answered (`response.delay` / `response.fault`), the operation's `chaos` in gateway.yaml, the service's.

Chaos acts on the answer on its way back, in every mode: the request is handled as usual (a stub
answers, the upstream is called), then the delay passes (an `asyncio.sleep`: other requests go on),
then a fault, drawn at its `rate`, replaces the answer. So a reset after a POST is the nasty case a
chaos run is for: the work was done, the client never heard. Delays are cut to `chaos.max_delay`.
On a streamed operation `Prefer: delay` keeps its meaning of a pause between events (mocker/streams.py).

Cheap when unused: the step is always in the pipeline (a runtime switch may arrive at any time), and a
request on a gateway with no chaos configured or switched pays one lookup in its header table and four flag checks
(measured: ~1 µs, well under 1 % of a stub GET).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from ..core.exchange import Exchange, Response
from ..core.fork_safe import own_random
from ..core.pipeline import Next
from ..core.problems import Problem
from ..mocker.negotiator import parse_prefer
from ..mocker.streams import Pacing, stream_kind
from ..settings.chaos import ChaosLimits, ChaosSettings, Delay, Fault, parse_fault
from ..settings.config import ServiceConfig
from ..settings.policy_settings import SettingsError, StreamSettings
from .faults import SOCKET_FAULTS_SET, socket_fault, status_fault
from .switches import ChaosSwitches

STUB_CHAOS = "stub_chaos"  # exchange.notes: the chaos of the stub file that answered (stubs/replay.py)
NOTE = "chaos"  # exchange.notes: what was injected, for the journal, the access log and the metrics
HEADER = "x-gw-chaos"


class Chaos:
    """Pipeline step, last before mode dispatch (the operation is known and its request validated)."""

    def __init__(self, services: Mapping[str, ServiceConfig], limits: ChaosLimits, streams: StreamSettings,
                 switches: ChaosSwitches) -> None:
        self.services = services
        self.limits = limits
        self.switches = switches
        self.rng = own_random(self.limits.seed or None)  # each forked worker draws its own faults
        self.pacing = Pacing(streams.events, streams.interval)
        self.configured = any(s.chaos is not None or any(o.chaos is not None for o in s.operations.values())
                              for s in services.values())

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        # the request's header table (made by the edge's first lookup): on almost every request there is no Prefer
        asked = self._asked(exchange) if self.limits.prefer and "prefer" in exchange.headers else None
        response = await call_next(exchange)
        stub = exchange.notes.get(STUB_CHAOS)
        if asked is None and stub is None and not self.switches.active and not self.configured:
            return response
        operation = exchange.operation
        assert operation is not None
        levels = [asked, self.switches.get(operation.service, operation.key), self.switches.get(operation.service, None),
                  stub, *configured_levels(self.services[operation.service], operation.key)]
        if asked is not None and asked.delay is not None and _streamed(response):
            levels[0] = ChaosSettings(None, asked.fault)  # Prefer: delay paces the stream's events instead
        delay, fault = effective(levels)
        return await self._inject(exchange, response, delay, fault)

    async def _inject(self, exchange: Exchange, response: Response, delay: Delay | None, fault: Fault | None) -> Response:
        injected: dict[str, Any] = {}
        if delay is not None and not delay.off:
            seconds = min(delay.draw(self.rng), self.limits.max_delay)
            await asyncio.sleep(seconds)
            injected["delay_ms"] = round(seconds * 1000, 1)
        if fault is not None and not fault.off and (fault.rate >= 1 or self.rng.random() < fault.rate):
            faulted = await self._fault(exchange, response, fault)
            if faulted is not None:
                response, injected["fault"] = faulted, fault.kind
                exchange.source = "chaos"
        if injected:
            exchange.notes[NOTE] = injected
            response.headers.append((HEADER, header_value(injected)))
        return response

    async def _fault(self, exchange: Exchange, response: Response, fault: Fault) -> Response | None:
        if fault.kind in SOCKET_FAULTS_SET:
            return await socket_fault(fault.kind, exchange, response, self.rng)
        answer = status_fault(exchange, fault, self.pacing)
        if answer is None:
            return None
        await response.close()
        answer.headers.append(("x-gw-source", "chaos"))
        return answer

    def _asked(self, exchange: Exchange) -> ChaosSettings | None:
        """`Prefer: delay=MS` and `Prefer: fault=KIND` (a status fault's status from `code=`), or None."""
        header = _prefer(exchange.scope["headers"])
        if header is None:
            return None
        prefs = parse_prefer(header)
        if prefs.delay is None and prefs.fault is None:
            return None
        return ChaosSettings(_preferred_delay(prefs.delay), _preferred_fault(prefs.fault, prefs.code))

    def effective(self, service: str, operation: str | None) -> ChaosSettings:
        """What applies to a service (or one operation) now, requests' Prefer and stub files aside."""
        levels = [self.switches.get(service, operation) if operation else None, self.switches.get(service, None),
                  *configured_levels(self.services[service], operation)]
        return ChaosSettings(*effective(levels))

    def summary(self, service: str) -> str:
        """For the dashboard: the service's chaos now, and how many operations have chaos of their own."""
        own = {key for key, o in self.services[service].operations.items() if o.chaos is not None}
        own |= {op for (name, op) in self.switches.table if name == service and op is not None}
        text = self.effective(service, None).describe()
        return text + (f" · own chaos on {len(own)} operation{'s' if len(own) != 1 else ''}" if own else "")


def header_value(injected: dict[str, Any]) -> str:
    """`delay=812ms, fault=status`: what the client met, for X-GW-Chaos."""
    parts = [f"delay={injected['delay_ms']:g}ms"] if "delay_ms" in injected else []
    return ", ".join([*parts, *([f"fault={injected['fault']}"] if "fault" in injected else [])])


def configured_levels(settings: ServiceConfig, operation: str | None) -> list[ChaosSettings | None]:
    """gateway.yaml's chaos for the operation, then for its service."""
    override = settings.operations.get(operation) if operation else None
    own = override.chaos if override is not None else None
    return [own, settings.chaos]


def effective(levels: list[ChaosSettings | None]) -> tuple[Delay | None, Fault | None]:
    """The delay and the fault of the most specific level that sets each."""
    delay = next((level.delay for level in levels if level is not None and level.delay is not None), None)
    fault = next((level.fault for level in levels if level is not None and level.fault is not None), None)
    return delay, fault


def _prefer(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The Prefer header(s), joined: a plain scan of the raw list (ASGI names are lower case), as a Headers lookup
    costs ~6x as much."""
    found = [value.decode("latin-1") for name, value in headers if name == b"prefer"]
    return ", ".join(found) if found else None


def _preferred_delay(value: str | None) -> Delay | None:
    if value is None:
        return None
    try:
        millis = float(value)
    except ValueError:
        millis = -1.0
    if not 0 <= millis < float("inf"):
        raise _refused(f"Prefer: delay={value}: expected milliseconds, such as delay=800")
    return Delay(millis / 1000)


def _preferred_fault(kind: str | None, code: str | None) -> Fault | None:
    if kind is None:
        return None
    status = int(code) if kind == "status" and code and code.isdigit() and 400 <= int(code) <= 599 else 0
    try:
        return parse_fault(kind, {"status": status} if status else None)
    except SettingsError as exc:
        raise _refused(f"Prefer: fault={kind}: {exc.reason}") from None


def _refused(detail: str) -> Problem:
    return Problem(422, detail=detail, title="Preferred chaos cannot be applied", slug="prefer-not-declared")


def _streamed(response: Response) -> bool:
    return not isinstance(response.body, bytes) and stream_kind(response.header("content-type")) is not None
