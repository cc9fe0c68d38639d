"""The request journal: bounded, redacted when read, with near misses and their reasons, fed to the event bus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gw.operator.journal import Entry, Journal
from gw.stubs.redaction import Redactor
from tests.conftest import SPECS, GatewayThread

USERS = str(SPECS / "users.yaml")
ADMINS_ONLY = """\
request:
  method: GET
  path: /users
  query: {role: admin}
response:
  status: 200
  body: {items: [], total: 0, limit: 20, offset: 0}
meta: {operation: listUsers}
"""


def entry(cursor: int, service: str = "users", status: int = 200, **notes: object) -> Entry:
    return Entry(cursor, f"req-{cursor}", 1_700_000_000.0 + cursor, "GET", f"/users/users/{cursor}", b"token=abc&q=1",
                 [(b"authorization", b"Bearer secret"), (b"x-tenant", b"acme")], "127.0.0.1", status,
                 [("content-type", "application/json"), ("set-cookie", "sid=1")], service, "getUser", "stub",
                 "example", 1.5, dict(notes))


def test_the_journal_keeps_only_the_newest_entries() -> None:
    journal = Journal(size=3)
    for _ in range(5):
        journal.add(entry(journal.next_cursor()))
    entries, cursor = journal.recent()
    assert [e.cursor for e in entries] == [3, 4, 5]
    assert cursor == 5
    assert journal.find("req-1") is None and journal.find("req-4") is not None


def test_since_returns_what_came_after_oldest_first_and_a_cursor_to_go_on_from() -> None:
    journal = Journal(size=10)
    for _ in range(6):
        journal.add(entry(journal.next_cursor(), status=404 if journal.cursor % 2 else 200))
    first, cursor = journal.recent(limit=2, since=2)
    rest, cursor = journal.recent(limit=100, since=cursor)
    nothing, same = journal.recent(since=cursor)
    assert [e.cursor for e in first] == [3, 4]
    assert [e.cursor for e in rest] == [5, 6]
    assert nothing == [] and same == 6
    assert [e.status for e in journal.recent(status="4xx")[0]] == [404, 404, 404]
    assert [e.cursor for e in journal.recent(status="200", limit=2)[0]] == [4, 6]


def test_a_cursor_from_before_a_restart_starts_over() -> None:
    journal = Journal()
    journal.add(entry(journal.next_cursor()))
    entries, cursor = journal.recent(since=9000)
    assert [e.cursor for e in entries] == [1] and cursor == 1


def test_credentials_are_redacted_when_the_journal_is_read() -> None:
    detail = entry(1).detail(Redactor())
    assert detail["request"]["headers"] == {"authorization": "[REDACTED]", "x-tenant": "acme"}
    assert detail["request"]["query"] == {"token": ["[REDACTED]"], "q": ["1"]}
    assert detail["response"]["headers"]["set-cookie"] == "[REDACTED]"
    assert detail["ts"] == "2023-11-14T22:13:21.000Z"


def test_unmatched_requests_are_journaled_with_each_near_miss_and_its_reasons(
        start_gateway: Callable[..., GatewayThread], tmp_path: Path) -> None:
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "list-admins.yaml").write_text(ADMINS_ONLY)
    gateway = start_gateway({"users": {"spec": USERS}}, stubs=str(tmp_path), reload=False)
    with gateway.client() as client:
        missed = client.get("/users/users", params={"role": "viewer"}, headers={"X-Request-ID": "near-1",
                                                                              "Authorization": "Bearer abc.def"})
        matched = client.get("/users/users", params={"role": "admin"}, headers={"X-Request-ID": "hit-1"})
        listed = client.get("/_gw/api/journal").json()["entries"]
        near = client.get("/_gw/api/journal/near-1").json()
        hit = client.get("/_gw/api/journal/hit-1").json()
    assert "list-admins" in missed.headers["x-gw-near-miss"]
    assert matched.headers["x-gw-stub"] == "users/list-admins"
    assert near["near_misses"] == [{"stub": "users/list-admins", "reasons": ['query role: expected "admin", got "viewer"']}]
    assert near["stub"] is None and near["source"] in ("example", "generated")
    assert near["request"]["headers"]["authorization"] == "[REDACTED]"
    assert near["request"]["query"] == {"role": ["viewer"]}
    assert hit["stub"] == "users/list-admins" and hit["near_misses"] == [] and hit["source"] == "recorded"
    assert listed[0]["near_miss"].startswith("list-admins: query role")
    assert [e["id"] for e in listed] == ["near-1", "hit-1"]  # the admin calls themselves are not journaled


def test_each_exchange_is_published_as_an_event(start_gateway: Callable[..., GatewayThread]) -> None:
    gateway = start_gateway({"users": {"spec": USERS}}, reload=False)
    feed = gateway.app.events.subscribe()
    with gateway.client() as client:
        client.get("/users/users/abc", headers={"X-Request-ID": "evt-1"})
        client.get("/_gw/health")
    events = [feed._queue.get_nowait() for _ in range(feed._queue.qsize())]
    assert [e["type"] for e in events] == ["exchange"]
    event = events[0]
    assert set(event) == {"type", "id", "ts", "method", "path", "status", "service", "operation", "mode", "source",
                          "duration_ms", "stub", "near_misses", "contract"}
    assert (event["id"], event["method"], event["path"], event["status"]) == ("evt-1", "GET", "/users/users/abc", 400)
    assert (event["service"], event["operation"], event["stub"], event["contract"]) == ("users", "getUser", None, [])
    assert event["ts"].endswith("Z") and event["duration_ms"] > 0
