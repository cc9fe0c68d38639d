"""Streamed answers: SSE read by a real SSE client, JSON Lines and json-seq one value a line, and
live and record modes passing an upstream's stream through as it comes."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiohttp import web
from httpx_sse import EventSource, connect_sse
from jsonschema import Draft202012Validator

from gw.contract.streams import checked
from gw.core.port_check import free_port
from gw.mocker.streams import item_schema
from gw.settings.config import ConfigError
from tests.conftest import TEST_SPECS, GatewayThread, eventually, gateway_config, run_cli

STREAMS = TEST_SPECS / "streams.yaml"
COMPONENTS = yaml.safe_load(STREAMS.read_text())["components"]


def media_type(response: httpx.Response) -> str:
    """The Content-Type without parameters (a text type may say its charset)."""
    return response.headers["content-type"].split(";")[0].strip()


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": COMPONENTS})


@pytest.fixture(scope="module")
def streams() -> Iterator[GatewayThread]:
    with GatewayThread(gateway_config({"streams": {"spec": str(STREAMS), "base_path": "/"}})) as gateway:
        yield gateway


@pytest.fixture
def client(streams: GatewayThread) -> Iterator[httpx.Client]:
    with streams.client() as client:
        yield client


def test_sse_answer_is_several_events_each_valid_against_the_schema(client: httpx.Client) -> None:
    with connect_sse(client, "GET", "/ticks") as source:
        assert media_type(source.response) == "text/event-stream"
        assert source.response.headers["cache-control"] == "no-cache"
        assert "content-length" not in source.response.headers
        events = list(source.iter_sse())
    assert len(events) == 3
    for event in events:
        validator("Tick").validate(event.json())
    assert len({event.data for event in events}) > 1


def test_prefer_count_sets_how_many_events(client: httpx.Client) -> None:
    with connect_sse(client, "GET", "/ticks", headers={"Prefer": "count=7"}) as source:
        events = list(source.iter_sse())
    assert len(events) == 7
    for event in events:
        validator("Tick").validate(event.json())


def test_configured_events_per_stream(start_gateway: Callable[..., GatewayThread]) -> None:
    gateway = start_gateway({"streams": {"spec": str(STREAMS), "base_path": "/"}}, streams={"events": 5})
    with gateway.client() as client, connect_sse(client, "GET", "/messages") as source:
        assert len(list(source.iter_sse())) == 5


def test_a_bad_streams_setting_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^test: streams.events: must be between 0 and 1000$"):
        gateway_config({}, streams={"events": -1})


def test_sse_example_is_sent_as_written_with_its_done_terminator(client: httpx.Client) -> None:
    with connect_sse(client, "POST", "/completions") as source:
        data = [event.data for event in source.iter_sse()]
    assert data[-1] == "[DONE]"
    assert [json.loads(d)["choices"][0]["delta"]["content"] for d in data[:-1]] == ["Hel", "lo"]
    raw = client.post("/completions", headers={"Accept": "text/event-stream"})
    assert raw.text.startswith('data: {"id":"cmpl-1","choices":[{"delta":{"content":"Hel"}}]}\n\n')
    assert raw.text.endswith("\n\ndata: [DONE]\n\n")


def test_dynamic_generates_the_events_and_keeps_the_examples_terminator(client: httpx.Client) -> None:
    with connect_sse(client, "POST", "/completions", headers={"Prefer": "dynamic=true, count=4"}) as source:
        data = [event.data for event in source.iter_sse()]
    assert len(data) == 5 and data[-1] == "[DONE]"
    assert not any("cmpl-1" in d for d in data)  # generated from the schema (a string), not the example


def test_json_stays_the_default_where_sse_is_also_documented(client: httpx.Client) -> None:
    response = client.post("/completions")
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"id": "cmpl-1"}


def test_a_stream_flag_in_the_body_asks_for_the_sse_answer_as_openai_sdks_send_it(client: httpx.Client) -> None:
    accept_json = {"Accept": "application/json"}  # what the OpenAI and Anthropic SDKs send, streaming or not
    with client.stream("POST", "/chat/completions", json={"model": "m", "stream": True}, headers=accept_json) as streamed:
        assert media_type(streamed) == "text/event-stream"
        chunks = [event.json() for event in EventSource(streamed).iter_sse()]
    assert [chunk["object"] for chunk in chunks] == ["chat.completion.chunk"] * 3
    whole = client.post("/chat/completions", json={"model": "m", "stream": False}, headers=accept_json)
    assert whole.headers["content-type"] == "application/json" and whole.json()["object"] == "chat.completion"


def test_one_of_item_schema_takes_its_branches_in_turn_and_names_the_events(client: httpx.Client) -> None:
    with connect_sse(client, "GET", "/messages", headers={"Prefer": "count=4"}) as source:
        events = list(source.iter_sse())
    names = ["MessageStart", "ContentDelta", "MessageStop"]
    assert [event.event for event in events] == ["message_start", "content_block_delta", "message_stop", "message_start"]
    for index, event in enumerate(events):
        payload = event.json()
        validator(names[index % 3]).validate(payload)
        assert payload["type"] == event.event


def test_item_schema_describing_the_sse_event_is_framed_field_by_field(client: httpx.Client) -> None:
    with connect_sse(client, "GET", "/feed", headers={"Prefer": "count=4"}) as source:
        events = list(source.iter_sse())
    assert [event.event for event in events] == ["addJson", "addString", "addJson", "addString"]
    for event in events[::2]:
        validator("Tick").validate(event.json())
    for event in events[1::2]:
        assert len(event.data) >= 3
    assert all(event.retry is None for event in events)  # optional: never a generated reconnect delay


def test_events_are_sent_one_by_one_with_the_preferred_pause(client: httpx.Client) -> None:
    arrived = []
    with connect_sse(client, "GET", "/ticks", headers={"Prefer": "count=3, delay=250"}) as source:
        for _ in source.iter_sse():
            arrived.append(time.monotonic())
    assert len(arrived) == 3
    assert arrived[-1] - arrived[0] >= 0.4  # the first event was read before the last one was sent


def test_head_of_a_stream_is_its_head_at_once(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.head("/ticks", headers={"Prefer": "count=20, delay=500"})
    assert response.status_code == 200 and media_type(response) == "text/event-stream"
    assert response.content == b"" and "content-length" not in response.headers
    assert time.monotonic() - started < 5  # not the 9.5s the paced body would take


def test_ndjson_is_one_valid_value_a_line_read_as_it_comes(client: httpx.Client) -> None:
    with client.stream("GET", "/logs") as response:
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = [line for line in response.iter_lines() if line]
    assert len(lines) == 3
    for line in lines:
        validator("LogLine").validate(json.loads(line))


def test_jsonl_example_list_is_one_item_a_line(client: httpx.Client) -> None:
    response = client.get("/lines")
    assert response.headers["content-type"] == "application/jsonl"
    assert response.text == '{"level":"info","message":"started"}\n{"level":"warn","message":"slow"}\n'


def test_json_seq_records_are_rs_prefixed_and_lf_terminated(client: httpx.Client) -> None:
    response = client.get("/records")
    assert response.headers["content-type"] == "application/json-seq"
    records = response.content.split(b"\x1e")
    assert records[0] == b"" and len(records) == 4
    for record in records[1:]:
        assert record.endswith(b"\n")
        validator("Tick").validate(json.loads(record))


class SseUpstream:
    """An upstream sending SSE: the first event, then (once `gate` is set, at most 5s later) the rest."""

    EVENTS = (b'data: {"symbol":"ACME","price":10}\n\n', b'event: tick\ndata: {"symbol":"GLOBEX","price":20}\n\n',
              b"data: [DONE]\n\n")

    def __init__(self) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.gate = threading.Event()
        self.released: list[bool] = []  # per request: the client let the rest go (it had the first event)
        self.reader_gone = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def ticks(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        await response.write(self.EVENTS[0])
        self.released.append(await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 5))
        for event in self.EVENTS[1:]:
            await response.write(event)
        await response.write_eof()
        return response

    async def endless(self, request: web.Request) -> web.StreamResponse:
        """A feed that never ends by itself: an event every 20ms until the reader is gone."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            while True:
                await response.write(b'data: {"symbol":"ACME","price":10}\n\n')
                await asyncio.sleep(0.02)
        except (ConnectionError, asyncio.CancelledError):
            self.reader_gone.set()
        return response

    async def broken(self, request: web.Request) -> web.StreamResponse:
        """One event, then the connection dies mid-stream."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(self.EVENTS[0])
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()
        return response

    async def drift(self, request: web.Request) -> web.StreamResponse:
        """A valid event, one the contract refuses (symbol not in its enum), then [DONE]."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in (self.EVENTS[0], b'data: {"symbol":"NOPE","price":10}\n\n', self.EVENTS[2]):
            await response.write(event)
        await response.write_eof()
        return response

    async def drift_sized(self, _request: web.Request) -> web.Response:
        """The same events in one body with its length (read whole by the gateway)."""
        body = self.EVENTS[0] + b'data: {"symbol":"NOPE","price":10}\n\n' + self.EVENTS[2]
        return web.Response(body=body, headers={"Content-Type": "text/event-stream"})

    def __enter__(self) -> SseUpstream:
        app = web.Application()
        app.router.add_get("/ticks", self.ticks)
        app.router.add_get("/endless", self.endless)
        app.router.add_get("/broken", self.broken)
        app.router.add_get("/drift", self.drift)
        app.router.add_get("/drift-sized", self.drift_sized)
        self._runner = web.AppRunner(app, access_log=None)
        self._thread.start()
        port = int(self.url.rsplit(":", 1)[1])

        async def start() -> None:
            assert self._runner is not None
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", port).start()

        asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        return self

    def __exit__(self, *_: Any) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture
