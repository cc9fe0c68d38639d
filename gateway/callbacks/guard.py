"""The SSRF guard: a callback URL comes from a request (`{$request.body#/callbackUrl}`), so gw sends only
where `callbacks.allow` says, and judges where the name leads, not the name alone.

An entry is `*` (anywhere), a host name (`hooks.example.test`, `*.example.test`), an IP address or CIDR
(`10.0.0.0/8`, `::1`), each optionally with `:port` (`localhost:9000`, `[::1]:9000`, `127.0.0.1:9000`).
A URL is allowed when its host is a listed name, or when every address its host resolves to is in a listed
network (a name that resolves to a public address is refused however harmless it looks). Those checked
addresses are the ones the sender then connects to (`PinnedResolver`, pinned.py), so a second DNS answer cannot
swap in another (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from yarl import URL

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolve = Callable[[str, int], Awaitable[list[str]]]
_NAME = re.compile(r"(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class AllowEntry:
    """One `callbacks.allow` entry: any host, a name (or `*.suffix`), or a network; and a port or any."""

    name: str | None = None
    network: Network | None = None
    port: int | None = None
    anywhere: bool = False

    def allows_name(self, host: str, port: int) -> bool:
        if self.name is None or (self.port is not None and self.port != port):
            return False
        host = host.lower().rstrip(".")
        if self.name.startswith("*."):
            return host.endswith(self.name[1:])
        return host == self.name

    def allows_address(self, address: Address, port: int) -> bool:
        return self.network is not None and (self.port is None or self.port == port) and address in self.network


def parse_entry(entry: str) -> AllowEntry:
    """One allow-list entry, or ValueError saying what it should look like."""
    text = entry.strip()
    if text == "*":
        return AllowEntry(anywhere=True)
    network = _network(text)
    if network is not None:
        return AllowEntry(network=network)
    host, port = _split_port(text)
    network = _network(host.strip("[]"))
    if network is not None:
        return AllowEntry(network=network, port=port)
    if not _NAME.fullmatch(host):
        raise ValueError(f"{entry!r} is not a host, host:port, IP address or CIDR")
    return AllowEntry(name=host.lower().rstrip("."), port=port)


def _split_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):  # [::1]:9000
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r} is not a host, host:port, IP address or CIDR")
        return host, _port(rest[1:], text) if rest else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _port(port, text)
    return text, None


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return int(text)


def _network(text: str) -> Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is not part of it
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    return address


@dataclass(frozen=True)
class Verdict:
    """Whether a URL may be called; `addresses` are the checked ones to connect to (None: resolve freely)."""

    allowed: bool
    reason: str = ""
    addresses: tuple[str, ...] | None = None


_DNS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gw-callback-dns")  # slow lookups never take the loop's own


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, as the sender's own connection would find them. A callback URL comes
    from a request, so its lookups run on threads of their own: a name that takes seconds to fail cannot hold
    the event loop's default executor, which the gateway's own blocking work uses."""
    infos = await asyncio.get_running_loop().run_in_executor(
        _DNS, partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM))
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AllowList:
    """`callbacks.allow`, ready to judge URLs."""

    def __init__(self, entries: list[str], resolve: Resolve = system_resolve, timeout: float = 5.0) -> None:
        self.entries = [parse_entry(e) for e in entries]
        self.text = ", ".join(entries) or "nothing"
        self.resolve = resolve
        self.timeout = timeout

    async def judge(self, url: str) -> Verdict:
        """Parsed by yarl, as aiohttp will parse it to connect: no second parser to disagree about the host."""
        try:
            parts = URL(url)
            scheme, host, port = parts.scheme.lower(), parts.host, parts.port
        except (ValueError, TypeError) as exc:
            return Verdict(False, f"not a valid URL: {exc}")
        if scheme not in DEFAULT_PORTS:
            return Verdict(False, f"only http and https URLs are called, not {scheme or 'a relative URL'!r}")
        if not host:
            return Verdict(False, "the URL names no host")
        port = port or DEFAULT_PORTS[scheme]
        if any(e.anywhere or e.allows_name(host, port) for e in self.entries):
            return Verdict(True)
        literal = _address(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = await asyncio.wait_for(self.resolve(host, port), self.timeout)
            except (OSError, TimeoutError, UnicodeError) as exc:
                return Verdict(False, f"{host} cannot be resolved: {exc or 'timed out'}")
        return self._judge_addresses(host, port, addresses)

    def _judge_addresses(self, host: str, port: int, addresses: list[str]) -> Verdict:
        if not addresses:
            return Verdict(False, f"{host} resolves to no address")
        for text in addresses:
            address = _address(text)
            if address is None or not any(e.allows_address(address, port) for e in self.entries):
                target = f"{host}:{port}" if text == host.strip("[]") else f"{host}:{port} resolves to {text}, which"
                return Verdict(False, f"{target} is not in callbacks.allow ({self.text})")
        return Verdict(True, addresses=tuple(addresses))
