"""`/_gw/metrics`: the gateway's metrics for Prometheus.

Open to any client that reaches the gateway, as Prometheus scrapers sit on the network and the
numbers hold no request data (operation keys and counts, upstream instances without credentials).
Restrict it at the reverse proxy where that is too much; `metrics: false` turns it off.
"""

from __future__ import annotations

import asyncio

from ...core.exchange import Exchange, Response
from ..metrics import GatewayMetrics


class MetricsEndpoint:
    """Answers a scrape; collecting runs in a thread (in multiprocess mode it reads every worker's files)."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    async def answer(self, exchange: Exchange) -> Response:
        body, content_type = await asyncio.to_thread(self.metrics.exposition, exchange.headers.get("accept"))
        return Response(200, [("content-type", content_type), ("cache-control", "no-store")], body)
