"""Record mode against a real upstream: stubs written whole, secrets never on disk, replay faithful."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from gw.stubs import StubStore
from gw.stubs.persister import write_atomic
from tests.conftest import ROOT, TEST_SPECS, GatewayThread
from tests.upstream import UpstreamServer

ECHO = str(TEST_SPECS / "echo.yaml")
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA"
CARD = "4111 1111 1111 1111"
SECRETS = [JWT, "s3cret-passw0rd", "Basic dXNlcjpwYXNz", "sid=abc123session", "qk-991-secret", "rt-refresh-777",
           "4111111111111111", CARD, "sk_live_abcdefgh12345678"]


def recording(start_gateway: Callable[..., GatewayThread], stubs: Path, upstream: str, mode: str = "record",
              retries: int = 2) -> GatewayThread:
    return start_gateway({"echo": {"spec": ECHO, "mode": mode, "upstream": upstream, "retries": retries}},
                         stubs=str(stubs))


def send_secrets(client) -> list:
    return [
        client.put("/echo/items/5?q=lamp&api_key=qk-991-secret",
                   json={"name": "lamp", "password": "s3cret-passw0rd", "card": CARD,
                         "nested": {"refresh_token": "rt-refresh-777", "note": f"Bearer {JWT}"},
                         "stripe": "sk_live_abcdefgh12345678"},
                   headers={"Authorization": f"Bearer {JWT}", "Cookie": "sid=abc123session",
                            "Proxy-Authorization": "Basic dXNlcjpwYXNz"}),
        client.get("/echo/items/7?q=plain", headers={"Authorization": "Basic dXNlcjpwYXNz"}),
    ]


def test_recorded_stubs_never_contain_secrets(start_gateway, tmp_path: Path, upstream: UpstreamServer) -> None:
    stubs = tmp_path / "stubs"
    with recording(start_gateway, stubs, upstream.url).client() as client:
        responses = send_secrets(client)
    assert [r.status_code for r in responses] == [200, 200]
    assert JWT in responses[0].text  # the client got the live answer untouched
    files = [p for p in stubs.rglob("*") if p.is_file()]
    assert len(files) == 2
    for file in files:
        content = file.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in content, f"{secret} leaked into {file.name}"
    saved = yaml.safe_load(next(f for f in files if "putItem" in f.name).read_text())
    assert "request header authorization" in saved["meta"]["redactions"]
    assert "query api_key" in saved["meta"]["redactions"]
    assert saved["request"]["query"] == {"q": "lamp"}
    assert saved["request"]["body"]["$.name"] == "lamp"
    assert "$.password" not in saved["request"]["body"]


def test_replay_after_the_upstream_is_gone(start_gateway, tmp_path: Path, upstream_process) -> None:
    stubs = tmp_path / "stubs"
    upstream = upstream_process("recorded-upstream")
    with recording(start_gateway, stubs, upstream.url).client() as client:
        live_get = client.get("/echo/items/7?q=plain")
        live_put = client.put("/echo/items/9", json={"name": "chair"})
    upstream.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{upstream.url}/items/7")
    with recording(start_gateway, stubs, upstream.url, mode="stub").client() as client:
        replay_get = client.get("/echo/items/7?q=plain")
        replay_put = client.put("/echo/items/9", json={"name": "chair"})
        other = client.get("/echo/items/8?q=plain")
    for live, replay in ((live_get, replay_get), (live_put, replay_put)):
        assert replay.status_code == live.status_code
        assert replay.headers["content-type"] == live.headers["content-type"]
        assert replay.headers["x-upstream"] == live.headers["x-upstream"]
        assert replay.json()["path"] == live.json()["path"]
        assert replay.json()["instance"] == "recorded-upstream"
        assert replay.headers["x-gw-source"] == "recorded"
    assert other.headers["x-gw-source"] != "recorded"
    assert "path: expected" in other.headers["x-gw-near-miss"]


def test_same_request_twice_is_one_stub_and_a_changed_answer_updates_it(start_gateway, tmp_path: Path,
                                                                        upstream: UpstreamServer) -> None:
    stubs = tmp_path / "stubs"
    with recording(start_gateway, stubs, upstream.url).client() as client:
        first = client.get("/echo/flaky/a")
        second = client.get("/echo/flaky/a")  # the upstream counts hits: the body changes
        third = client.get("/echo/items/1")
        fourth = client.get("/echo/items/1")
    files = sorted(p.name for p in (stubs / "echo").iterdir())
    assert len(files) == 2
    assert first.json()["hits"] == 1 and second.json()["hits"] == 2
    saved = yaml.safe_load((stubs / "echo" / next(f for f in files if f.startswith("flakyGet"))).read_text())
    assert saved["response"]["body"]["hits"] == 2
    assert third.status_code == fourth.status_code == 200


def test_responses_that_break_the_contract_are_saved_and_flagged(start_gateway, tmp_path: Path,
                                                                 upstream: UpstreamServer) -> None:
    stubs = tmp_path / "stubs"
    with recording(start_gateway, stubs, upstream.url, retries=0).client() as client:
        client.get("/echo/flaky/broken?fail=1")  # the upstream answers 503, which echo.yaml does not declare
    saved = yaml.safe_load(next((stubs / "echo").iterdir()).read_text())
    assert saved["response"]["status"] == 503
    assert saved["meta"]["contract"]["ok"] is False
    assert "status 503 is not declared" in saved["meta"]["contract"]["violations"][0]


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "stub.yaml"
    target.write_text("request: {method: GET}\nresponse: {status: 200}\n")
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        import gw.stubs.persister as p
        real_fsync = os.fsync
        def dying_fsync(fd):
            os._exit(9)  # killed mid-write, after the temp file has its bytes, before the rename
        os.fsync = dying_fsync
        p.write_atomic(__import__("pathlib").Path({str(target)!r}), b"request: {{method: POST}}\\n" * 10000)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == 9
    assert target.read_text() == "request: {method: GET}\nresponse: {status: 200}\n"
    store = StubStore(tmp_path.parent, [tmp_path.name])
    assert [s.id for s in store.all()] == ["stub"] and store.errors == []


def test_concurrent_writers_of_one_stub_leave_a_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "same.yaml"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from gw.stubs.persister import write_atomic
        me = sys.argv[1]
        for i in range(200):
            write_atomic(Path({str(target)!r}), (f"writer: {{me}}\\n" + "x: " + me * 5000 + "\\n").encode())
    """)
    writers = [subprocess.Popen([sys.executable, "-c", script, name]) for name in "ab"]
    assert [w.wait(60) for w in writers] == [0, 0]
    content = target.read_text()
    writer = content.splitlines()[0].split(": ")[1]
    assert content == f"writer: {writer}\nx: {writer * 5000}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["same.yaml"]
    write_atomic(target, b"ok")
    assert os.path.getsize(target) == 2


