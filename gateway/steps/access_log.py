"""One structured log line per request, with the request id that ties it to everything else."""

from __future__ import annotations

import time

from ..exchange import Exchange, Response
from ..logs import access_log
from ..pipeline import Next


class AccessLog:
    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        response = await call_next(exchange)
        writer = access_log()
        if writer is not None:
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
            for key in ("upstream", "retries", "problem", "stub", "near_misses", "fallback_reason", "contract", "chaos"):
                if key in exchange.notes:
                    fields[key] = exchange.notes[key]
            writer.write(fields)
        return response
