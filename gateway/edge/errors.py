"""Turn whatever went wrong into an answer: a refusal the operation documents in the API's own shape
(error_answers.py), anything else problem+json; a traceback goes to the log, never to the client."""

from __future__ import annotations

import logging

from ..core.exchange import Exchange, Response
from ..core.pipeline import Next
from ..core.problems import Problem
from ..mocker.error_answers import documented_refusal, problem_line
from .aborted import ClientAborted

log = logging.getLogger("gw.errors")


class ProblemResponses:
    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        try:
            return await call_next(exchange)
        except Problem as problem:
            return _answer(exchange, problem)
        except ClientAborted:
            raise  # nobody to answer: the app logs and counts it (gateway/edge/aborted.py)
        except Exception:
            log.exception("unhandled error", extra={"request_id": exchange.request_id})
            exchange.notes.pop("problem", None)
            return _answer(exchange, Problem(500, detail=f"the gateway failed on this request; see its log for request "
                                                         f"id {exchange.request_id}", slug="gateway-error"))


def _answer(exchange: Exchange, problem: Problem) -> Response:
    """The documented answer or problem+json; the failure in one line in X-GW-Problem whatever the body's
    shape, and complete in the journal."""
    exchange.notes.setdefault("problem", problem.slug)
    exchange.notes.setdefault("problem_detail", problem.to_dict(exchange.path))
    response = _documented(exchange, problem) or Response.from_problem(problem, exchange.path)
    response.set_header("x-gw-problem", problem_line(problem))
    return response


def _documented(exchange: Exchange, problem: Problem) -> Response | None:
    """The refusal as the operation documents it; problem+json should the spec defeat that (logged, not sent)."""
    try:
        return documented_refusal(exchange, problem)
    except Exception:
        log.exception("documented error answer failed", extra={"request_id": exchange.request_id})
        return None
