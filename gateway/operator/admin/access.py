"""Who may operate the gateway: the admin API, the dashboard and its live feed.

Three ways in, any one suffices: the client's address is in `admin.allow_from` (default loopback
only, so a gateway bound to 0.0.0.0 is not operable from the network by default); it presents the
configured `admin.key` in `X-GW-Admin-Key`; or it presents a verified token carrying the `admin`
role. Everyone else gets a 403 problem+json that says which of the three would do.
"""

from __future__ import annotations

import hmac

from ...auth.schemes import Missing
from ...auth.setup import Auth
from ...core.admin_headers import KEY_HEADER
from ...core.exchange import Exchange
from ...core.problems import Problem
from ...edge.client_address import parse_address, parse_networks
from ...settings.env_refs import expand_env
from ...settings.policy_settings import AdminSettings

ADMIN_ROLE = "admin"


class AdminAccess:
    """`await access.check(exchange)` returns quietly for operators and raises 403 for anyone else."""

    def __init__(self, settings: AdminSettings, auth: Auth, source: str = "gateway.yaml") -> None:
        self.networks = parse_networks(settings.allow_from)
        self.key = expand_env(settings.key, source, "admin.key") if settings.key else ""
        self.bearer = auth.bearer if auth.verifier is not None else None  # presence alone proves no role

    def address_allowed(self, address: str) -> bool:
        ip = parse_address(address)  # also reads a dual-stack socket's ::ffff:127.0.0.1 as 127.0.0.1
        return ip is not None and any(ip in network for network in self.networks)

    async def check(self, exchange: Exchange) -> None:
        if self.address_allowed(exchange.client_ip):
            return
        given = exchange.headers.get(KEY_HEADER, "")
        if self.key and given and hmac.compare_digest(given.encode(), self.key.encode()):
            return
        if self.bearer is not None and exchange.headers.get("authorization"):
            try:
                identity = await self.bearer.admit(exchange)
            except (Missing, Problem):
                identity = None
            if identity is not None and ADMIN_ROLE in identity.roles:
                exchange.identity = identity
                return
        raise Problem(403, title="Not an operator", slug="admin-forbidden",
                      detail=f"{exchange.client_ip or 'this client'} is not in admin.allow_from; present "
                             "X-GW-Admin-Key or a token with the admin role")