def sse_upstream() -> Iterator[SseUpstream]:
    with SseUpstream() as upstream:
        yield upstream


def read_releasing(client: httpx.Client, upstream: SseUpstream) -> tuple[httpx.Response, list[Any]]:
    """Read the stream; on the first event, let the upstream send the rest."""
    upstream.gate.clear()
    with connect_sse(client, "GET", "/ticks") as source:
        events = []
        for event in source.iter_sse():
            events.append(event)
            upstream.gate.set()
        return source.response, events


def test_live_mode_passes_an_upstream_stream_through_as_it_comes(
        start_gateway: Callable[..., GatewayThread], sse_upstream: SseUpstream) -> None:
    gateway = start_gateway({"streams": {"spec": str(STREAMS), "base_path": "/", "mode": "live",
                                         "upstream": sse_upstream.url}})
    with gateway.client() as client:
        response, events = read_releasing(client, sse_upstream)
    assert sse_upstream.released == [True]  # the client had the first event while the upstream held the rest
    assert [event.data for event in events][-1] == "[DONE]"
    assert events[1].event == "tick"
    assert response.headers["x-gw-source"] == "live"
    assert "x-gw-contract" not in response.headers


def test_a_client_leaving_a_live_stream_closes_the_upstream_feed(
        start_gateway: Callable[..., GatewayThread], sse_upstream: SseUpstream) -> None:
    gateway = start_gateway({"streams": {"spec": str(STREAMS), "base_path": "/", "mode": "live",
                                         "upstream": sse_upstream.url}})
    with gateway.client() as client, connect_sse(client, "GET", "/endless") as source:
        assert next(source.iter_sse()).json()["symbol"] == "ACME"
    assert sse_upstream.reader_gone.wait(5)


