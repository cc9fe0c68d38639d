"""Is the address free to listen on? Asked before the banner, so a taken port is one line, not a banner
followed by uvicorn's `[Errno 98]`.

The probe binds as uvicorn does (SO_REUSEADDR, every address the host name resolves to) and lets go at
once. Who holds the port is read from /proc (Linux): the listening socket's inode, then the process
with that socket open; where that cannot be seen (another user's process, another OS) the line says less.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

PROC = Path("/proc")


GIVEN_KEPT = 256  # ports this process handed out recently, never handed out again while remembered


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` now (the kernel's choice), for a server about to start: tests, bench, `gw contract`.
    Never one this process handed out among its last GIVEN_KEPT: the kernel may offer the same free port twice while
    neither server has bound it yet (a benchmark once started Prism and gw on one port, and checked Prism as gw).

    The one copy: the test suite, the benchmarks and the in-process gateway all take their ports here.
    """
    while True:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in _given:
            break
    _given[port] = None
    if len(_given) > GIVEN_KEPT:
        del _given[next(iter(_given))]  # the oldest: long bound by its server, or never used
    return port


_given: dict[int, None] = {}  # the ports handed out, oldest first


def listen_problem(host: str, port: int) -> str | None:
    """None when `host:port` can be listened on now, else one line saying why not and what to do."""
    try:
        addresses = {info[4][:2]: info[0] for info in
                     socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)}
    except (socket.gaierror, UnicodeError) as exc:
        return f"cannot listen on {host}: {getattr(exc, 'strerror', None) or exc}; pick another with --host"
    for address, family in addresses.items():
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
        except OSError as exc:
            return _describe(exc, host, port)
    return None


def _describe(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        holder = port_holder(port)
        by = f" (by pid {holder[0]}, {holder[1]})" if holder else ""
        return f"port {port} is in use{by}; pick another with --port"
    if exc.errno == errno.EACCES:
        return f"cannot listen on port {port}: permission denied (ports below 1024 need privileges); pick another with --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: not an address of this machine; pick another with --host"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def port_holder(port: int) -> tuple[int, str] | None:
    """(pid, command name) of the process listening on `port`, where /proc shows it; else None."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    return int(entry.name), (entry / "comm").read_text().strip()
        except OSError:
            continue  # gone, or not ours to look into
    return None


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets in LISTEN state (0A) on `port`, from /proc/net/tcp and tcp6."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes
