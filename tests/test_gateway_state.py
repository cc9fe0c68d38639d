"""One read model (gw.operator.state.GatewayState): the admin API, the dashboard (its page and the `hello` frame of
/_gw/ws) and detailed health show a service alike, at start, after runtime switches and after a hot reload.

A real gateway in a thread, two real upstream instances, stub files on disk, every surface read over real HTTP
(and a real WebSocket for the hello frame).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import SPECS, GatewayThread, eventually
from tests.upstream import UpstreamServer

BOUND_STUB = """request: {method: GET, path: /users/1}
response: {status: 200, body: {id: 1, username: alice, email: alice@example.com}}
meta: {operation: getUser}
"""
LOOSE_STUB = """request: {method: GET, path: /users/2}
response: {status: 200, body: {id: 2, username: bob, email: bob@example.com}}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(SPECS / "users.yaml", tmp_path / "users.yaml")
    stubs = tmp_path / "stubs" / "users"
    stubs.mkdir(parents=True)
    (stubs / "alice.yaml").write_text(BOUND_STUB)
    (stubs / "bob.yaml").write_text(LOOSE_STUB)
    return tmp_path


@pytest.fixture
def gateway(start_gateway: Callable[..., GatewayThread], make_upstream: Callable[[str], UpstreamServer],
            folder: Path) -> GatewayThread:
    instances = [make_upstream("one").url, make_upstream("two").url]
    services = {"users": {"spec": str(folder / "users.yaml"), "base_path": "/users", "mode": "stub",
                          "upstream": instances, "operations": {"updateUser": {"mode": "live"}}}}
    return start_gateway(services, stubs=str(folder / "stubs"), admin={"allow_from": ["127.0.0.1/32"]},
                         reload_interval=0.1)


@pytest.fixture
def client(gateway: GatewayThread) -> Iterator[httpx.Client]:
    with gateway.client(headers={"X-GW-Admin": "1"}) as client:  # a script, not a cross-site form
        yield client


# -- each surface's answer, reduced to what they all say ----------------------------------------------


def seen(mode: str, mode_from: str, operation_modes: dict[str, str], instances: list[tuple[str, str, str]],
         stubs: int) -> dict[str, Any]:
    return {"mode": mode, "mode_from": mode_from, "operation_modes": operation_modes,
            "instances": sorted(instances), "stubs": stubs}


def from_admin(client: httpx.Client) -> dict[str, Any]:
    answer = client.get("/_gw/api/services/users")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    service = answer.json()
    listed = client.get("/_gw/api/stubs", params={"service": "users"}).json()["stubs"]
    assert len(listed) == service["stubs"]  # the admin API's stub list and its service view agree
    return seen(service["mode"], service["mode_from"], {o["key"]: o["mode"] for o in service["operations"] if o["override"]},
                [(i["url"], i["health"], i["circuit"]["state"]) for i in service["instances"]], service["stubs"])


def from_row(row: dict[str, Any]) -> dict[str, Any]:
    return seen(row["mode"], row["mode_from"], {o["key"]: o["mode"] for o in row["operations"] if o["override"]},
                [(i["url"], i["health"], i["circuit"]["state"]) for i in row["instances"]], row["stubs"])


def from_dashboard(client: httpx.Client) -> dict[str, Any]:
    page = client.get("/_gw/ui")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    initial = re.search(r'<script id="initial-services" type="application/json">(.*?)</script>', page.text, re.S)
    assert initial is not None
    row = next(s for s in json.loads(initial.group(1)) if s["name"] == "users")
    control = re.search(r'<select data-mode-for="users".*?</select>', page.text, re.S)
    assert control is not None and f'<option value="{row["mode"]}" selected>' in control.group(0)  # the page as drawn
    return from_row(row)


def from_hello(gateway: GatewayThread) -> dict[str, Any]:
    with connect(gateway.url.replace("http://", "ws://") + "/_gw/ws", open_timeout=10) as socket:
        hello = json.loads(socket.recv(timeout=10))
    assert hello["type"] == "hello"
    return from_row(next(s for s in hello["services"] if s["name"] == "users"))


def from_health(client: httpx.Client) -> dict[str, Any]:
    answer = client.get("/_gw/health/detailed")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    service = answer.json()["services"]["users"]
    return seen(service["mode"], service["mode_from"], service["operation_modes"],
                [(url.rstrip("/"), i["health"], i["circuit"]["state"]) for url, i in service["upstreams"].items()],
                service["stubs"])


def every_surface(gateway: GatewayThread, client: httpx.Client) -> list[dict[str, Any]]:
    return [from_admin(client), from_dashboard(client), from_hello(gateway), from_health(client)]