def test_an_upstream_stream_that_breaks_off_is_not_passed_on_as_complete(
        start_gateway: Callable[..., GatewayThread], sse_upstream: SseUpstream) -> None:
    gateway = start_gateway({"streams": {"spec": str(STREAMS), "base_path": "/", "mode": "live",
                                         "upstream": sse_upstream.url}})
    received = []
    with gateway.client() as client:
        with pytest.raises(httpx.TransportError), connect_sse(client, "GET", "/broken") as source:
            for event in source.iter_sse():
                received.append(event.json())
        assert [event["symbol"] for event in received] == ["ACME"]
        assert client.get("/_gw/health").status_code == 200


def test_the_validation_proxy_judges_each_event_as_it_passes(
        start_gateway: Callable[..., GatewayThread], sse_upstream: SseUpstream, caplog: pytest.LogCaptureFixture) -> None:
    gateway = start_gateway({"streams": {"spec": str(STREAMS), "base_path": "/", "mode": "live",
                                         "upstream": sse_upstream.url}})
    with caplog.at_level(logging.WARNING, logger="gw.contract"), gateway.client() as client, \
            connect_sse(client, "GET", "/drift") as source:
        data = [event.data for event in source.iter_sse()]
    assert len(data) == 3 and data[-1] == "[DONE]"  # the client still gets the upstream's answer, whole
    assert eventually(lambda: gateway.app.contract.violations[("streams", "drift")]) == 1
    logged = [r.fields for r in caplog.records if r.name == "gw.contract"]  # type: ignore[attr-defined]
    assert len(logged) == 1 and logged[0]["operation"] == "drift"
    assert any(v.startswith("event 2: symbol: 'NOPE' is not one of") for v in logged[0]["violations"])


