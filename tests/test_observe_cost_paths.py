"""The cheaper ways the observe step pays for each request (gateway/edge/observe.py, core/logs.py, operator/metrics.py):
request ids from a pool that a forked worker never shares, access lines built from a cached head, label children
kept for a bounded number of label combinations."""

from __future__ import annotations

import io
import json
import os
import re
import threading

import pytest
from prometheus_client.exposition import generate_latest

from gw.core.exchange import Exchange
from gw.core.json_text import dump_json
from gw.core.logs import AccessLogWriter
from gw.edge import observe
from gw.operator import metrics as metrics_module
from gw.operator.metrics import GatewayMetrics

UUID4_HEX = re.compile(r"^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$")


def test_pooled_request_ids_are_distinct_uuid4s_across_refills() -> None:
    ids = [observe.new_request_id() for _ in range(3 * observe.POOLED_IDS + 7)]
    assert all(UUID4_HEX.match(made) for made in ids), [made for made in ids if not UUID4_HEX.match(made)][:3]
    assert len(set(ids)) == len(ids)


def test_gateways_in_threads_of_one_process_draw_distinct_ids_from_the_one_pool() -> None:
    drawn: list[list[str]] = [[] for _ in range(4)]

    def draw(into: list[str]) -> None:
        into.extend(observe.new_request_id() for _ in range(5 * observe.POOLED_IDS))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [made for into in drawn for made in into]
    assert len(ids) == 20 * observe.POOLED_IDS and len(set(ids)) == len(ids)
    assert all(UUID4_HEX.match(made) for made in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked only where fork exists")
def test_a_forked_worker_never_hands_out_the_ids_its_parent_holds() -> None:
    observe.new_request_id()  # the pool is full now, minus one: what a fork copies
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the worker
        try:
            os.close(reader)
            os.write(writer, json.dumps([observe.new_request_id() for _ in range(300)]).encode())
        finally:
            os._exit(0)
    os.close(writer)
    parent_ids = [observe.new_request_id() for _ in range(300)]
    with os.fdopen(reader, "rb") as pipe:
        child_ids = json.loads(pipe.read())
    os.waitpid(child, 0)
    assert len(child_ids) == 300 and all(UUID4_HEX.match(made) for made in child_ids)
    assert not set(child_ids) & set(parent_ids)


@pytest.mark.parametrize("fields", [
    {"request_id": "abc", "method": "GET", "path": "/café/ü", "status": 200, "duration_ms": 0.25, "client": "::1"},
    {"request_id": "x", "retries": 2**70, "problem": None, "near_misses": ["a: \"quoted\"\n"]},  # 2**70: the stdlib writes it
])
def test_a_json_access_line_is_the_one_object_it_always_was(fields: dict) -> None:
    stream = io.StringIO()
    writer = AccessLogWriter(stream, json_lines=True)
    now = 1_800_000_000.9996
    writer.write(fields, now)
    writer.write(fields, now + 0.5)  # another millisecond, another second: a new head each
    lines = stream.getvalue().splitlines()
    expected = [dump_json({"ts": ts, "level": "info", "logger": "gw.access", **fields}).decode()
                for ts in ("2027-01-15T08:00:00.999Z", "2027-01-15T08:00:01.499Z")]
    assert lines == expected


def exchange(status_source: str = "example") -> Exchange:
    async def receive() -> dict:
        return {"type": "http.request"}

    scope = {"type": "http", "method": "GET", "path": "/nowhere", "headers": [], "query_string": b""}
    return Exchange(scope, receive, mode="stub", source=status_source)


def test_label_children_are_kept_for_a_bounded_number_of_combinations_and_every_count_still_lands(monkeypatch) -> None:
    monkeypatch.setattr(metrics_module, "SERIES_KEPT", 2)
    counted = GatewayMetrics()
    statuses = [200, 201, 404, 500, 503]
    for status in statuses * 3:
        counted.observe(exchange(), status, 0.001, False)
    counted.observe(exchange("gateway"), 200, 0.001, False)  # answered by the gateway itself: not traffic
    counted.observe(exchange(), 200, 0.001, True)  # a request for /_gw/: not traffic
    assert len(counted._series) == 2
    text = generate_latest(counted.registry).decode()
    for status in statuses:
        assert f'gw_requests_total{{code="{status}",mode="stub",operation="",service="",source="example"}} 3.0' in text
    assert 'gw_request_duration_seconds_count{operation="",service=""} 15.0' in text
