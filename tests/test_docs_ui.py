"""Swagger UI 5.x at /_gw/docs/{service}/, in a real headless Chromium: OpenAPI 3.1, 3.0, Swagger 2.0 and the
admin API's own document are drawn, from files inside the package (nothing from a CDN)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gw.operator.endpoints.docs import HTTP_METHODS
from gw.operator.swagger_ui import VERSION
from tests.browser import chromium
from tests.conftest import ROOT, SPECS, GatewayThread, gateway_config

LEGACY = {"swagger": "2.0", "info": {"title": "Legacy", "version": "1"}, "basePath": "/v1",
          "paths": {"/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "pong"}}}},
                    "/echo": {"post": {"operationId": "echo", "responses": {"200": {"description": "echoed"}}}}}}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    legacy = tmp_path_factory.mktemp("docs") / "legacy.yaml"
    legacy.write_text(yaml.safe_dump(LEGACY))
    services = {name: {"spec": str(SPECS / f"{name}.yaml"), "base_path": f"/{name}"} for name in ("users", "orders")}
    services["legacy"] = {"spec": str(legacy), "base_path": "/legacy"}
    with GatewayThread(gateway_config(services, admin={"allow_from": ["127.0.0.1/32"]}, reload=False)) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def operations(gateway: GatewayThread, name: str) -> list[dict[str, Any]]:
    with gateway.client() as client:
        spec = client.get(f"/_gw/docs/{name}/openapi.json").json()
    items = [*spec.get("paths", {}).values(), *spec.get("webhooks", {}).values()]  # 3.1 webhooks are drawn too
    return [op for item in items for method, op in item.items() if method in HTTP_METHODS]


def drawn_operations(browser: Any, url: str) -> tuple[list[str], str, list[str]]:
    """The operation ids Swagger UI drew on the page, the page's text, and the requests that left this gateway."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(url.split("/_gw")[0])
            and not request.url.startswith("data:") else None)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector(".opblock, .errors-wrapper, .loading-container .info", timeout=20_000)
    drawn = page.eval_on_selector_all(".opblock", "nodes => nodes.map(n => n.id)")
    text = page.inner_text("body")
    page.close()
    assert not errors, errors
    return drawn, text, outside


@pytest.mark.parametrize("name", ["orders", "users", "legacy", "gw-admin"],
                         ids=["openapi-3.1", "openapi-3.0", "swagger-2.0", "admin-api-3.1"])
def test_swagger_ui_draws_every_operation(gateway: GatewayThread, browser: Any, name: str) -> None:
    expected = operations(gateway, name)
    named = [op["operationId"] for op in expected if "operationId" in op]

    drawn, text, outside = drawn_operations(browser, f"{gateway.url}/_gw/docs/{name}/")

    assert "Unable to render this definition" not in text
    assert len(drawn) == len(expected) > 0
    assert all(any(element.endswith("-" + op) for element in drawn) for op in named), (drawn, named)
    assert outside == []  # every file from this gateway: no CDN, no validator badge


def test_orders_docs_show_the_31_version_and_the_services_title(gateway: GatewayThread, browser: Any) -> None:
    _, text, _ = drawn_operations(browser, f"{gateway.url}/_gw/docs/orders/")

    assert "OAS 3.1" in text
    assert f"Swagger UI {VERSION}" in text
    assert "all API docs" in text


def test_page_names_the_service_and_loads_only_files_the_package_holds(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        page = client.get("/_gw/docs/orders/")
        files = {name: client.get(f"/_gw/docs/orders/{name}") for name in
                 ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "oauth2-redirect.html", "LICENSE")}
        hidden = [client.get(f"/_gw/docs/orders/{name}").status_code for name in ("__init__.py", "VERSION")]

    assert "<title>Orders API · gw docs</title>" in page.text
    assert "https://" not in page.text and "http://" not in page.text
    assert all(answer.status_code == 200 for answer in files.values())
    assert VERSION.startswith("5.")
    assert hidden == [404, 404]


def test_the_wheel_carries_swagger_ui_and_its_licence(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(tmp_path.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()

    for needed in ("swagger_ui/swagger-ui-bundle.js", "swagger_ui/swagger-ui.css", "swagger_ui/LICENSE",
                   "swagger_ui/NOTICE", "templates/swagger_ui.html"):
        assert any(name.endswith(needed) for name in names), needed
    assert not any(name.endswith(".map") for name in names)
    assert wheel.stat().st_size < 3_000_000
