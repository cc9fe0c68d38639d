"""Record mode against an upstream that echoes secrets everywhere: nothing of them reaches stubs/.

A real `gw serve` process records through a loopback upstream that echoes the request's secrets and
adds its own in every place a secret hides (headers, JSON in every spelling, form bodies, a Location
fragment and query, an octet-stream and a text side file, query parameters). Then every file under
stubs/ is searched for every planted value. A 30 MB answer is recorded with bounded memory, and the
temp files a killed recording leaves behind are swept when the gateway starts.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import yaml

from gw.stubs.redaction import Redactor
from tests.conftest import GatewayProcess, run_cli, threaded_server

PLANTED: dict[str, str] = {}


def plant(label: str) -> str:
    """A distinct secret value, easy to find on disk and matched by no value pattern on its own."""
    value = f"planted{len(PLANTED):02d}x{label.replace('_', '').replace('-', '')}Q7z"
    PLANTED[label] = value
    return value


# what the client sends
BEARER = plant("bearer")
COOKIE = plant("cookie")
API_KEY_HEADER = plant("x-api-key")
SESSION_HEADER = plant("x-session-token")
PROXY_AUTH = plant("proxy-auth")
CSRF = plant("x-csrf-token")
LOGIN = {"accessToken": plant("accessToken"), "refreshToken": plant("refreshToken"),
         "clientSecret": plant("clientSecret"), "idToken": plant("idToken"), "IdToken": plant("IdToken"),
         "api-key": plant("api-key"), "sessionId": plant("sessionId"), "password": plant("password"),
         "Access-Token": plant("Access-Token")}
FORM_REQUEST = {"client_secret": plant("form-client_secret"), "refresh_token": plant("form-refresh_token"),
                "password": plant("form-password"), "api_key": plant("form-api_key")}
QUERY = {"api_key": plant("q-api_key"), "access_token": plant("q-access_token"), "sessionId": plant("q-sessionId")}
DOWNLOAD_BEARER = plant("download-bearer")
REPORT_KEY = plant("report-key")
# what the upstream adds of its own
ANSWER = {"access_token": plant("a-access_token"), "refreshToken": plant("a-refreshToken"),
          "client_secret": plant("a-client_secret"), "id_token": plant("a-id_token"), "IdToken": plant("a-IdToken"),
          "apiKey": plant("a-apiKey"), "session_id": plant("a-session_id"),
          "auth": {"sessionToken": plant("a-sessionToken"), "Api-Key": plant("a-Api-Key")}}
FORM_ANSWER = {"access_token": plant("fa-access_token"), "refresh_token": plant("fa-refresh_token"),
               "id_token": plant("fa-id_token")}
LOCATION_FRAGMENT = plant("location-fragment")
LOCATION_QUERY = plant("location-query")
RESPONSE_HEADERS = {"X-Session-Token": plant("h-x-session-token"), "X-Partner-Api-Key": plant("h-partner-api-key"),
                    "X-Refresh-Token": plant("h-x-refresh-token")}
TEXT_PASSWORD = plant("text-password")
PACKED_BEARER = plant("packed-bearer")
PACKED_TOKEN = plant("packed-access_token")
BIG = 30 * 1024 * 1024

SPEC = """
openapi: 3.0.3
info: {title: leaky upstream, version: "1"}
paths:
  /login:
    post:
      operationId: login
      requestBody: {content: {application/json: {schema: {type: object}}}}
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
  /token:
    post:
      operationId: token
      requestBody: {content: {application/x-www-form-urlencoded: {schema: {type: object}}}}
      responses: {"200": {description: ok, content: {application/x-www-form-urlencoded: {schema: {type: object}}}}}
  /authorize:
    get:
      operationId: authorize
      responses: {"302": {description: back to the app}}
  /search:
    get:
      operationId: search
      parameters:
        - {name: q, in: query, schema: {type: string}}
        - {name: api_key, in: query, schema: {type: string}}
        - {name: access_token, in: query, schema: {type: string}}
        - {name: sessionId, in: query, schema: {type: string}}
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
  /download:
    get:
      operationId: download
      responses: {"200": {description: a file, content: {application/octet-stream: {schema: {type: string, format: binary}}}}}
  /report:
    get:
      operationId: report
      responses: {"200": {description: a long text, content: {text/plain: {schema: {type: string}}}}}
  /packed:
    get:
      operationId: packed
      responses: {"200": {description: gzip-compressed JSON, content: {application/json: {schema: {type: object}}}}}
  /events:
    get:
      operationId: events
      responses: {"200": {description: a long stream, content: {text/event-stream: {schema: {type: string}}}}}
  /big:
    get:
      operationId: big
      responses: {"200": {description: a big file, content: {application/octet-stream: {schema: {type: string, format: binary}}}}}
