"""Swagger UI per service at /_gw/docs/{service}/, over real HTTP: the page, its assets, and the spec it shows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.browser import chromium
from tests.conftest import OUTSIDER, SPECS, GatewayThread

SAMPLES = {name: {"spec": str(SPECS / f"{name}.yaml"), "base_path": f"/{name}"} for name in ("users", "orders", "cameras")}


@pytest.fixture
def gateway(start_gateway: Callable[..., GatewayThread]) -> GatewayThread:
    return start_gateway(SAMPLES, admin={"allow_from": ["127.0.0.1/32"]}, reload=False)


def test_swagger_ui_page_is_served_with_the_vendored_bundle(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        page = client.get("/_gw/docs/users/")
        script = client.get("/_gw/docs/users/swagger-ui-bundle.js")
        css = client.get("/_gw/docs/users/swagger-ui.css")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="./swagger-ui-bundle.js"' in page.text
    assert 'url: "./openapi.json"' in page.text
    assert "<title>Users API · gw docs</title>" in page.text
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert len(script.content) > 500_000  # the real bundle, not a placeholder
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_served_spec_sends_try_it_out_through_the_gateway(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        spec = client.get("/_gw/docs/users/openapi.json").json()
        server = spec["servers"][0]["url"]
        tried = client.get(server + "/users/1")  # what Swagger UI's "Try it out" sends

    assert [s["url"] for s in spec["servers"]] == ["/users"]
    assert "/users/{user_id}" in spec["paths"]
    assert tried.status_code == 200
    assert tried.headers["x-gw-source"] == "example"


def test_served_spec_has_other_files_refs_brought_inside(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        answer = client.get("/_gw/docs/orders/openapi.json")

    assert "common.yaml#" not in answer.text  # no $ref into another file: the browser could not fetch it
    assert "Address" in answer.json()["components"]["schemas"]


def test_swagger2_spec_gets_the_gateway_base_path_and_no_upstream_host(
        start_gateway: Callable[..., GatewayThread], tmp_path: Path) -> None:
    spec = tmp_path / "legacy.yaml"
    spec.write_text(yaml.safe_dump({
        "swagger": "2.0", "info": {"title": "Legacy", "version": "1"}, "host": "legacy.internal:8443",
        "basePath": "/v1", "schemes": ["https"],
        "paths": {"/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "pong"}}}}}}))
    gateway = start_gateway({"legacy": {"spec": str(spec), "base_path": "/legacy"}}, reload=False)

    with gateway.client() as client:
        served = client.get("/_gw/docs/legacy/openapi.json").json()

    assert served["basePath"] == "/legacy"
    assert "host" not in served and "schemes" not in served  # the page's own host: this gateway


def test_index_links_every_service_and_the_admin_api(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        index = client.get("/_gw/docs")
        admin = client.get("/_gw/docs/gw-admin/openapi.json").json()

    assert index.status_code == 200
    for name in ("users", "orders", "cameras", "gw-admin"):
        assert f'href="/_gw/docs/{name}/"' in index.text
    assert [s["url"] for s in admin["servers"]] == ["/_gw/api"]


def test_docs_are_public_where_the_dashboard_is_not(gateway: GatewayThread) -> None:
    """Anyone who can reach the gateway can call the services; their docs show the same contract."""
    with gateway.client(source=OUTSIDER) as client:
        docs = client.get("/_gw/docs/users/openapi.json")
        dashboard = client.get("/_gw/ui")

    assert docs.status_code == 200
    assert dashboard.status_code == 403


def test_docs_paths_without_a_slash_redirect_and_unknown_ones_are_404_problems(gateway: GatewayThread) -> None:
    with gateway.client() as client:
        bare = client.get("/_gw/docs/users")
        unknown = client.get("/_gw/docs/nope/")
        no_file = client.get("/_gw/docs/users/../../etc/passwd")
        posted = client.post("/_gw/docs/users/")

    assert bare.status_code == 308 and bare.headers["location"] == "/_gw/docs/users/"
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert no_file.status_code == 404
    assert posted.status_code == 405 and posted.headers["allow"] == "GET, HEAD"


def test_try_it_out_in_swagger_ui_is_answered_by_the_gateway(gateway: GatewayThread) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(gateway.url + "/_gw/docs/users/")
        page.click('[id$="-getUser"] .opblock-summary', timeout=15_000)
        page.click("text=Try it out")
        page.fill("input[placeholder='user_id']", "1")
        with page.expect_response(lambda r: r.url.endswith("/users/users/1")) as tried:
            page.click("button.execute")
        answer = tried.value

    assert answer.url == gateway.url + "/users/users/1"
    assert answer.status == 200 and answer.headers["x-gw-source"] == "example"