def alike(gateway: GatewayThread, client: httpx.Client) -> dict[str, Any]:
    """What every surface says, once they all say the same (AssertionError naming the odd one out if not)."""
    admin, dashboard, hello, health = every_surface(gateway, client)
    assert dashboard == admin, "dashboard page"
    assert hello == admin, "hello frame of /_gw/ws"
    assert health == admin, "detailed health"
    return admin


# -- the tests -----------------------------------------------------------------------------------------


def test_at_start_every_surface_shows_the_settings_instances_and_stubs(gateway: GatewayThread,
                                                                       client: httpx.Client) -> None:
    shown = alike(gateway, client)

    assert shown["mode"] == "stub" and shown["mode_from"] == "gateway.yaml"
    assert shown["operation_modes"] == {"updateUser": "live"}
    assert [url for url, _, _ in shown["instances"]] == sorted(u for u in gateway.app.config.services["users"].upstream)
    assert all(health == "unchecked" and circuit == "closed" for _, health, circuit in shown["instances"])
    assert shown["stubs"] == 2


def test_after_runtime_switches_every_surface_shows_the_modes_in_effect_and_whence(gateway: GatewayThread,
                                                                                  client: httpx.Client) -> None:
    assert client.put("/_gw/api/services/users/mode", json={"mode": "fallback"}).status_code == 200
    switched = client.put("/_gw/api/services/users/operations/GET%20%2Fme/mode", json={"mode": "spy"})
    assert switched.status_code == 200
    assert switched.json() == {"key": "GET /me", "method": "GET", "path": "/users/me", "mode": "spy", "override": True}
    cleared = client.delete("/_gw/api/services/users/operations/updateUser/mode")
    assert cleared.status_code == 200 and cleared.json()["mode"] == "fallback" and cleared.json()["override"] is False

    shown = alike(gateway, client)

    assert shown["mode"] == "fallback" and shown["mode_from"] == "runtime"
    assert shown["operation_modes"] == {"GET /me": "spy"}  # updateUser follows its service again


def test_a_service_switched_back_still_says_its_mode_was_switched(gateway: GatewayThread, client: httpx.Client) -> None:
    client.put("/_gw/api/services/users/mode", json={"mode": "live"}).raise_for_status()
    client.put("/_gw/api/services/users/mode", json={"mode": "stub"}).raise_for_status()

    shown = alike(gateway, client)

    assert shown["mode"] == "stub" and shown["mode_from"] == "runtime"


def test_after_a_hot_reload_every_surface_shows_the_new_spec_and_stubs_and_keeps_the_switches(
        gateway: GatewayThread, client: httpx.Client, folder: Path) -> None:
    client.put("/_gw/api/services/users/operations/getUser/mode", json={"mode": "live"}).raise_for_status()
    spec = folder / "users.yaml"
    spec.write_text(spec.read_text().replace("  /me:\n", "  /me/avatar:\n    get:\n      operationId: getAvatar\n"
                                             "      responses:\n        '204': {description: no avatar}\n  /me:\n", 1))
    (folder / "stubs" / "users" / "carol.yaml").write_text(BOUND_STUB.replace("/users/1", "/users/3"))

    def reloaded() -> bool:
        service = client.get("/_gw/api/services/users").json()
        return service["stubs"] == 3 and any(o["key"] == "getAvatar" for o in service["operations"])

    eventually(reloaded, timeout=30)
    shown = alike(gateway, client)

    assert shown["stubs"] == 3
    assert shown["operation_modes"] == {"updateUser": "live", "getUser": "live"}
    health = client.get("/_gw/health/detailed").json()["services"]["users"]
    admin = client.get("/_gw/api/services/users").json()
    assert health["operations"] == len(admin["operations"]) == 6
    avatar = next(o for o in admin["operations"] if o["key"] == "getAvatar")
    assert avatar == {"key": "getAvatar", "method": "GET", "path": "/users/me/avatar", "mode": "stub", "override": False}
    assert client.get("/users/me/avatar").status_code == 204


def test_a_circuit_reset_over_the_admin_api_shows_closed_everywhere(gateway: GatewayThread, client: httpx.Client) -> None:
    instance = gateway.app.config.services["users"].upstream[0]

    reset = client.post(f"/_gw/api/services/users/instances/{quote(instance, safe='')}/circuit/reset")

    assert reset.status_code == 200 and reset.headers["content-type"] == "application/json"
    assert reset.json()["url"] == instance and reset.json()["circuit"]["state"] == "closed"
    assert all(circuit == "closed" for _, _, circuit in alike(gateway, client)["instances"])


def test_an_unknown_service_is_refused_alike_by_the_admin_api_and_missing_from_the_other_surfaces(
        gateway: GatewayThread, client: httpx.Client) -> None:
    answer = client.get("/_gw/api/services/nope")

    assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "no service 'nope'; services: users"
    assert "nope" not in client.get("/_gw/health/detailed").json()["services"]
