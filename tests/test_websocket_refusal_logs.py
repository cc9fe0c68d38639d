"""A WebSocket handshake gw refuses with an HTTP answer (problem+json, 401/404/409...) leaves gw's own info line and
no ERROR: uvicorn's websockets-sansio protocol logs "ASGI callable returned without completing handshake." after
every such refusal it sent correctly (uvicorn PR #3138), which would page anyone alerting on ERROR lines."""

from __future__ import annotations

import logging
import time

from tests.conftest import log_records
from tests.test_websockets import converse, services, ws_url
from tests.test_websockets import socket_upstream as socket_upstream  # the fixture


def test_a_refused_handshake_logs_no_error(start_gateway, socket_upstream) -> None:
    gateway = start_gateway(services(socket_upstream.url, mode="stub"))
    with (log_records("uvicorn.error", at_least=logging.ERROR) as errors,
          log_records("gw.websocket", level=logging.INFO) as refusals):
        assert converse(ws_url(gateway, "/chat/events"))["refused"] == 409
        assert converse(ws_url(gateway, "/chat/items/1"))["refused"] == 404
        time.sleep(0.3)  # uvicorn logs once the app has returned, just after the answer left
    assert [r.getMessage() for r in errors] == []
    assert refusals and all("websocket refused" in r.getMessage() for r in refusals)  # gw's own line says why
