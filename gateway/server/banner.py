"""The start-up banner's operation list: what a client can call, as URLs to paste. With JSON logs the
banner, and the warnings before it, are log lines like the rest (`log_start`, `report_warning`)."""

from __future__ import annotations

import logging
from typing import Any

from ..core.logs import json_logs
from ..forwarder.instances import shown_as_written
from ..settings.config import GatewayConfig, mount_prefix
from ..spec.load import Service

log = logging.getLogger("gw")

LISTED = 20  # a service with more operations is summed up in one line (`gw routes` lists them)


def operation_lines(base_url: str, service: Service, limit: int = LISTED) -> list[str]:
    """One line per operation (method, URL, operation key) when there are at most `limit`; else a count."""
    operations = sorted(service.operations.values(), key=lambda op: (op.path, op.method))
    if len(operations) > limit:
        return [f"  {len(operations)} operations: `gw routes` lists them"]
    prefix = base_url.rstrip("/") + mount_prefix(service.base_path)
    width = max((len(op.method) for op in operations), default=0)
    urls = [f"{prefix}{op.path}" for op in operations]
    url_width = max((len(url) for url in urls), default=0)
    return [f"  {op.method.ljust(width)}  {url.ljust(url_width)}  {op.key if op.key != op.label else ''}".rstrip()
            for op, url in zip(operations, urls, strict=True)]


def log_start(config: GatewayConfig, services: dict[str, Service]) -> None:
    """The banner as one JSON log line: where the gateway listens and what each service serves."""
    listed: list[dict[str, Any]] = [
        {"name": name, "base_path": service.base_path, "mode": config.services[name].mode,
         "operations": len(service.operations), "upstream": [shown_as_written(u) for u in config.services[name].upstream]}
        for name, service in services.items()]
    log.info("gw serving on http://%s:%s", config.host, config.port, extra={"fields": {"services": listed}})


def report_warning(text: str) -> bool:
    """A warning of a gateway about to serve, as a log line when logs are JSON (True); False: the caller prints
    it for people. Errors that stop `gw serve` stay one plain line (`file: place: reason`), as every CLI error."""
    if not json_logs():
        return False
    log.warning(text)
    return True
