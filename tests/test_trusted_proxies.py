"""trusted_proxies: whose X-Forwarded-For names the client, for rate limits, admin access, logs and upstreams.

The gateways here listen on 127.0.0.1 and trust only 127.0.0.1/32; a client that connects from
127.0.0.2 is an ordinary (untrusted) peer, one from 127.0.0.1 plays the proxy in front.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gw.app import build_app
from gw.core.exchange import Exchange
from gw.core.problems import Problem
from gw.edge.client_address import TrustedProxies, parse_networks
from gw.edge.observe import Observe
from gw.settings.config import ConfigError, build_config, load_config
from tests.conftest import OUTSIDER, SPECS, TEST_SPECS, GatewayThread, gateway_config
from tests.upstream import UpstreamServer

PROXY = "127.0.0.1"
USERS = {"users": {"spec": str(SPECS / "users.yaml"), "mode": "stub"}}
LIMITED = {"rate_limit": {"limit": 2, "window": "60s", "key": "ip"}, "trusted_proxies": ["127.0.0.1/32"]}


def proxies(*cidrs: str) -> TrustedProxies:
    return TrustedProxies(parse_networks(cidrs))


def statuses(client: httpx.Client, forwarded_for: list[str]) -> list[int]:
    return [client.get("/users/users/1", headers={"X-Forwarded-For": f}).status_code for f in forwarded_for]


def test_an_untrusted_peers_forwarded_for_is_ignored() -> None:
    assert proxies("10.0.0.0/8").client_for("192.0.2.7", ["203.0.113.9"]) == "192.0.2.7"


def test_the_client_is_the_right_most_address_that_is_not_trusted() -> None:
    chain = ["198.51.100.66, 203.0.113.9, 10.1.0.4"]  # spoofed by the client, the client, an inner proxy
    assert proxies("10.0.0.0/8").client_for("10.0.0.2", chain) == "203.0.113.9"


def test_repeated_forwarded_for_headers_read_as_one_chain() -> None:
    assert proxies("10.0.0.0/8").client_for("10.0.0.2", ["198.51.100.66", "203.0.113.9, 10.1.0.4"]) == "203.0.113.9"


def test_a_chain_of_trusted_hops_gives_its_left_most_address() -> None:
    assert proxies("10.0.0.0/8").client_for("10.0.0.2", ["10.9.9.9, 10.1.0.4"]) == "10.9.9.9"


def test_garbage_in_the_chain_stops_at_the_hop_that_handed_it_over() -> None:
    assert proxies("10.0.0.0/8").client_for("10.0.0.2", ["203.0.113.9, unknown, 10.1.0.4"]) == "10.1.0.4"


def test_ports_brackets_and_mapped_addresses_are_understood() -> None:
    trusted = proxies("10.0.0.0/8", "fd00::/8")
    assert trusted.client_for("::ffff:10.0.0.2", ["203.0.113.9:4711"]) == "203.0.113.9"
    assert trusted.client_for("fd00::1", ['"[2001:db8::5]:443"']) == "2001:db8::5"
    assert trusted.client_for("fd00::1", ["2001:db8::6"]) == "2001:db8::6"


def test_a_spoofed_forwarded_for_does_not_dodge_the_rate_limit(start_gateway: Callable[..., GatewayThread]) -> None:
    gateway = start_gateway(USERS, **LIMITED)
    with gateway.client(source=OUTSIDER) as client:
        answers = statuses(client, ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
    assert answers == [200, 200, 429]


def test_a_trusted_proxys_forwarded_for_names_the_client(start_gateway: Callable[..., GatewayThread]) -> None:
    gateway = start_gateway(USERS, **LIMITED)
    with gateway.client(source=PROXY) as proxy:
        first = statuses(proxy, ["198.51.100.1"] * 3)
        second = statuses(proxy, ["198.51.100.66, 198.51.100.2"] * 2)  # its own budget; the forged hop is ignored
    assert first == [200, 200, 429]
    assert second == [200, 200]


def test_upstreams_get_the_chain_with_the_proxy_appended_and_its_scheme(
        start_gateway: Callable[..., GatewayThread], upstream: UpstreamServer) -> None:
    echo = {"echo": {"spec": str(TEST_SPECS / "echo.yaml"), "mode": "live", "upstream": [upstream.url]}}
    gateway = start_gateway(echo, trusted_proxies=["127.0.0.1/32"])
    sent = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with gateway.client(source=PROXY) as proxy, gateway.client(source=OUTSIDER) as outsider:
        via_proxy = proxy.get("/echo/items/1", headers=sent).json()["headers"]
        direct = outsider.get("/echo/items/1", headers=sent).json()["headers"]
    assert via_proxy["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert via_proxy["x-forwarded-proto"] == "https"  # TLS ended at the trusted proxy
    assert direct["x-forwarded-for"] == "203.0.113.9, 127.0.0.2"  # passed on, the real peer appended
    assert direct["x-forwarded-proto"] == "http"


def test_several_forwarded_for_lines_are_one_chain(start_gateway: Callable[..., GatewayThread],
                                                   upstream: UpstreamServer) -> None:
    echo = {"echo": {"spec": str(TEST_SPECS / "echo.yaml"), "mode": "live", "upstream": [upstream.url]}}
    gateway = start_gateway(echo)
    with gateway.client(source=OUTSIDER) as outsider:
        seen = outsider.get("/echo/items/1", headers=[("X-Forwarded-For", "198.51.100.1"),
                                                      ("X-Forwarded-For", "203.0.113.9")]).json()["headers"]
    assert seen["x-forwarded-for"] == "198.51.100.1, 203.0.113.9, 127.0.0.2"


def admin_check(client: str, forwarded_for: str) -> None:
    """AdminAccess (default allow_from: loopback) for a request from `client` carrying that header."""
    app = build_app(gateway_config(USERS, trusted_proxies=["127.0.0.1/32"]))
    assert app.client_address is not None
    scope = {"type": "http", "method": "GET", "path": "/_gw/api/modes", "client": (client, 5000),
             "headers": [(b"x-forwarded-for", forwarded_for.encode())]}
    app.client_address.resolve(scope)
    asyncio.run(app.admin_access.check(Exchange(scope, _no_body)))


async def _no_body() -> dict[str, object]:
    return {"type": "http.request", "body": b""}


def test_a_client_behind_a_loopback_proxy_is_not_an_operator() -> None:
    admin_check(PROXY, "127.0.0.1")  # the proxy's own host, e.g. an operator's curl on it
    with pytest.raises(Problem) as refused:
        admin_check(PROXY, "203.0.113.9")
    assert refused.value.status == 403 and "203.0.113.9" in str(refused.value.detail)


def test_without_trusted_proxies_the_step_is_left_out() -> None:
    app = build_app(gateway_config(USERS))
    assert app.client_address is None
    assert not any(step.client_address for step in app.pipeline.steps if isinstance(step, Observe))  # resolves nothing


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "proxy.internal", ""])
def test_a_bad_network_is_one_config_line(bad: str) -> None:
    with pytest.raises(ConfigError) as error:
        build_config({"trusted_proxies": ["10.0.0.0/8", bad]}, "gateway.yaml")
    assert str(error.value).startswith("gateway.yaml: trusted_proxies[1]: ")
    assert "\n" not in str(error.value)


def test_trusted_proxies_come_from_the_environment_too(tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text("services: {}\n")
    config = load_config(tmp_path / "gateway.yaml", env={"GW_TRUSTED_PROXIES": "10.0.0.0/8,192.168.0.0/16"})
    assert config.trusted_proxies == ["10.0.0.0/8", "192.168.0.0/16"]