def test_a_whole_sse_body_has_its_events_judged_before_it_goes_out(
        start_gateway: Callable[..., GatewayThread], sse_upstream: SseUpstream) -> None:
    gateway = start_gateway({"streams": {"spec": str(STREAMS), "base_path": "/", "mode": "live",
                                         "upstream": sse_upstream.url}})
    with gateway.client() as client:
        response = client.get("/drift-sized")
    assert response.headers["x-gw-contract"] == "violation"
    assert "event 2: symbol: 'NOPE' is not one of" in response.headers["x-gw-contract-reason"]
    assert response.text.endswith("data: [DONE]\n\n")


def test_a_strict_contract_cuts_a_stream_before_the_event_that_breaks_it(
        start_gateway: Callable[..., GatewayThread], sse_upstream: SseUpstream) -> None:
    gateway = start_gateway({"streams": {"spec": str(STREAMS), "base_path": "/", "mode": "live",
                                         "upstream": sse_upstream.url}}, contract={"strict": True})
    received = []
    with gateway.client() as client, pytest.raises(httpx.TransportError), \
            connect_sse(client, "GET", "/drift") as source:
        for event in source.iter_sse():
            received.append(event.json()["symbol"])
    assert received == ["ACME"]  # the breaking event is judged before it is passed on, and never is


def test_a_recorded_stream_keeps_the_events_that_broke_the_contract(
        start_gateway: Callable[..., GatewayThread], sse_upstream: SseUpstream, tmp_path: Path) -> None:
    gateway = start_gateway({"streams": {"spec": str(STREAMS), "base_path": "/", "mode": "record",
                                         "upstream": sse_upstream.url}}, stubs=str(tmp_path))
    with gateway.client() as client, connect_sse(client, "GET", "/drift") as source:
        assert len(list(source.iter_sse())) == 3
        stub_id = source.response.headers["x-gw-stub"].split("/", 1)[1]
    meta = yaml.safe_load((tmp_path / "streams" / f"{stub_id}.yaml").read_text())["meta"]
    assert meta["contract"]["ok"] is False
    assert any(v.startswith("event 2: symbol: 'NOPE'") for v in meta["contract"]["violations"])


