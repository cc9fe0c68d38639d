"""The dashboard at /_gw/ui: over real HTTP, and end to end in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import chromium
from tests.conftest import OUTSIDER, ROOT, SPECS, GatewayThread
from tests.upstream import UpstreamServer

SCREENSHOT = ROOT / "docs" / "dashboard.png"


def samples(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = {name: {"spec": str(SPECS / f"{name}.yaml"), "base_path": f"/{name}", "mode": "stub"}
                for name in ("users", "orders", "cameras")}
    for name, settings in overrides.items():
        services[name].update(settings)
    return services


@pytest.fixture
def gateway(start_gateway: Callable[..., GatewayThread]) -> GatewayThread:
    return start_gateway(samples(), admin={"allow_from": ["127.0.0.1/32"]}, reload=False)


def test_page_lists_every_service_with_a_mode_control_set_to_its_mode(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        page = client.get("/_gw/ui")

    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-store"
    for name in ("users", "orders", "cameras"):
        control = re.search(rf'<select data-mode-for="{name}".*?</select>', page.text, re.S)
        assert control is not None, name
        assert '<option value="stub" selected>' in control.group(0)
        assert all(f'<option value="{mode}"' in control.group(0) for mode in ("live", "fallback", "spy", "record"))
    assert '<script src="/_gw/ui/static/dashboard.js" defer>' in page.text


def test_page_shows_a_mode_switched_at_runtime(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        assert client.put("/_gw/api/services/orders/mode", json={"mode": "fallback"}).status_code == 200
        page = client.get("/_gw/ui")

    control = re.search(r'<select data-mode-for="orders".*?</select>', page.text, re.S)
    assert control is not None and '<option value="fallback" selected>' in control.group(0)


def test_page_is_refused_to_a_client_outside_allow_from_with_403_problem(gateway: GatewayThread) -> None:
    with gateway.client(source=OUTSIDER) as client:
        page = client.get("/_gw/ui")
        script = client.get("/_gw/ui/static/dashboard.js")

    assert page.status_code == 403
    assert page.headers["content-type"] == "application/problem+json"
    assert page.json()["type"] == "/_gw/problems/admin-forbidden"
    assert "users" not in page.text  # nothing about the services leaks
    assert script.status_code == 200  # static files hold no data


def test_page_is_open_to_an_outsider_presenting_the_admin_key(start_gateway: Callable[..., GatewayThread]) -> None:
    gateway = start_gateway(samples(), admin={"allow_from": ["127.0.0.1/32"], "key": "k-operator"}, reload=False)
    with gateway.client(source=OUTSIDER) as client:
        assert client.get("/_gw/ui", headers={"X-GW-Admin-Key": "k-operator"}).status_code == 200
        assert client.get("/_gw/ui", headers={"X-GW-Admin-Key": "wrong"}).status_code == 403


def test_static_files_are_only_the_shipped_ones(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        css = client.get("/_gw/ui/static/gw.css")
        escape = client.get("/_gw/ui/static/..%2F__init__.py")
        other = client.get("/_gw/ui/elsewhere")

    assert css.status_code == 200 and css.headers["content-type"] == "text/css; charset=utf-8"
    assert escape.status_code == 404
    assert other.status_code == 404


# ---- end to end, in a real browser ------------------------------------------------------------------


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def test_dashboard_in_a_browser_shows_requests_live_and_switches_a_service_to_live(
        start_gateway: Callable[..., GatewayThread], make_upstream: Callable[[str], UpstreamServer], browser: Any,
        tmp_path: Path) -> None:
    from playwright.sync_api import expect

    upstream = make_upstream("users-upstream")
    gateway = start_gateway(samples(users={"upstream": upstream.url}), reload=False)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(gateway.url + "/_gw/ui")
    expect(page.locator("#connection")).to_have_text("live", timeout=10_000)
    client = gateway.client()

    # a request fired from outside the page appears in its feed
    before = client.get("/users/users/1", headers={"X-Request-ID": "browser-before"})
    assert before.headers["x-gw-source"] == "example"
    row = page.locator('#feed tr[data-id="browser-before"]')
    expect(row).to_be_visible(timeout=10_000)
    expect(row.locator("td.path")).to_have_text("/users/users/1")
    expect(row.locator("td.status")).to_have_text("200")
    expect(row.locator(".source")).to_have_text("example")

    some_traffic(client)  # stubs answering: examples, a stub file, near misses, a refused request, a declared 404

    # switch users to live with the page's control: the gateway now proxies to the upstream
    page.select_option('select[data-mode-for="users"]', "live")
    expect(page.locator('article[data-service="users"] .message')).to_have_text("now live", timeout=10_000)
    after = client.get("/users/users/1", headers={"X-Request-ID": "browser-after"})
    client.close()
    assert after.headers["x-gw-source"] == "live"
    assert after.json()["instance"] == "users-upstream"  # the upstream answered, not a stub
    assert upstream_saw(upstream, "/users/1")
    live_row = page.locator('#feed tr[data-id="browser-after"]')
    expect(live_row.locator(".source")).to_have_text("live", timeout=10_000)
    expect(page.locator("#gateway-events")).to_contain_text("users is now live")

    # the upstream's echo breaks the User schema: the page says so, and the row's details say why
    expect(page.locator("#violations")).to_contain_text("users GET /users/users/1")
    live_row.click()
    details = page.locator("#feed tr.details")
    expect(details).to_contain_text("Contract violations (the answer breaks the spec)")
    expect(details).to_contain_text("x-gw-contract")  # the journal's full entry, fetched on click
    expect(page.locator('article[data-service="orders"] figure[data-metric="rate"] b')).not_to_have_text("0.00")

    page.wait_for_timeout(1200)  # one chart redraw with all of it in
    page.screenshot(path=str(tmp_path / "dashboard.png"))  # the test's artifact, every run
    if os.environ.get("UPDATE_SCREENSHOTS"):  # `UPDATE_SCREENSHOTS=1 pytest tests/test_dashboard.py` refreshes the README's
        shutil.copyfile(tmp_path / "dashboard.png", SCREENSHOT)
    assert errors == []


def upstream_saw(upstream: UpstreamServer, path: str) -> bool:
    stats = httpx.get(f"{upstream.url}/_admin/stats", timeout=5).json()
    return stats["paths"].get(path, 0) >= 1


def some_traffic(client: httpx.Client) -> None:
    """A little of everything, so the feed and the screenshot show what the page is for."""
    for n in range(12):
        client.get(f"/orders/orders/{uuid.UUID(int=n + 1)}", headers={"Prefer": "code=404"} if n % 4 == 3 else {})
        client.get("/cameras/cameras")
        client.get("/users/users/42" if n % 3 else f"/users/users/{n + 2}")  # a stub file, or its near miss
        if n % 6 == 5:
            client.get("/users/users", params={"limit": 1000})  # refused: breaks the contract
