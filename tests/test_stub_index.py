"""The stub store's per-operation index: a request judges only the stubs that can match it (an exact path other
than its own never does), yet the answer and the near misses are those of judging every stub; the index is
made once per change of the stubs, and every change (a recording, a reload, the admin API, a deletion) is
answered at once, also after the operation's example answer has been cached."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gw.stubs.format import Stub, stub_from_data
from gw.stubs.matchers import RequestView, judge
from gw.stubs.store import NEAR_MISSES, StubStore
from tests.conftest import SPECS, GatewayThread, gateway_config


def make(index: int, request: dict[str, Any], scenario: dict[str, str] | None = None) -> Stub:
    data: dict[str, Any] = {"request": request, "response": {"status": 200, "body": {"n": index}}, **(scenario or {})}
    stub = stub_from_data(data, Path(f"/nowhere/s{index:03}.yaml"), "users")
    stub.order = index
    return stub


def judged_one_by_one(stubs: list[Stub], request: RequestView) -> tuple[str | None, list[str]]:
    """What a lookup answers, worked out by judging every stub in turn (the store's rule, written out)."""
    best, chosen, misses = None, None, []
    for stub in stubs:
        verdict = judge(stub, request)
        if verdict.matched:
            rank = (verdict.score, -stub.order)
            if best is None or rank > best:
                best, chosen = rank, stub
        elif stub.method == request.method or verdict.total > 1:
            misses.append((verdict.score / verdict.total, stub, verdict))
    if chosen is not None:
        return chosen.id, []
    misses.sort(key=lambda item: (-item[0], item[1].order))
    return None, [f"{stub.id}: {'; '.join(verdict.reasons)}" for _, stub, verdict in misses[:NEAR_MISSES]]


def random_stubs(rng: random.Random) -> list[Stub]:
    stubs = []
    for index in range(rng.randint(1, 14)):
        request: dict[str, Any] = {"method": rng.choice(["GET", "GET", "POST"])}
        shape = rng.random()
        if shape < 0.6:
            request["path"] = f"/users/{rng.randint(1, 4)}"
        elif shape < 0.8:
            request["path"] = {"regex": f"^/users/[{rng.randint(1, 3)}-4]$"}
        if rng.random() < 0.4:
            request["query"] = {"verbose": rng.choice(["true", "false"])}
        if rng.random() < 0.3:
            request["headers"] = {"X-Tenant": rng.choice(["acme", "globex"])}
        stubs.append(make(index, request))
    return stubs


def test_a_lookup_answers_as_judging_every_stub_would() -> None:
    rng = random.Random(15)
    store = StubStore(Path("/nowhere-at-all"), ["users"])
    for _ in range(300):
        stubs = random_stubs(rng)
        store.replace({"users": stubs}, [])
        for _ in range(6):
            query = rng.choice([b"", b"verbose=true", b"verbose=false"])
            headers = [(b"x-tenant", rng.choice([b"acme", b"globex"]))] if rng.random() < 0.5 else []
            view = RequestView(rng.choice(["GET", "POST"]), f"/users/{rng.randint(1, 5)}", query_string=query,
                               raw_headers=headers)
            match = store.lookup("users", view)
            found = (match.stub.id if match.stub else None, [miss.line() for miss in match.near_misses])
            assert found == judged_one_by_one(stubs, view)


def test_every_change_of_the_store_is_seen_by_the_next_lookup(tmp_path: Path) -> None:
    store = StubStore(tmp_path, ["users"])
    one = RequestView("GET", "/users/1")
    assert store.lookup("users", one).stub is None
    assert store.for_operation("users", None) is store.for_operation("users", None)  # made once, then kept

    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "first.yaml").write_text(yaml.safe_dump(
        {"request": {"method": "GET", "path": "/users/1"}, "response": {"status": 200, "body": {"id": 1}}}))
    store.load()  # a reload
    assert store.lookup("users", one).stub.id == "first"  # type: ignore[union-attr]

    recorded = stub_from_data({"request": {"method": "GET", "path": "/users/2"}, "response": {"status": 200}},
                              tmp_path / "users" / "second.yaml", "users")
    store.add(recorded)  # a recording
    assert store.lookup("users", RequestView("GET", "/users/2")).stub is recorded

    pinned = stub_from_data({"request": {"method": "GET", "path": "/users/1"}, "response": {"status": 201}},
                            tmp_path / "users" / "first.yaml", "users")
    store.pin([pinned])  # the admin API: hides the file stub of its own file
    assert store.lookup("users", one).stub is pinned
    store.pin([])
    assert store.lookup("users", one).stub is None  # the file it hid comes back with the next load
    store.load()
    assert store.lookup("users", one).stub.id == "first"  # type: ignore[union-attr]

    store.add(recorded)
    store.forget("users", recorded.file)  # deleted by another process
    assert store.lookup("users", RequestView("GET", "/users/2")).stub is None
    store.delete(store.find("first"))  # type: ignore[arg-type]
    assert store.lookup("users", one).stub is None


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayThread]:
    services = {"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/users"}}
    with GatewayThread(gateway_config(services, stubs=str(tmp_path))) as served:
        yield served


