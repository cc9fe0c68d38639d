"""The `callbacks:` block of gateway.yaml."""

from __future__ import annotations

from pydantic import Field

from .types import Block, Duration, SettingsError, Strings

LOOPBACK = ["127.0.0.0/8", "::1/128"]


class CallbackSettings(Block):
    """Where and how gw sends callbacks (and webhooks fired through the admin API)."""

    enabled: bool = True  # false: operations' callbacks are never sent (nothing is added to the request walk)
    delay: Duration = 0.1  # seconds between the answer and its callbacks (`delay: 2s` to watch a UI wait for one)
    timeout: Duration = 5.0  # for each callback's whole exchange with its receiver
    concurrency: int = 8  # callbacks in flight at once; more wait their turn
    max_pending: int = 1000  # callbacks waiting or in flight; one more is dropped (logged and journaled)
    allow: Strings = Field(default_factory=lambda: list(LOOPBACK))  # host, host:port, *.suffix, IP or CIDR; `*`: any

    def rules(self) -> None:
        if not 0 <= self.delay <= 3600:
            raise SettingsError("delay", "must be between 0s and 1h")
        if not 0 < self.timeout <= 600:
            raise SettingsError("timeout", "must be more than 0s and at most 10m")
        if not 1 <= self.concurrency <= 1000:
            raise SettingsError("concurrency", "must be between 1 and 1000")
        if not 1 <= self.max_pending <= 100_000:
            raise SettingsError("max_pending", "must be between 1 and 100000")
        for index, entry in enumerate(self.allow if self.allow != LOOPBACK else []):  # the default needs no check
            reason = allow_entry_error(entry)
            if reason:
                raise SettingsError(f"allow[{index}]", reason)


def allow_entry_error(entry: str) -> str | None:
    """Why `entry` cannot be an allow-list entry, or None."""
    from ..callbacks.guard import parse_entry  # guard.py reads entries; settings only ask it

    try:
        parse_entry(entry)
    except ValueError as exc:
        return str(exc)
    return None


# What `gw init` writes about callbacks (commented out: the defaults shown).
INIT_EXAMPLE = """\
# OpenAPI callbacks: answered in stub mode, an operation with `callbacks` has gw send each one after its answer
# (URL from runtime expressions such as {$request.body#/callbackUrl}, body from the callback's schema or example).
# `gw webhook SERVICE NAME --to URL` fires a 3.1 `webhooks` entry. The defaults:
# callbacks:
#   delay: 100ms             # after the answer, before the callback (2s: watch a UI wait for it)
#   timeout: 5s              # for each callback's whole exchange with its receiver
#   concurrency: 8           # callbacks in flight at once; max_pending: 1000 waiting at most
#   allow: [127.0.0.0/8, ::1/128]   # where callbacks may go (checked on the resolved addresses): host, host:port,
#                            # *.suffix, IP or CIDR, or "*" for anywhere. Default: loopback only (no SSRF)"""