"""


class Leaky(BaseHTTPRequestHandler):
    """Echoes the request's secrets and adds its own, in every place a secret can hide."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _request_echo(self) -> dict[str, object]:
        length = int(self.headers.get("Content-Length") or 0)
        return {"headers": dict(self.headers.items()), "path": self.path,
                "body": self.rfile.read(length).decode("utf-8", "replace")}

    def do_POST(self) -> None:
        echo = self._request_echo()
        if self.path.startswith("/login"):
            body = json.dumps({"user": "alice", **ANSWER, "echo": echo, "request": json.loads(str(echo["body"]))})
            self._answer(200, "application/json", body.encode(), RESPONSE_HEADERS)
        else:
            pairs = [*FORM_ANSWER.items(), ("echo", str(echo["body"])), ("scope", "read")]
            self._answer(200, "application/x-www-form-urlencoded", urlencode(pairs).encode())

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/authorize":
            location = (f"https://app.example/callback?id_token={LOCATION_QUERY}&state=xyz"
                        f"#access_token={LOCATION_FRAGMENT}&token_type=bearer&expires_in=3600")
            self._answer(302, "text/plain", b"", {"Location": location, **RESPONSE_HEADERS})
        elif path == "/search":
            self._answer(200, "application/json", json.dumps({"results": [], "echo": self._request_echo()}).encode())
        elif path == "/download":
            token = self.headers.get("Authorization", "").split(" ", 1)[-1].encode()
            self._answer(200, "application/octet-stream", b"\x89PNG\x00\x01" + token + b"\x00\xff" * 64 + token)
        elif path == "/report":
            line = f"key={self.headers.get('X-Api-Key')} seen; password={TEXT_PASSWORD}; all good\n"
            self._answer(200, "text/plain", (line + "filler line of the report\n" * 4000).encode())
        elif path == "/packed":
            body = json.dumps({"seen": self.headers.get("Authorization"), "access_token": PACKED_TOKEN})
            self._answer(200, "application/json", gzip.compress(body.encode()), {"Content-Encoding": "gzip"})
        elif path == "/events":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            event = b"data: " + b"e" * 1000 + b"\n\n"
            for _ in range(3 * 1024):  # about 3 MiB of events
                self.wfile.write(event)
            self.close_connection = True
        elif path == "/big":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            block = b"0123456789abcdef" * 4096
            for _ in range(BIG // len(block)):
                self.wfile.write(block)
        else:
            self._answer(404, "text/plain", b"no")


@pytest.fixture(scope="module")
def leaky() -> Iterator[str]:
    with threaded_server(Leaky) as url:
        yield url


def project(folder: Path, upstream: str) -> Path:
    (folder / "leaky.yaml").write_text(SPEC)
    (folder / "gateway.yaml").write_text(yaml.safe_dump({"stubs": "stubs", "services": {
        "leaky": {"spec": "leaky.yaml", "base_path": "/", "mode": "record", "upstream": upstream}}}))
    return folder / "stubs"


def vm_hwm(pid: int) -> int:
    """The process's peak resident memory so far, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def record_everything(url: str) -> list[httpx.Response]:
    with httpx.Client(base_url=url, timeout=20, follow_redirects=False) as client:
        headers = {"Authorization": f"Bearer {BEARER}", "Cookie": f"session={COOKIE}; theme=dark",
                   "X-Api-Key": API_KEY_HEADER, "X-Session-Token": SESSION_HEADER,
                   "Proxy-Authorization": f"Basic {PROXY_AUTH}", "X-CSRF-Token": CSRF}
        return [
            client.post("/login", json={"username": "alice", **LOGIN}, headers=headers),
            client.post("/token", data={"grant_type": "refresh_token", **FORM_REQUEST}, headers=headers),
            client.get("/authorize", params={"client_id": "web"}, headers=headers),
            client.get("/search", params={"q": "lamp", **QUERY}),
            client.get("/download", headers={"Authorization": f"Bearer {DOWNLOAD_BEARER}"}),
            client.get("/report", headers={"X-Api-Key": REPORT_KEY}),
            client.get("/packed", headers={"Authorization": f"Bearer {PACKED_BEARER}", "Accept-Encoding": "gzip"}),
        ]


def stub_of(stubs: Path, operation: str) -> dict:
    files = list((stubs / "leaky").glob(f"{operation}-*.yaml"))
    assert len(files) == 1, files
    return yaml.safe_load(files[0].read_text())


def test_no_planted_secret_reaches_the_stubs_folder(tmp_path: Path, leaky: str,
                                                    gw_process: Callable[..., GatewayProcess]) -> None:
    stubs = project(tmp_path, leaky)
    gateway = gw_process(cwd=tmp_path).wait_ready()
    responses = record_everything(gateway.url)
    assert [r.status_code for r in responses] == [200, 200, 302, 200, 200, 200, 200]
    assert all(r.headers["x-gw-source"] == "live-recorded" for r in responses)
    assert LOCATION_FRAGMENT in responses[2].headers["location"]  # the client gets the live answer untouched
    assert DOWNLOAD_BEARER.encode() in responses[4].content
    assert len(PLANTED) >= 39

    files = [p for p in stubs.rglob("*") if p.is_file()]
    assert len(files) == 9  # seven stubs and two side files (octet-stream, long text)
    found = [(label, file.name) for file in files for label, value in PLANTED.items() if value.encode() in file.read_bytes()]
    assert found == []

    download = stub_of(stubs, "download")
    side = stubs / "leaky" / download["response"]["body_file"]
    assert side.read_bytes().startswith(b"\x89PNG\x00\x01[REDACTED]")  # scrubbed, the rest of the bytes kept
    assert "response body: a secret of the request" in download["meta"]["redactions"]  # and the note is true
    report = stub_of(stubs, "report")
    text = (stubs / "leaky" / report["response"]["body_file"]).read_text()
    assert text.startswith("key=[REDACTED] seen; password=[REDACTED]; all good")

    login = stub_of(stubs, "login")
    assert login["request"]["body"] == {"$.username": "alice"}  # the matcher keeps no secret field, no secret value
    for spelling in ("accessToken", "refreshToken", "clientSecret", "idToken", "IdToken", "api-key", "sessionId"):
        assert f"request body.{spelling}" in login["meta"]["redactions"]
        assert login["response"]["body"]["request"][spelling] == "[REDACTED]"
    assert login["response"]["body"]["auth"] == {"sessionToken": "[REDACTED]", "Api-Key": "[REDACTED]"}
    assert login["response"]["body"]["user"] == "alice"
    assert {"response header x-session-token", "response header x-partner-api-key"} <= set(login["meta"]["redactions"])

    token = stub_of(stubs, "token")
    answer = dict(parse_qsl(token["response"]["body"]))
    assert answer["access_token"] == "[REDACTED]" and answer["scope"] == "read"
    authorize = stub_of(stubs, "authorize")
    assert authorize["response"]["headers"]["Location"] == (
        "https://app.example/callback?id_token=[REDACTED]&state=xyz#access_token=[REDACTED]&token_type=bearer"
        "&expires_in=3600")
    packed = stub_of(stubs, "packed")  # a gzip answer is decoded, then scanned
    assert packed["response"]["body"] == {"seen": "[REDACTED]", "access_token": "[REDACTED]"}
    search = stub_of(stubs, "search")
    assert search["request"]["query"] == {"q": "lamp"}

    # the recorded stubs replay: the gateway still answers normally
    replay = httpx.get(f"{gateway.url}/_gw/health", timeout=5)
    assert replay.status_code == 200


def test_leftover_temp_files_are_swept_at_start_and_big_answers_are_recorded_with_bounded_memory(
        tmp_path: Path, leaky: str, gw_process: Callable[..., GatewayProcess]) -> None:
    stubs = project(tmp_path, leaky)
    folder = stubs / "leaky"
    (folder / ".versions").mkdir(parents=True)
    old = [folder / f".search-1a2b3c4d.yaml.k{i}x_ab12.tmp" for i in range(5)] + [
        folder / ".versions" / ".search-1a2b3c4d.yaml.20260101T000000.yaml.q9w8e7r6.tmp"]
    fresh = folder / ".login-00000000.yaml.zz99yy88.tmp"  # a write in flight in another process: left alone
    mine = folder / ".notes.tmp"  # not of our naming: left alone
    for file in [*old, fresh, mine]:
        file.write_bytes(b"half a stub")
    stamp = time.time() - 120
    for file in [*old, mine]:
        os.utime(file, (stamp, stamp))
    soon = time.time() + 60  # "just written", however long a loaded machine takes to start the gateway
    os.utime(fresh, (soon, soon))
    gateway = gw_process(cwd=tmp_path, env={"GW_RECORD__MAX_BODY": "2MiB"}).wait_ready()
    assert [file for file in old if file.exists()] == []
    assert fresh.exists() and mine.exists()

    assert httpx.get(f"{gateway.url}/search", params={"q": "warm"}, timeout=10).status_code == 200
    before = vm_hwm(gateway.proc.pid)
    with httpx.stream("GET", f"{gateway.url}/big", timeout=30) as response:
        size = sum(len(chunk) for chunk in response.iter_bytes())
    assert response.status_code == 200 and size == BIG  # the client gets all of it
    grown = vm_hwm(gateway.proc.pid) - before
    assert grown < 24 * 1024 * 1024, f"peak memory grew by {grown / 2**20:.0f} MiB for a 30 MiB answer"
    big = stub_of(stubs, "big")
    assert big["meta"]["not_recorded"].startswith("body over 2 MiB")
    assert "body" not in big["response"] and "body_file" not in big["response"]
    assert not list(folder.glob("big-*.body"))

    with httpx.stream("GET", f"{gateway.url}/events", timeout=30) as response:
        size = sum(len(chunk) for chunk in response.iter_bytes())
    assert size == 3 * 1024 * 1008  # the client gets the whole stream
    events = stub_of(stubs, "events")
    assert events["meta"]["truncated"].startswith("stream over 2 MiB")
    kept = (folder / events["response"]["body_file"]).read_bytes()
    assert len(kept) <= 2 * 1024 * 1024 and kept.endswith(b"\n\n") and kept.startswith(b"data: eee")
    assert httpx.get(f"{gateway.url}/search", params={"q": "after"}, timeout=10).status_code == 200


def test_har_import_scrubs_the_same_places(tmp_path: Path) -> None:
    """`gw stubs import` goes through the same redaction: a form answer and a binary answer echoing the token."""
    project(tmp_path, "http://127.0.0.1:9")
    token, refresh = plant("har-bearer"), plant("har-refresh")
    binary = base64.b64encode(b"\x00\x01" + token.encode() + b"\xff").decode()
    entries = [
        {"request": {"method": "GET", "url": "https://api.example/download",
                     "headers": [{"name": "Authorization", "value": f"Bearer {token}"}]},
         "response": {"status": 200, "headers": [{"name": "Content-Type", "value": "application/octet-stream"}],
                      "content": {"text": binary, "encoding": "base64"}}},
        {"request": {"method": "POST", "url": "https://api.example/token", "headers": [],
                     "postData": {"mimeType": "application/x-www-form-urlencoded", "text": f"refresh_token={refresh}"}},
         "response": {"status": 200, "headers": [{"name": "Content-Type", "value": "application/x-www-form-urlencoded"}],
                      "content": {"text": f"accessToken={refresh}x&scope=read"}}},
    ]
    har = tmp_path / "session.har"
    har.write_text(json.dumps({"log": {"entries": entries}}))
    result = run_cli("stubs", "import", str(har), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    files = [p for p in (tmp_path / "stubs").rglob("*") if p.is_file()]
    assert len(files) == 3
    assert not [f.name for f in files for secret in (token, refresh) if secret.encode() in f.read_bytes()]


def test_names_match_in_every_spelling_and_projects_extend_the_table() -> None:
    redactor = Redactor.for_spec({"partner": {"type": "apiKey", "in": "header", "name": "X-Partner"}},
                                 {"fields": ["member_number"], "query": ["tenant-code"]})
    for name in ("access_token", "accessToken", "Access-Token", "ACCESS_TOKEN", "refreshToken", "clientSecret",
                 "idToken", "IdToken", "api-key", "sessionId", "x-session-token", "memberNumber"):
        assert redactor.secret_field(name), name
    assert redactor.secret_header("X-Partner") and redactor.secret_header("X-Foo-Api-Key")
    assert redactor.secret_query("tenantCode") and redactor.secret_query("sig")
    for name in ("username", "token_type", "expires_in", "nextPageToken", "description", "author"):
        assert not redactor.secret_field(name), name
    applied: list[str] = []
    assert redactor.text("card 4111 1111 1111 1111, order 1234 5678 9012 3456", applied, "t") == (
        "card [REDACTED], order 1234 5678 9012 3456")  # the Luhn check keeps what is no card number
    assert applied == ["t: value like a card number"]
    assert redactor.text("from https://bob:hunter2@up.example/v1", applied, "source") == (
        "from https://[REDACTED]@up.example/v1")
