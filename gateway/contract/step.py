"""The validation proxy: every answer that came from an upstream is checked against the spec.

In live, record, fallback and spy modes the upstream's status, media type, headers and (when the
body was read whole) JSON body are judged by `contract.check_response`. A violation is logged with
the operation and the failing places, counted, and marked on the response (`X-GW-Contract:
violation` and `X-GW-Contract-Reason`); with `strict` the client gets a 502 problem+json instead,
for teams that want drift to fail their CI loudly. A JSON answer beyond the gateway's `json:` limits
(nested deeper than `max_depth`, a number longer than `max_number_digits`) cannot be judged at all:
always a 502 problem+json. An SSE / JSON Lines / json-seq body has each
event judged against the item schema (`stream_contract.py`): a streamed one as it passes, never
buffered (its violations are logged and counted; `strict` ends it before the breaking event).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping

from ..core.exchange import UPSTREAM_SOURCES, Exchange, Response
from ..core.pipeline import Next
from ..core.problems import Problem
from ..mocker.streams import stream_kind
from ..settings.policy_settings import ContractSettings
from .responses import Violation, check_response, mark_violation, report_violations, short_reason
from .streams import checked, event_checker, whole_stream_violations

log = logging.getLogger("gw.contract")



class ResponseContract:
    """Pipeline step after routing: judges upstream answers on their way back."""

    def __init__(self, contracts: Mapping[str, ContractSettings]) -> None:
        self.contracts = contracts  # service -> its effective `contract` block (its own, else the gateway's)
        self.violations: Counter[tuple[str, str]] = Counter()  # (service, operation) -> violating responses

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        response = await call_next(exchange)
        if exchange.source not in UPSTREAM_SOURCES or exchange.operation is None or exchange.service is None:
            return response
        settings = self.contracts[exchange.service.name]
        if not settings.check:
            return response
        violations = exchange.contract_violations
        content_type = response.header("content-type") or ""
        body = response.body if isinstance(response.body, bytes) else None  # streamed: status and headers only
        if violations is None:
            violations = check_response(exchange.service, exchange.operation, response.status, content_type, body,
                                        response.headers, response.body_json())
            if body is not None and stream_kind(content_type) is not None:  # an SSE / JSON Lines body read whole:
                violations += whole_stream_violations(exchange.service, exchange.operation, response.status,  # its events
                                                      content_type, body)  # judged now, with the rest
        if body is None:
            self._judge_events(exchange, response, content_type, settings.strict, counted=bool(violations))
        if not violations:
            return response
        self._report(exchange, response, violations)
        if any(v.uncheckable for v in violations):  # deeper than the JSON limits: not passed on unjudged, strict or not
            await response.close()
            raise Problem(502, title="Upstream answer cannot be checked", slug="upstream-answer-uncheckable",
                          detail=f"{exchange.operation.key}: {short_reason(violations)}",
                          extra={"operation": exchange.operation.key, "upstream_status": response.status})
        if settings.strict:
            await response.close()
            raise Problem(502, title="Upstream answer breaks the contract", slug="contract-violation",
                          detail=f"{exchange.operation.key}: {short_reason(violations)}",
                          extra={"operation": exchange.operation.key, "upstream_status": response.status,
                                 "violations": [{"where": v.where, "message": v.message} for v in violations]})
        mark_violation(response, violations)
        return response

    def _judge_events(self, exchange: Exchange, response: Response, content_type: str, strict: bool, counted: bool) -> None:
        """A streamed SSE / JSON Lines answer: each event judged as it passes (stream_contract.py), never held."""
        kind = stream_kind(content_type)
        if isinstance(response.body, bytes) or kind is None or exchange.operation is None or exchange.service is None:
            return
        judge = event_checker(exchange.service, exchange.operation, response.status, content_type)
        if judge is None:
            return
        seen = [counted]  # the answer counts once, whatever breaks the contract in it

        def report(violations: list[Violation]) -> None:
            if not any(seen):
                self.violations[(exchange.operation.service, exchange.operation.key)] += 1
            seen.append(True)
            exchange.notes.setdefault("contract", []).extend(str(v) for v in violations)
            log.warning("upstream stream breaks the contract: %s %s", exchange.operation.key, short_reason(violations),
                        extra={"fields": {"request_id": exchange.request_id, "service": exchange.operation.service,
                                          "operation": exchange.operation.key, "status": response.status,
                                          "violations": [str(v) for v in violations]}})

        response.body = checked(response.body, kind, judge, report, strict)

    def _report(self, exchange: Exchange, response: Response, violations: list[Violation]) -> None:
        report_violations(exchange, response, violations, "upstream answer", log, self.violations)