def test_configured_redactions_add_to_the_defaults(start_gateway, tmp_path: Path, upstream: UpstreamServer) -> None:
    stubs = tmp_path / "stubs"
    gateway = start_gateway({"echo": {"spec": ECHO, "mode": "record", "upstream": upstream.url}}, stubs=str(stubs),
                            redact={"headers": ["X-Internal-Token"], "query": ["q"], "fields": ["name"],
                                    "patterns": [r"EMP-\d{6}"]})
    with gateway.client() as client:
        client.put("/echo/items/1?q=hidden-query", json={"name": "hidden-name", "note": "badge EMP-123456"},
                   headers={"X-Internal-Token": "hidden-token"})
    content = next((stubs / "echo").glob("*.yaml")).read_text()
    for secret in ("hidden-query", "hidden-name", "EMP-123456", "hidden-token"):
        assert secret not in content


def test_a_bad_redaction_setting_is_one_line(tmp_path: Path) -> None:
    from gw.settings.config import ConfigError, build_config

    with pytest.raises(ConfigError, match=r"redact.patterns\[0\]: bad regex"):
        build_config({"redact": {"patterns": ["(["]}}, "gateway.yaml")
    with pytest.raises(ConfigError, match=r"redact.header: unknown setting \(did you mean `headers`\?\)"):
        build_config({"redact": {"header": ["x"]}}, "gateway.yaml")


def test_record_versions_keeps_the_previous_answer_beside_the_stub(start_gateway, tmp_path: Path,
                                                                  upstream: UpstreamServer) -> None:
    stubs = tmp_path / "stubs"
    gateway = start_gateway({"echo": {"spec": ECHO, "mode": "record", "upstream": upstream.url}}, stubs=str(stubs),
                            record_versions=True)
    with gateway.client() as client:
        client.get("/echo/flaky/v")
        client.get("/echo/flaky/v")
    current = next((stubs / "echo").glob("*.yaml"))
    versions = list((stubs / "echo" / ".versions").glob("*.yaml"))
    assert yaml.safe_load(current.read_text())["response"]["body"]["hits"] == 2
    assert len(versions) == 1 and yaml.safe_load(versions[0].read_text())["response"]["body"]["hits"] == 1
    assert [s.id for s in StubStore(stubs, ["echo"]).all()] == [current.stem]
