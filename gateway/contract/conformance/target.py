"""What `gw contract` runs against, and the gateway configuration that serves it.

`stub` and `live` are the gateway itself, started in this process with every chosen service forced
to that mode; a URL is anything already running (a deployed gw, or an upstream given its spec).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ...settings.config import GatewayConfig


class ContractError(Exception):
    """A usage or configuration problem: one readable line, nothing was tested."""


@dataclass(frozen=True)
class Target:
    kind: str  # "stub" | "live" | "url"
    url: str = ""  # for kind "url": scheme://host[:port][/prefix], no trailing slash

    @classmethod
    def parse(cls, value: str) -> Target:
        if value in ("stub", "live"):
            return cls(value)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ContractError(f"--target: expected stub, live or an http(s) URL, got {value!r}")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ContractError(f"--target: {value!r} has a bad port") from None
        return cls("url", value.rstrip("/"))

    @property
    def in_process(self) -> bool:
        return self.kind != "url"

    def __str__(self) -> str:
        return self.url if self.kind == "url" else self.kind


def choose_services(config: GatewayConfig, names: list[str], target: Target) -> GatewayConfig:
    """A copy of `config` holding only the chosen services, forced to the target's mode.

    Per-operation mode overrides are dropped too: `--target stub` means every operation's answer
    comes from the stubs, `--target live` that every one comes from the upstream.
    """
    unknown = [name for name in names if name not in config.services]
    if unknown:
        raise ContractError(f"no service {unknown[0]!r}; services: {', '.join(config.services) or '(none)'}")
    services = {name: service for name, service in config.services.items() if not names or name in names}
    if not services:
        raise ContractError(f"{config.source}: no services to test")
    if target.in_process:
        for name, service in services.items():
            if target.kind == "live" and not service.upstream:
                raise ContractError(f"service {service.name} has no upstream: set services.{service.name}.upstream "
                                    f"or give --upstream URL")
            operations = {key: override.model_copy(update={"mode": None}) for key, override in service.operations.items()}
            services[name] = service.model_copy(update={"mode": target.kind, "operations": operations})
    return config.model_copy(update={"services": services, "reload": False, "workers": 1})  # settings stay frozen: a copy


def check_reachable(url: str, timeout: float = 3.0) -> None:
    """Refuse a URL target nobody listens on before generating a single case."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ContractError(f"--target {url}: cannot connect ({reason})") from None
