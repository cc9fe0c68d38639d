"""The start-up banner's operation list: what a client can call, as URLs to paste."""

from __future__ import annotations

from .config import mount_prefix
from .specs import Service

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
