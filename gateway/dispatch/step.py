"""Mode dispatch: answer from stubs, or from the upstream, as the operation's mode says."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping

from ..contract.responses import check_response
from ..core.exchange import Exchange, Response
from ..core.json_once import JsonOnce
from ..core.problems import Problem
from ..forwarder import Forwarder
from ..forwarder.proxy import broke_off
from ..forwarder.upstream_errors import UpstreamError
from ..mocker import Mocker
from ..mocker.streams import stream_kind
from ..runtime.modes import ServiceModes
from ..simulation.simulator import Simulation
from ..stubs.recorder import Captured, Recorder, read_capped
from ..stubs.replay import near_miss_header

log = logging.getLogger("gw.record")

FALLBACK_STATUSES = frozenset({500, 502, 503, 504})


class ModeDispatch:
    """Where the pipeline ends (its terminal: nothing comes after it): picks the answer's source for the
    routed operation."""

    def __init__(self, modes: Mapping[str, ServiceModes], mocker: Mocker, forwarder: Forwarder,
                 recorder: Recorder | None = None, simulation: Simulation | None = None) -> None:
        self.modes = modes  # each service's modes now (gateway/runtime/modes.py: switched at runtime)
        self.mocker = mocker
        self.forwarder = forwarder
        self.recorder = recorder
        self.simulation = simulation  # stateful collections (`state:`); None when no service has them

    async def __call__(self, exchange: Exchange) -> Response:
        operation = exchange.operation
        assert operation is not None
        mode = exchange.mode = self.modes[operation.service].mode_for(operation.key)
        if mode == "stub":
            simulated = await self.simulation.answer(exchange, self.mocker.stubs) if self.simulation is not None else None
            response = simulated if simulated is not None else await self.mocker.answer(exchange)
        elif mode == "fallback":
            response = await self._fallback(exchange)
        elif mode == "spy":
            response = await self._spy(exchange)
        elif mode == "record":
            response = await self._record(exchange)
        else:
            response = await self.forwarder.forward(exchange)
            exchange.source = "live"
        response.headers.append(("x-gw-source", exchange.source))
        if "stub" in exchange.notes:
            response.headers.append(("x-gw-stub", exchange.notes["stub"]))
        elif "near_misses" in exchange.notes:
            response.headers.append(("x-gw-near-miss", near_miss_header(exchange.notes["near_misses"])))
        return response

    async def _record(self, exchange: Exchange) -> Response:
        """Live, and the exchange saved as a stub (redacted) before the client gets the answer."""
        response = await self.forwarder.forward(exchange)
        exchange.source = "live"
        if self.recorder is None:
            return response
        if not isinstance(response.body, bytes) and stream_kind(response.header("content-type")):
            return await self._record_stream(exchange, response, self.recorder)
        service, operation = exchange.service, exchange.operation
        assert service is not None and operation is not None
        try:
            chunks, rest = await read_capped(response, self.recorder.max_body)  # never more than record.max_body held
        except (UpstreamError, TimeoutError):  # cut by the upstream: a 502, nothing recorded
            raise broke_off(service.name) from None
        if rest is not None:
            return await self._record_oversized(exchange, response, chunks, rest, self.recorder)
        body = b"".join(chunks)
        del chunks
        parsed = JsonOnce(body)  # parsed once: for the contract check and the recording's redaction
        violations = check_response(service, operation, response.status, response.header("content-type") or "", body,
                                    dict(response.headers), parsed)
        exchange.contract_violations = violations  # judged once: the validation proxy step reuses the verdict
        if any(v.uncheckable for v in violations):  # beyond the JSON limits: never a stub (the client gets a 502)
            log.warning("not recorded: %s %s", operation.key, violations[0].message,
                        extra={"fields": {"request_id": exchange.request_id, "operation": operation.key}})
            return Response(response.status, [(k, v) for k, v in response.headers if k.lower() != "transfer-encoding"], body)
        captured = await Captured.from_exchange(exchange, response.status, response.headers, body, parsed)
        recorded = await asyncio.to_thread(self.recorder.save, service, operation, captured, [str(v) for v in violations])
        exchange.notes["stub"] = recorded.stub_id
        exchange.source = "live-recorded"
        headers = [(k, v) for k, v in response.headers if k.lower() != "transfer-encoding"]
        return Response(response.status, headers, body)

    async def _record_oversized(self, exchange: Exchange, response: Response, head: list[bytes],
                                rest: AsyncIterator[bytes], recorder: Recorder) -> Response:
        """An answer over `record.max_body` passes through as it comes, never held whole; its stub keeps the
        status and headers, and says why the body is not in it."""
        service, operation = exchange.service, exchange.operation
        assert service is not None and operation is not None
        violations = check_response(service, operation, response.status, response.header("content-type") or "", None,
                                    dict(response.headers))
        exchange.contract_violations = violations
        captured = await Captured.from_exchange(exchange, response.status, response.headers, b"")
        captured.not_recorded = recorder.over_limit()
        recorded = await asyncio.to_thread(recorder.save, service, operation, captured, [str(v) for v in violations])
        exchange.notes["stub"] = recorded.stub_id
        exchange.source = "live-recorded"

        async def passed_on() -> AsyncIterator[bytes]:
            while head:
                yield head.pop(0)
            async for chunk in rest:
                yield chunk

        headers = [(k, v) for k, v in response.headers if k.lower() != "transfer-encoding"]
        return Response(response.status, headers, passed_on(), on_close=response.close)

    async def _record_stream(self, exchange: Exchange, response: Response, recorder: Recorder) -> Response:
        """An SSE / JSON Lines answer passes through as it comes (never held back to be recorded);
        the stub is saved once the stream has ended, before the client sees its end."""
        service, operation = exchange.service, exchange.operation
        assert service is not None and operation is not None
        violations = check_response(service, operation, response.status, response.header("content-type") or "", None,
                                    dict(response.headers))
        exchange.contract_violations = violations  # status and headers: a stream is not buffered to be checked
        captured = await Captured.from_exchange(exchange, response.status, response.headers, b"")
        exchange.notes["stub"] = recorder.stub_id(service, operation, captured)
        exchange.source = "live-recorded"

        async def passed_on(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
            seen, size = [], 0
            async for chunk in chunks:
                if size <= recorder.max_body:  # what is kept of a long stream stays bounded
                    seen.append(chunk)
                    size += len(chunk)
                yield chunk
            captured.response_body = recorder.kept_of_stream(b"".join(seen), captured)
            # the head's verdict, and the events the validation proxy has judged on their way through
            found = list(dict.fromkeys([*map(str, violations), *exchange.notes.get("contract", [])]))
            await asyncio.to_thread(recorder.save, service, operation, captured, found)

        headers = [(k, v) for k, v in response.headers if k.lower() != "transfer-encoding"]
        return Response(response.status, headers, passed_on(response.body), on_close=response.close)

    async def _spy(self, exchange: Exchange) -> Response:
        """A recorded stub where one matches, the upstream otherwise (Hoverfly's spy)."""
        recorded = await self.mocker.stubs.answer(exchange) if self.mocker.stubs is not None else None
        if recorded is not None:
            exchange.source = "recorded"
            return recorded
        response = await self.forwarder.forward(exchange)
        exchange.source = "live"
        return response

    async def _fallback(self, exchange: Exchange) -> Response:
        """Live first; when the upstream fails (or every circuit is open), the stub answer, saying so and why."""
        try:
            response = await self.forwarder.forward(exchange)
        except Problem as problem:
            if problem.status not in FALLBACK_STATUSES:
                raise
            exchange.notes["fallback_reason"] = problem.slug
        else:
            if response.status not in FALLBACK_STATUSES:
                exchange.source = "live"
                return response
            await response.close()
            exchange.notes["fallback_reason"] = f"upstream-{response.status}"
        stubbed = await self.mocker.answer(exchange)
        exchange.notes["stub_source"] = exchange.source
        exchange.source = "stub-fallback"
        stubbed.headers.append(("x-gw-fallback-reason", exchange.notes["fallback_reason"]))  # e.g. circuit-open
        return stubbed

