"""A gateway started without its HTTP client (aiohttp is imported only where a service has an upstream to reach:
gateway/forwarder/client.py) still forwards after a runtime switch to live, against a real `gw serve` process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import SPECS, GatewayProcess
from tests.upstream import UpstreamServer


def test_a_stub_service_with_an_upstream_switched_to_live_forwards_to_it(
        gw_process: Callable[..., GatewayProcess], upstream: UpstreamServer, tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text(
        f"services:\n  users:\n    spec: {SPECS / 'users.yaml'}\n    mode: stub\n    upstream: [{upstream.url}]\n")
    served = gw_process(cwd=tmp_path).wait_ready()
    with httpx.Client(base_url=served.url, timeout=10) as client:
        assert client.get("/users/users/1").headers["x-gw-source"] == "example"
        assert client.put("/_gw/api/services/users/mode", json={"mode": "live"}).status_code == 200
        answer = client.get("/users/users/1")
    assert answer.status_code == 200
    assert answer.headers["x-gw-source"] == "live"
    assert answer.json()["path"] == "/users/1"  # the upstream's echo: it really was forwarded


def test_a_stub_gateway_without_upstreams_switched_to_live_says_there_is_none(
        gw_process: Callable[..., GatewayProcess]) -> None:
    served = gw_process(str(SPECS / "users.yaml")).wait_ready()
    with httpx.Client(base_url=served.url, timeout=10) as client:
        assert client.put("/_gw/api/services/users/mode", json={"mode": "live"}).status_code == 200
        answer = client.get("/users/1")
    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "no upstream configured" in answer.json()["detail"]
    assert "Traceback" not in served.log()
