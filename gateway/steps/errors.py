"""Turn whatever went wrong into problem+json; a traceback goes to the log, never to the client."""

from __future__ import annotations

import logging

from ..exchange import Exchange, Response
from ..pipeline import Next
from ..problems import Problem

log = logging.getLogger("gw.errors")


class ProblemResponses:
    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        try:
            return await call_next(exchange)
        except Problem as problem:
            exchange.notes.setdefault("problem", problem.slug)
            return Response.from_problem(problem, exchange.path)
        except Exception:
            log.exception("unhandled error", extra={"request_id": exchange.request_id})
            problem = Problem(500, detail=f"the gateway failed on this request; see its log for request id "
                                          f"{exchange.request_id}", slug="gateway-error")
            exchange.notes["problem"] = problem.slug
            return Response.from_problem(problem, exchange.path)
