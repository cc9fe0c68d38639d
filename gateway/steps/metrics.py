"""The one place that counts each finished exchange for Prometheus (gateway/metrics.py says what is counted).

It sits just inside RequestId, outside problem+json, so it sees every answer as the client gets it:
a refused request (400, 401, 429) as much as a stub or an upstream answer. When `metrics: false`
the app leaves this step out, and a request pays nothing for metrics.
"""

from __future__ import annotations

from ..exchange import Exchange, Response
from ..metrics import GatewayMetrics
from ..pipeline import Next


class ObserveMetrics:
    """Pipeline step: hand the exchange and its answer's status to the metrics once the answer is made."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.observe = metrics.observe

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        response = await call_next(exchange)
        self.observe(exchange, response.status)
        return response