def test_a_stub_created_over_http_answers_at_once_after_the_example_was_cached(gateway: GatewayThread) -> None:
    with gateway.client(headers={"X-GW-Admin": "1"}) as http:
        for _ in range(2):  # the example answer made once, then served from the operation's cache
            before = http.get("/users/users/7")
            assert before.headers["x-gw-source"] == "example"
        created = http.post("/_gw/api/stubs", json={
            "service": "users", "request": {"method": "GET", "path": "/users/7"},
            "response": {"status": 200, "headers": {"Content-Type": "application/json"},
                         "body": {"id": 7, "username": "ada", "email": "ada@example.com", "role": "admin",
                                  "created_at": "2024-01-01T00:00:00Z"}}})
        assert created.status_code == 201, created.text
        after = http.get("/users/users/7")
        assert after.headers["x-gw-source"] == "recorded"
        assert after.json()["username"] == "ada"
        other = http.get("/users/users/8")
        assert other.headers["x-gw-source"] == "example"
        assert other.headers["x-gw-near-miss"].endswith('path: expected "/users/7", got /users/8')
        assert http.delete(f"/_gw/api/stubs/{created.json()['id']}").status_code in (200, 204)
        gone = http.get("/users/users/7")
        assert gone.headers["x-gw-source"] == "example"
        assert gone.content == before.content
        assert "x-gw-near-miss" not in gone.headers



def test_a_stub_added_after_a_deletion_loses_a_tie_to_an_older_one(tmp_path: Path) -> None:
    """An added stub takes an order after every stub held, not the list's length: after a deletion the length is
    an order a survivor already holds, and the tie would go to whichever group the index judged first."""
    store = StubStore(tmp_path, ["users"])
    first = stub_from_data({"request": {"method": "GET", "path": "/users/1"}, "response": {"status": 200}},
                           tmp_path / "users" / "a.yaml", "users")
    older = stub_from_data({"request": {"method": "GET", "path": {"regex": r"^/users/\d+$"}, "query": {"v": "1"}},
                            "response": {"status": 200}}, tmp_path / "users" / "b.yaml", "users")
    store.add(first)
    store.add(older)
    store.forget("users", first.file)
    newer = stub_from_data({"request": {"method": "GET", "path": "/users/7"},
                            "response": {"status": 200}}, tmp_path / "users" / "c.yaml", "users")
    store.add(newer)
    assert newer.order > older.order
    view = RequestView("GET", "/users/7", query_string=b"v=1")
    assert store.lookup("users", view).stub is older
    assert judged_one_by_one(store.all("users"), view)[0] == older.id


def test_candidates_made_while_a_reload_swaps_the_stubs_are_not_kept_for_the_new_ones(tmp_path: Path) -> None:
    """A reload's thread replaces the stubs while a lookup works out an operation's candidates from the old ones:
    what that lookup files belongs to the old stubs and is never served for the new."""
    store = StubStore(tmp_path, ["users"])
    old = make(0, {"method": "GET", "path": "/users/1"})
    new = make(1, {"method": "GET", "path": "/users/1"})
    store.replace({"users": [old]}, [])
    every, candidates = store._indexed  # the lookup's two reads, split by a swap in between
    store.replace({"users": [new]}, [])
    candidates[("users", None)] = type(store.for_operation("users", None)).of(every["users"])
    assert store.lookup("users", RequestView("GET", "/users/1")).stub is new