def test_stubs_verify_judges_a_recorded_streams_events(tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text(f"services: {{streams: {{spec: {STREAMS}, base_path: /}}}}\n")
    folder = tmp_path / "stubs" / "streams"
    folder.mkdir(parents=True)
    body = 'data: {"symbol":"ACME","price":10}\n\ndata: {"symbol":"NOPE","price":10}\n\ndata: [DONE]\n\n'
    (folder / "ticks-1.yaml").write_text(yaml.safe_dump({
        "request": {"method": "GET", "path": "/ticks"}, "meta": {"operation": "ticks"},
        "response": {"status": 200, "headers": {"Content-Type": "text/event-stream"}, "body": body}}))
    result = run_cli("stubs", "verify", cwd=tmp_path, env={"COLUMNS": "300"})
    assert result.returncode == 1
    assert "ticks-1.yaml: ticks: event 2: symbol: 'NOPE' is not one of" in result.stderr


def test_record_mode_streams_and_the_stub_replays_as_a_stream(
        start_gateway: Callable[..., GatewayThread], sse_upstream: SseUpstream, tmp_path: Path) -> None:
    service = {"spec": str(STREAMS), "base_path": "/", "upstream": sse_upstream.url}
    recorder = start_gateway({"streams": {**service, "mode": "record"}}, stubs=str(tmp_path))
    with recorder.client() as client:
        response, recorded = read_releasing(client, sse_upstream)
    assert sse_upstream.released == [True]
    assert response.headers["x-gw-source"] == "live-recorded"
    stub = tmp_path / "streams" / f"{response.headers['x-gw-stub'].split('/', 1)[1]}.yaml"
    assert "data: [DONE]" in yaml.safe_load(stub.read_text())["response"]["body"]
    replayer = start_gateway({"streams": {**service, "mode": "stub"}}, stubs=str(tmp_path))
    with replayer.client() as client, connect_sse(client, "GET", "/ticks") as source:
        assert source.response.headers["x-gw-source"] == "recorded"
        assert "content-length" not in source.response.headers
        replayed = list(source.iter_sse())
    assert [(e.event, e.data) for e in replayed] == [(e.event, e.data) for e in recorded]
    assert len(replayed) == 3


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize(("kind", "body"), [
    ("sse", b'data: {"n":1}\n\n: a comment\n\nevent: x\ndata: {"n":2}\r\n\r\ndata: [DONE]\n\n'),
    ("lines", b'{"n":1}\n\n{"n":2}\n'),
    ("seq", b'\x1e{"n":1}\n\x1e{"n":2}\n'),
])
def test_events_are_judged_across_any_chunking_and_pass_on_unchanged(kind: str, body: bytes, strict: bool) -> None:
    judged: list[bytes] = []

    def judge(event: bytes) -> list[str]:
        judged.append(event)
        return []

    async def one_byte_at_a_time() -> AsyncIterator[bytes]:
        for index in range(len(body)):
            yield body[index:index + 1]

    async def read() -> bytes:
        return b"".join([chunk async for chunk in checked(one_byte_at_a_time(), kind, judge, print, strict)])

    assert asyncio.run(read()) == body
    text = b"".join(judged).decode()
    assert [json.loads(n) for n in re.findall(r'\{"n":\d\}', text)] == [{"n": 1}, {"n": 2}]
    assert len([e for e in judged if b'"n"' in e]) == 2  # one event each


def test_the_item_schema_is_the_declared_one_else_the_response_schema_or_its_items() -> None:
    item, whole = {"type": "object"}, {"type": "string"}
    assert item_schema({"itemSchema": item, "schema": whole}) is item  # OpenAPI 3.2
    assert item_schema({"x-sse-item": item, "schema": whole}) is item
    assert item_schema({"schema": {"type": "array", "items": item}}) is item
    assert item_schema({"schema": whole}) is whole
