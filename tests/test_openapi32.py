"""OpenAPI 3.2 documents are served (as the 3.1 they extend), and their own keywords are read where gw knows them."""

from __future__ import annotations

import json

from httpx_sse import connect_sse

from gw.spec.load import load_service
from tests.conftest import TEST_SPECS, GatewayThread, gateway_config

SPEC = TEST_SPECS / "openapi32_stream.yaml"


def test_a_32_document_loads_without_warnings_for_its_own_keywords() -> None:
    service = load_service("chat", SPEC, "/")
    assert service.openapi31
    assert [op.label for op in service.operations.values()] == ["GET /events"]
    assert service.warnings == []


def test_a_32_item_schema_streams_events_valid_against_it() -> None:
    with GatewayThread(gateway_config({"chat": {"spec": str(SPEC), "base_path": "/"}})) as gateway, \
            gateway.client() as client, connect_sse(client, "GET", "/events") as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        events = list(source.iter_sse())
    assert len(events) == 3
    for event in events:
        assert isinstance(json.loads(event.data)["n"], int)  # data is JSON by its contentSchema
