"""Several processes, one gateway: real nginx (deploy/nginx.conf) in front of two real `gw serve`
processes sharing one real redis-server, all on loopback.

The client talks to nginx from 127.0.0.2, so the gateways see nginx (127.0.0.1, a trusted proxy)
as their peer and must find the client in X-Forwarded-For. Shown here: the rate limit holds across
both processes exactly, a logout through either is honoured by both, and killing one process
mid-run loses no request nginx can retry.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import httpx
import pytest
import yaml

from gw.contract.conformance.process import stop_process_group
from gw.core.port_check import free_port
from tests.conftest import ROOT, SPECS, TEST_SPECS, GatewayProcess, RedisServer, eventually

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
CLIENT_ADDRESS = "127.0.0.2"  # any loopback address but nginx's own: the gateways must not trust it
SECRET = "a-several-processes-secret-of-32-bytes"
LIMIT = 10


def render_nginx_conf(listen_port: int, gw_ports: tuple[int, int]) -> str:
    """deploy/nginx.conf with the documented ports replaced: the test runs the shipped file, not a copy."""
    text = NGINX_CONF.read_text()
    edits = {
        "listen 8080;": f"listen 127.0.0.1:{listen_port};",
        "server 127.0.0.1:8001 ": f"server 127.0.0.1:{gw_ports[0]} ",
        "server 127.0.0.1:8002 ": f"server 127.0.0.1:{gw_ports[1]} ",
    }
    for placeholder, value in edits.items():
        assert text.count(placeholder) == 1, f"deploy/nginx.conf no longer has exactly one `{placeholder}`"
        text = text.replace(placeholder, value)
    return text


def nginx_binary() -> str:
    """nginx from PATH or Debian's /usr/sbin (not on a normal user's PATH); a clear failure without it."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.fail("nginx is not installed (.ci/run installs Debian's nginx-light)")
    return found


class Nginx:
    """A real nginx master in the foreground, as the current user, with everything under `prefix`."""

    def __init__(self, prefix: Path, gw_ports: tuple[int, int]) -> None:
        self.prefix = prefix
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = prefix / "nginx.conf"
        conf.write_text(render_nginx_conf(self.port, gw_ports))
        with (prefix / "error.log").open("w") as errors:
            self.proc = subprocess.Popen([nginx_binary(), "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
                                         stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
        self._wait_listening()

    def _wait_listening(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited {self.proc.returncode}: {self.errors()}")
            try:
                httpx.get(f"{self.url}/_gw/health", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen on {self.port}: {self.errors()}")

    def errors(self) -> str:
        return (self.prefix / "error.log").read_text()

    def access_log(self) -> list[dict[str, str]]:
        """nginx's log lines (deploy/nginx.conf's `gw` format) as dicts: request, status, upstream, ..."""
        entries = []
        for line in (self.prefix / "access.log").read_text().splitlines():
            request = re.search(r'"([^"]*)" (\d{3})', line)
            fields = dict(re.findall(r"(\w+)=([^\s,]+(?:, [^\s,]+)*)", line))
            if request:
                entries.append({"request": request[1], "status": request[2], **fields})
        return entries

    def stop(self) -> None:
        stop_process_group(self.proc)


@dataclass
class Gateway:
    """One `gw serve` process and its JSON log lines (drained as they come, so its pipe never fills)."""

    process: GatewayProcess
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        stream = self.process.follow()  # its stderr lines as they are written
        threading.Thread(target=lambda: self.lines.extend(stream), daemon=True).start()

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.process.port}"

    def access_entries(self, path_prefix: str) -> list[dict[str, object]]:
        """Its access log lines for paths under `path_prefix`."""
        entries = []
        for line in list(self.lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and str(entry.get("path", "")).startswith(path_prefix) and "status" in entry:
                entries.append(entry)
        return entries

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, connections just die (as when a node or container goes)."""
        os.killpg(self.process.proc.pid, signal.SIGKILL)
        self.process.proc.wait(10)


@dataclass
class Deployment:
    nginx: Nginx
    gateways: tuple[Gateway, Gateway]
    redis: RedisServer

    def client(self, **kwargs: object) -> httpx.Client:
        """A client that reaches nginx from CLIENT_ADDRESS (as a remote browser would, not as nginx's neighbour)."""
        transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
        return httpx.Client(base_url=self.nginx.url, transport=transport, timeout=10, **kwargs)


def write_gateway_yaml(folder: Path, redis_url: str) -> Path:
    """The one gateway.yaml both processes serve: stubbed services, Redis, nginx trusted, a user to log in."""
    password_hash = bcrypt.hashpw(b"wonderland", bcrypt.gensalt(rounds=4)).decode()
    config = {
        "redis_url": redis_url,
        "trusted_proxies": ["127.0.0.1/32"],
        "reload": False,
        "auth": {"jwt": {"secret": SECRET, "issuer": "gw-several", "access_ttl": "5m"},
                 "users": [{"username": "alice", "password_hash": password_hash, "roles": ["admin"]}]},
        "services": {
            "users": {"spec": str(SPECS / "users.yaml"), "mode": "stub",
                      "rate_limit": {"limit": LIMIT, "window": "60s", "key": "ip"}},
            "secured": {"spec": str(TEST_SPECS / "secured.yaml"), "mode": "stub"},
        },
    }
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def deployment(tmp_path: Path, redis_server: RedisServer,
               gw_process: Callable[..., GatewayProcess]) -> Iterator[Deployment]:
    """redis-server, two `gw serve` processes started side by side, and nginx in front of them."""
    nginx_binary()  # fail before starting anything when nginx is missing
    write_gateway_yaml(tmp_path, redis_server.url)
    started = [gw_process(cwd=tmp_path) for _ in range(2)]
    first, second = (Gateway(process.wait_ready()) for process in started)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    nginx = Nginx(prefix, (first.process.port, second.process.port))
    yield Deployment(nginx, (first, second), redis_server)
    nginx.stop()


def get_user(client: httpx.Client, spoofed: str) -> httpx.Response:
    return client.get("/users/users/1", headers={"X-Forwarded-For": spoofed})


def test_rate_limit_holds_across_both_processes_exactly(deployment: Deployment) -> None:
    with deployment.client() as client:
        # Each request claims another address: nginx appends the real one, and the gateways believe
        # only what their trusted proxy (nginx) saw.
        passed = [get_user(client, f"198.51.100.{n}") for n in range(LIMIT)]
        refused = get_user(client, "198.51.100.250")

    assert [r.status_code for r in passed] == [200] * LIMIT
    assert [r.headers["ratelimit-remaining"] for r in passed] == [str(n) for n in range(LIMIT - 1, -1, -1)]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60 // LIMIT

    served = eventually(lambda: [e for e in deployment.nginx.access_log() if "/users/users/1" in e["request"]],
                        lambda entries: len(entries) == LIMIT + 1)
    assert len(served) == LIMIT + 1
    assert {e["upstream"] for e in served} == {g.address for g in deployment.gateways}, "nginx used only one gw"
    per_gateway = eventually(lambda: [gateway.access_entries("/users/") for gateway in deployment.gateways],
                             lambda found: sum(map(len, found)) == LIMIT + 1)
    assert all(per_gateway), "each gw process served some of the requests"
    assert sum(map(len, per_gateway)) == LIMIT + 1
    assert {e["client"] for entries in per_gateway for e in entries} == {CLIENT_ADDRESS}


def test_logout_through_nginx_is_honoured_by_both_processes(deployment: Deployment) -> None:
    with deployment.client() as client:
        login = client.post("/_gw/auth/login", json={"username": "alice", "password": "wonderland"})
        assert login.status_code == 200, login.text
        token = {"Authorization": f"Bearer {login.json()['access_token']}"}
        for gateway in deployment.gateways:
            assert httpx.get(f"{gateway.url}/secured/items/1", headers=token).status_code == 200

        assert client.post("/_gw/auth/logout", headers=token).status_code == 204
        through_nginx = [client.get("/secured/items/1", headers=token) for _ in range(4)]

    assert [r.status_code for r in through_nginx] == [401] * 4
    assert all("token revoked" in r.headers["www-authenticate"] for r in through_nginx)
    refused = eventually(lambda: [e for e in deployment.nginx.access_log() if "/secured/items/1" in e["request"]],
                         lambda entries: len(entries) >= 4)
    assert {e["upstream"] for e in refused} == {g.address for g in deployment.gateways}, "both processes refused it"
    for gateway in deployment.gateways:  # and asked directly, each one says the same
        direct = httpx.get(f"{gateway.url}/secured/items/1", headers=token)
        assert direct.status_code == 401 and "token revoked" in direct.headers["www-authenticate"]


def test_killing_one_process_loses_no_request(deployment: Deployment) -> None:
    total, kill_after = 300, 100
    statuses: list[int] = []
    failures: list[str] = []
    halfway = threading.Event()

    def client_loop() -> None:
        with deployment.client() as client:
            for n in range(total):
                try:
                    statuses.append(client.get("/secured/public").status_code)
                except httpx.HTTPError as exc:
                    failures.append(f"request {n}: {exc!r}")
                if n + 1 == kill_after:
                    halfway.set()

    loop = threading.Thread(target=client_loop)
    loop.start()
    assert halfway.wait(30), "the client loop did not get going"
    survivor, victim = deployment.gateways
    victim.kill()
    loop.join(60)

    assert not loop.is_alive()
    assert failures == []
    assert len(statuses) == total and set(statuses) == {200}, f"not all 200: {sorted(set(statuses))}"
    log = eventually(lambda: [e for e in deployment.nginx.access_log() if "/secured/public" in e["request"]],
                     lambda entries: len(entries) == total)
    assert len(log) == total
    retried = [e for e in log if e["upstream"] == f"{victim.address}, {survivor.address}"]
    assert retried, "nginx never met the killed process (the kill came too late to prove anything)"
    assert all(e["status"] == "200" for e in retried)
    assert all(e["upstream"] == survivor.address for e in log[-10:]), "the survivor took over"
