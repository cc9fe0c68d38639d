"""One structured log line per request, with the request id that ties it to everything else."""

from __future__ import annotations

import logging
import time

from ..exchange import Exchange, Response
from ..pipeline import Next

log = logging.getLogger("gw.access")


class AccessLog:
    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        response = await call_next(exchange)
        if log.isEnabledFor(logging.INFO):
            fields = {
                "request_id": exchange.request_id,
                "method": exchange.method,
                "path": exchange.path,
                "status": response.status,
                "duration_ms": round((time.perf_counter() - exchange.started) * 1000, 2),
                "client": exchange.client_ip,
            }
            if exchange.operation is not None:
                fields.update(service=exchange.operation.service, operation=exchange.operation.key,
                              mode=exchange.mode, source=exchange.source)
            for key in ("upstream", "retries", "problem"):
                if key in exchange.notes:
                    fields[key] = exchange.notes[key]
            log.info("%s %s %s", exchange.method, exchange.path, response.status, extra={"fields": fields})
        return response
