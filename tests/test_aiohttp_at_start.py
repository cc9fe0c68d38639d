"""aiohttp, the client of WebSocket pass-through and callbacks, is loaded at start only by a gateway that can use it
(forwarder/client.py); such a gateway, a real `gw serve` process, still relays a WebSocket and sends a callback.
(What each start imports is pinned in test_serve_start_imports.py; a live service forwards over gw's own client.)"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import SPECS, TEST_SPECS, GatewayProcess, free_port
from tests.test_callbacks import ORDER, Receiver, receiver  # noqa: F401  # the receiver fixture
from tests.test_websockets import SocketUpstream, converse


@pytest.fixture
def socket_upstream() -> Iterator[SocketUpstream]:
    server = SocketUpstream(free_port(), "ws").start()
    yield server
    server.stop()


def write_config(folder: Path, config: dict) -> Path:
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_a_gateway_process_passing_websockets_relays_one(gw_process: Callable[..., GatewayProcess],
                                                         socket_upstream: SocketUpstream, tmp_path: Path) -> None:
    write_config(tmp_path, {"services": {"chat": {
        "spec": str(TEST_SPECS / "echo.yaml"), "base_path": "/chat", "mode": "live", "upstream": socket_upstream.url,
        "websockets": ["/events"]}}})
    served = gw_process(cwd=tmp_path).wait_ready()
    result = converse(served.url.replace("http://", "ws://") + "/chat/events", "hello")
    assert result["hello"]["path"] == "/events"
    assert result["answers"] == ["ws:hello"]
    assert "Traceback" not in served.log()


def test_a_gateway_process_whose_spec_documents_callbacks_sends_one(gw_process: Callable[..., GatewayProcess],
                                                                     receiver: Receiver, tmp_path: Path) -> None:  # noqa: F811
    port = receiver.url.rsplit(":", 1)[1]
    write_config(tmp_path, {"services": {"orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders"}},
                            "callbacks": {"delay": "0ms", "allow": [f"127.0.0.1:{port}"]}})
    served = gw_process(cwd=tmp_path).wait_ready()
    answer = httpx.post(f"{served.url}/orders/orders", params={"callback_url": f"{receiver.url}/hooks/at-start"},
                        json=ORDER, timeout=10)
    got = receiver.wait_for("/hooks/at-start")
    assert answer.status_code == 201
    assert got.method == "POST"
    assert set(json.loads(got.body)) == {"order_id", "status", "at"}
    assert "Traceback" not in served.log()
