"""The admin API over real HTTP: services and modes, stubs, journal, circuits, and who may call it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import OUTSIDER, SPECS, TEST_SPECS, GatewayThread, free_port, mint_token
from tests.upstream import UpstreamServer

ECHO = str(TEST_SPECS / "echo.yaml")
USERS = str(SPECS / "users.yaml")
SECRET = "a-test-secret-of-at-least-32-bytes!"
ADMIN = {"X-GW-Admin": "1"}  # what a state change without a JSON body carries (cross-site forms cannot)
STUB = """\
request:
  method: GET
  path: /users/7
response:
  status: 200
  body: {id: 7, username: seven, email: seven@example.com}
meta: {operation: getUser}
"""


def enc(value: str) -> str:
    """A path segment the way the admin API wants operation keys and instance URLs: slashes encoded too."""
    return quote(value, safe="")


def assert_problem(response: httpx.Response, status: int, says: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]


@pytest.fixture
def stub_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "stubs" / "users"
    folder.mkdir(parents=True)
    (folder / "getUser-7.yaml").write_text(STUB)
    return tmp_path / "stubs"


@pytest.fixture
def gateway(start_gateway: Callable[..., GatewayThread], upstream: UpstreamServer, stub_dir: Path) -> GatewayThread:
    return start_gateway({"users": {"spec": USERS},
                          "echo": {"spec": ECHO, "upstream": [upstream.url], "backoff": 0.01}},
                         stubs=str(stub_dir), reload=False)


def test_services_lists_operations_modes_base_paths_and_instances(gateway: GatewayThread, upstream) -> None:
    with gateway.client() as client:
        services = {s["name"]: s for s in client.get("/_gw/api/services").json()["services"]}
    assert set(services) == {"users", "echo"}
    echo = services["echo"]
    assert echo["base_path"] == "/echo" and echo["mode"] == "stub"
    assert {"key": "getItem", "method": "GET", "path": "/echo/items/{item_id}", "mode": "stub",
            "override": False} in echo["operations"]
    assert echo["instances"][0]["url"] == upstream.url
    assert echo["instances"][0]["circuit"]["state"] == "closed"
    assert "GET /me" in [op["key"] for op in services["users"]["operations"]]


def test_switching_a_service_to_live_sends_its_requests_to_the_upstream(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        before = client.get("/echo/items/3")
        switched = client.put("/_gw/api/services/echo/mode", json={"mode": "live"})
        after = client.get("/echo/items/3")
        back = client.put("/_gw/api/services/echo/mode", json={"mode": "stub"})
        again = client.get("/echo/items/3")
    assert before.headers["x-gw-source"] != "live"
    assert switched.status_code == 200 and switched.json()["mode"] == "live"
    assert after.headers["x-gw-source"] == "live"
    assert after.json()["path"] == "/items/3"  # the real upstream's echo
    assert back.json()["mode"] == "stub"
    assert again.headers["x-gw-source"] != "live"


def test_an_operation_key_with_a_space_and_a_slash_is_addressed_url_encoded(gateway: GatewayThread) -> None:
    path = f"/_gw/api/services/users/operations/{enc('GET /me')}/mode"
    assert path.endswith("/GET%20%2Fme/mode")
    with gateway.client() as client:
        set_ = client.put(path, json={"mode": "live"})
        listed = client.get("/_gw/api/services/users").json()["operations"]
        cleared = client.delete(path, headers=ADMIN)
    assert set_.status_code == 200
    assert set_.json() == {"key": "GET /me", "method": "GET", "path": "/users/me", "mode": "live", "override": True}
    me = next(op for op in listed if op["key"] == "GET /me")
    assert me["mode"] == "live" and me["override"] is True
    assert next(op for op in listed if op["key"] == "getUser")["mode"] == "stub"
    assert cleared.status_code == 200
    assert cleared.json()["mode"] == "stub" and cleared.json()["override"] is False


def test_an_operation_override_changes_only_that_operation(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        client.put("/_gw/api/services/echo/operations/getItem/mode", json={"mode": "live"})
        item = client.get("/echo/items/1")
        created = client.post("/echo/items", json={"name": "lamp"})
    assert item.headers["x-gw-source"] == "live"
    assert created.headers["x-gw-source"] == "example"


def test_bad_input_is_answered_with_problem_json(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        assert_problem(client.put("/_gw/api/services/echo/mode", json={"mode": "turbo"}), 400, "turbo")
        assert_problem(client.put("/_gw/api/services/echo/mode", json={}), 400, "mode")
        assert_problem(client.put("/_gw/api/services/nope/mode", json={"mode": "live"}), 404, "no service 'nope'")
        assert_problem(client.put(f"/_gw/api/services/users/operations/{enc('GET /nope')}/mode", json={"mode": "live"}),
                       404, "no operation 'GET /nope'")
        assert_problem(client.get("/_gw/api/journal", params={"limit": 0}), 400, "limit")
        assert_problem(client.get("/_gw/api/journal", params={"status": "teapot"}), 400, "status")
        assert_problem(client.get("/_gw/api/nothing-here"), 404, "No operation")
        assert_problem(client.get("/_gw/api/journal/no-such-id"), 404, "no-such-id")


def test_stubs_can_be_listed_shown_deleted_and_reloaded(gateway: GatewayThread, stub_dir: Path) -> None:
    with gateway.client() as client:
        listed = client.get("/_gw/api/stubs", params={"service": "users"}).json()
        shown = client.get("/_gw/api/stubs/users/getUser-7")
        served = client.get("/users/users/7")
        deleted = client.delete("/_gw/api/stubs/users/getUser-7", headers=ADMIN)
        gone = client.get("/_gw/api/stubs/users/getUser-7")
        after = client.get("/users/users/7")
        (stub_dir / "users" / "getUser-8.yaml").write_text(STUB.replace("7", "8"))
        reloaded = client.post("/_gw/api/stubs/reload", headers=ADMIN)
        unknown = client.get("/_gw/api/stubs", params={"service": "nope"})
    assert [(s["id"], s["file"], s["status"], s["operation"]) for s in listed["stubs"]] == [
        ("getUser-7", "users/getUser-7.yaml", 200, "getUser")]
    assert shown.status_code == 200 and "username: seven" in shown.json()["content"]
    assert served.headers["x-gw-stub"] == "users/getUser-7"
    assert deleted.status_code == 204
    assert not (stub_dir / "users" / "getUser-7.yaml").exists()
    assert_problem(gone, 404, "getUser-7")
    assert "x-gw-stub" not in after.headers
    assert reloaded.json() == {"stubs": 1, "errors": []}
    assert_problem(unknown, 404, "nope")


def test_journal_lists_filters_follows_shows_and_clears(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        client.delete("/_gw/api/journal", headers=ADMIN)
        client.get("/users/users/1", headers={"X-Request-ID": "first-one"})
        client.get("/users/users/abc")  # 400
        start = client.get("/_gw/api/journal").json()
        client.get("/echo/items/2")
        newer = client.get("/_gw/api/journal", params={"since": start["cursor"]}).json()
        only_400 = client.get("/_gw/api/journal", params={"status": "4xx"}).json()
        only_echo = client.get("/_gw/api/journal", params={"service": "echo"}).json()
        newest = client.get("/_gw/api/journal", params={"limit": 1}).json()
        entry = client.get("/_gw/api/journal/first-one").json()
        cleared = client.delete("/_gw/api/journal", headers=ADMIN)
        empty = client.get("/_gw/api/journal").json()
    assert [e["path"] for e in start["entries"]] == ["/users/users/1", "/users/users/abc"]
    assert [e["path"] for e in newer["entries"]] == ["/echo/items/2"]
    assert [e["status"] for e in only_400["entries"]] == [400]
    assert [e["service"] for e in only_echo["entries"]] == ["echo"]
    assert [e["path"] for e in newest["entries"]] == ["/echo/items/2"]
    assert entry["operation"] == "getUser" and entry["source"] == "example" and entry["status"] == 200
    assert entry["response"]["headers"]["x-gw-source"] == "example"
    assert cleared.status_code == 204 and empty["entries"] == []


def test_a_circuit_can_be_reset(start_gateway: Callable[..., GatewayThread]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    gateway = start_gateway({"echo": {"spec": ECHO, "mode": "live", "upstream": [dead], "retries": 0,
                                      "circuit_breaker": {"failures": 1, "open_seconds": 60}}})
    feed = gateway.app.events.subscribe()
    reset_path = f"/_gw/api/services/echo/instances/{enc(dead)}/circuit/reset"
    with gateway.client() as client:
        client.get("/echo/items/1")
        opened = client.get("/_gw/api/services/echo").json()["instances"][0]["circuit"]["state"]
        refused = client.get("/echo/items/1")
        reset = client.post(reset_path, headers=ADMIN)
        unknown = client.post("/_gw/api/services/echo/instances/http%3A%2F%2Fnowhere/circuit/reset", headers=ADMIN)
    assert opened == "open"
    assert refused.status_code == 503
    assert reset.status_code == 200 and reset.json()["circuit"]["state"] == "closed"
    assert_problem(unknown, 404, "no upstream instance")
    events = [feed._queue.get_nowait() for _ in range(feed._queue.qsize())]
    circuits = [e for e in events if e["type"] == "circuit"]
    assert {"type": "circuit", "service": "echo", "instance": dead, "from": "closed", "to": "open"} in circuits
    assert {"type": "circuit", "service": "echo", "instance": dead, "from": "open", "to": "closed"} in circuits


# --- who may call it -----------------------------------------------------------------------------

@pytest.fixture
def guarded(start_gateway: Callable[..., GatewayThread]) -> GatewayThread:
    return start_gateway({"users": {"spec": USERS}}, admin={"allow_from": ["127.0.0.1/32"], "key": "k3y-for-ops"},
                         auth={"jwt": {"secret": SECRET}})


def token(roles: list[str]) -> str:
    return mint_token(SECRET, sub="ops", roles=roles)


def test_a_client_outside_allow_from_is_refused_with_403_problem(guarded: GatewayThread) -> None:
    with guarded.client(source=OUTSIDER) as client:
        refused = client.get("/_gw/api/services")
        switch = client.put("/_gw/api/services/users/mode", json={"mode": "live"})
        unknown = client.get("/_gw/api/does-not-exist")
        service = client.get("/users/users/1")
    assert_problem(refused, 403, "127.0.0.2 is not in admin.allow_from")
    assert refused.json()["type"] == "/_gw/problems/admin-forbidden"
    assert switch.status_code == 403 and unknown.status_code == 403  # no hint which paths exist
    assert guarded.app.config.services["users"].mode == "stub"
    assert service.status_code == 200  # the services themselves are not guarded


def test_the_admin_key_or_an_admin_token_lets_a_remote_client_in(guarded: GatewayThread) -> None:
    with guarded.client(source=OUTSIDER) as client:
        with_key = client.get("/_gw/api/services", headers={"X-GW-Admin-Key": "k3y-for-ops"})
        wrong_key = client.get("/_gw/api/services", headers={"X-GW-Admin-Key": "guess"})
        admin = client.get("/_gw/api/services", headers={"Authorization": f"Bearer {token(['admin'])}"})
        viewer = client.get("/_gw/api/services", headers={"Authorization": f"Bearer {token(['viewer'])}"})
    assert with_key.status_code == 200 and with_key.json()["services"][0]["name"] == "users"
    assert wrong_key.status_code == 403
    assert admin.status_code == 200
    assert viewer.status_code == 403


def test_the_admin_document_is_exposed_for_swagger_ui(gateway: GatewayThread) -> None:
    service = gateway.app.admin_service
    assert service.name == "gw-admin" and service.base_path == "/_gw/api"
    assert service.specification.raw["openapi"].startswith("3.1")
    assert {"listServices", "setServiceMode", "listJournal", "resetCircuit"} <= set(service.operations)
