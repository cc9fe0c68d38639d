"""Who is the client? The TCP peer, unless the peer is a proxy we trust to tell us.

Behind nginx, a load balancer or a Kubernetes ingress every request's TCP peer is the proxy, so
rate limits (`key: ip`), `admin.allow_from`, failed-login counts and logs would all see one
address. `trusted_proxies` names the networks whose `X-Forwarded-For` the gateway believes. The
client is then the right-most address in that chain that is not itself trusted (each trusted
hop appended the address it saw, so everything right of the first untrusted entry is vouched
for; anything left of it may be forged by the client). A peer outside those networks gets its
`X-Forwarded-For` ignored: spoofing a header does not change who you are.

Resolved first thing by the observe step (edge/observe.py), and only when `trusted_proxies` is set: with none,
a request pays nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.exchange import CLIENT_IP

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_SCHEMES = {b"http": ("http", "ws"), b"https": ("https", "wss")}  # one value, as nginx's `$scheme` sends


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The CIDRs as networks (host bits allowed: `10.1.2.3/8` means 10.0.0.0/8); ValueError on a bad one."""
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def parse_address(text: str) -> IPAddress | None:
    """One X-Forwarded-For entry as an address; proxies that add ports (`1.2.3.4:80`, `[::1]:80`) included."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's ::ffff:10.0.0.1 is 10.0.0.1
    return address


class TrustedProxies:
    """The networks whose X-Forwarded-For is believed, and the walk that finds the client."""

    def __init__(self, networks: Sequence[IPNetwork]) -> None:
        self.networks = tuple(networks)

    def trusts(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)

    def trusts_peer(self, peer: str) -> bool:
        address = parse_address(peer)
        return address is not None and self.trusts(address)

    def client_for(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """The client address for a request from `peer` carrying these X-Forwarded-For header values.

        Walk the chain from the right while each hop is trusted; the first untrusted entry is the
        client. An entry that is not an address stops the walk at the hop that handed it over (we
        cannot vouch for garbage); a chain of only trusted hops gives its left-most entry.
        """
        client = parse_address(peer)
        if client is None or not self.trusts(client):
            return peer
        for entry in reversed(_entries(forwarded_for)):
            address = parse_address(entry)
            if address is None:
                break
            client = address
            if not self.trusts(address):
                break
        return str(client)


def _entries(values: Sequence[str]) -> list[str]:
    """Every hop of the chain, in order, across repeated X-Forwarded-For headers."""
    return [entry for value in values for entry in value.split(",") if entry.strip()]


class ClientAddress:
    """Resolves the client address once per request, for every later step (exchange.client_ip)."""

    def __init__(self, proxies: TrustedProxies) -> None:
        self.proxies = proxies

    @classmethod
    def for_cidrs(cls, cidrs: Sequence[str]) -> ClientAddress | None:
        """The resolver for these networks, or None when there are none (nothing to resolve: the peer is the client)."""
        return cls(TrustedProxies(parse_networks(cidrs))) if cidrs else None

    def resolve(self, scope: dict[str, Any]) -> None:
        """Record the client address in the ASGI scope (HTTP and WebSocket alike), and the scheme the
        client used when a trusted proxy terminated TLS (so X-Forwarded-Proto upstream stays `https`)."""
        client = scope.get("client")
        peer = client[0] if client else ""
        headers = scope.get("headers", ())
        forwarded = [value.decode("latin-1") for name, value in headers if name == b"x-forwarded-for"]
        scope[CLIENT_IP] = self.proxies.client_for(peer, forwarded) if forwarded else peer
        proto = next((value for name, value in headers if name == b"x-forwarded-proto"), None)
        if proto in _SCHEMES and self.proxies.trusts_peer(peer):
            scope["scheme"] = _SCHEMES[proto][scope["type"] == "websocket"]
