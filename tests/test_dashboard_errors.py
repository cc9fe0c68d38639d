"""The dashboard reads 5xx (the gateway's or an upstream's failures) apart from 4xx (client errors, most often the
validator refusing a request that breaks the contract): over HTTP, and in a real headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.browser import chromium
from tests.conftest import SPECS, GatewayThread, free_port


def services(dead_upstream: str) -> dict[str, dict[str, str]]:
    return {"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/users", "mode": "live", "upstream": dead_upstream},
            "orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders", "mode": "stub"}}


def test_header_names_5xx_and_4xx_apart_and_says_what_each_means(start_gateway: Callable[..., GatewayThread]) -> None:
    gateway = start_gateway(services(f"http://127.0.0.1:{free_port()}"), reload=False)

    with gateway.client() as client:
        page = client.get("/_gw/ui").text

    totals = re.search(r'<dl class="totals".*?</dl>', page, re.S)
    assert totals is not None
    assert re.search(r"""title="failures: answers 5xx, the gateway's or an upstream's[^"]*"><dt>5xx</dt>""", totals.group(0))
    assert re.search(r'title="client errors: answers 4xx[^"]*"><dt>4xx</dt>', totals.group(0))
    assert "<dt>errors</dt>" not in page
    assert page.count('data-metric="failures"') == 2  # every service's card: 5xx charted, 4xx beside it


def test_refused_requests_count_as_4xx_and_a_dead_upstream_as_5xx_in_the_browser(
        start_gateway: Callable[..., GatewayThread]) -> None:
    from playwright.sync_api import expect

    gateway = start_gateway(services(f"http://127.0.0.1:{free_port()}"), reload=False)
    with gateway.client() as client:
        answered = client.get("/orders/orders").status_code
        refused = [client.get("/orders/orders/not-a-uuid").status_code for _ in range(2)]
        failed = client.get("/users/users/1").status_code

    assert answered == 200 and refused == [400, 400] and failed >= 500  # the upstream is down: 502 or 503
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(gateway.url + "/_gw/ui")  # the feed starts from the journal: these four are in it
        expect(page.locator("#total-5xx")).to_have_text("25%", timeout=10_000)
        expect(page.locator("#total-4xx")).to_have_text("50%")
        expect(page.locator("#total-5xx")).to_have_class(re.compile(r"\bfailing\b"))
        orders = page.locator('article[data-service="orders"] figure[data-metric="failures"]')
        users = page.locator('article[data-service="users"] figure[data-metric="failures"]')
        expect(orders.locator("b")).to_have_text("0%")
        expect(orders.locator(".client i")).to_have_text("67%")
        expect(users.locator("b")).to_have_text("100%")
        expect(users.locator(".client i")).to_have_text("0%")

    assert errors == []
