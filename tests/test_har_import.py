"""`gw stubs import` on a HAR recorded by a real headless Chromium against the sample gateway
(tests/fixtures/browser-session.har, made by tests/fixtures/make_har.py)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT, SPECS, GatewayThread, gateway_config, run_cli

HAR = ROOT / "tests" / "fixtures" / "browser-session.har"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA"


def gateway_entries() -> list[dict]:
    entries = json.loads(HAR.read_text())["log"]["entries"]
    return [e for e in entries if urlsplit(e["request"]["url"]).path.startswith(("/users/", "/orders/", "/cameras/"))]


def body_of(entry: dict) -> bytes:
    content = entry["response"]["content"]
    text = content.get("text", "")
    return base64.b64decode(text) if content.get("encoding") == "base64" else text.encode()


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    shutil.copytree(SPECS, tmp_path / "specs")
    shutil.copy(ROOT / "gateway.yaml", tmp_path / "gateway.yaml")
    result = run_cli("stubs", "import", str(HAR), cwd=tmp_path, env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_the_fixture_is_a_real_browser_session() -> None:
    creator = json.loads(HAR.read_text())["log"]["creator"]
    assert creator["name"].lower() in ("playwright", "chromium", "webinspector")
    assert len(gateway_entries()) >= 5


def test_every_gateway_request_of_the_session_becomes_a_stub(imported: Path) -> None:
    stubs = sorted(p.relative_to(imported / "stubs").as_posix() for p in (imported / "stubs").rglob("*.yaml"))
    services = {s.split("/")[0] for s in stubs}
    assert services == {"users", "orders", "cameras"}
    distinct = {(e["request"]["method"], e["request"]["url"]) for e in gateway_entries()}
    assert len(stubs) == len(distinct)


def test_imported_stubs_carry_no_secret(imported: Path) -> None:
    for file in (imported / "stubs").rglob("*"):
        if file.is_file():
            content = file.read_bytes()
            assert JWT.encode() not in content and b"hunter2-secret" not in content, file.name


def test_imported_stubs_answer_the_same_requests_with_the_recorded_bodies(imported: Path) -> None:
    config = gateway_config({name: {"spec": str(imported / "specs" / f"{name}.yaml")}
                             for name in ("users", "orders", "cameras")}, stubs=str(imported / "stubs"))
    with GatewayThread(config) as gateway, gateway.client() as client:
        for entry in gateway_entries():
            request = entry["request"]
            url = urlsplit(request["url"])
            headers = {h["name"]: h["value"] for h in request["headers"]
                       if h["name"].lower() in ("content-type", "prefer", "accept")}
            body = (request.get("postData") or {}).get("text")
            response = client.request(request["method"], url.path + (f"?{url.query}" if url.query else ""),
                                      headers=headers, content=body)
            assert response.status_code == entry["response"]["status"]
            assert response.headers["x-gw-source"] == "recorded", url.path
            assert json.loads(response.content) == json.loads(body_of(entry).decode())
