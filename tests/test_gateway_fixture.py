"""The `gw_gateway` fixture: a consumer's end-to-end test gets a real gateway on a free port."""

from __future__ import annotations

import textwrap

import pytest
import requests

from tests.conftest import ROOT, TEST_SPECS
from tests.upstream import UpstreamServer

pytest_plugins = ["pytester"]


def test_the_project_gateway_answers_in_stub_mode_by_default(gw_gateway) -> None:
    gateway = gw_gateway()  # ./gateway.yaml of the project (this repository's samples)
    response = requests.get(gateway.service_url("users") + "/users/42", timeout=10)
    assert response.status_code == 200
    assert response.headers["x-gw-source"] in ("recorded", "example", "generated")
    assert response.json()["id"] == 42


def test_one_spec_is_mounted_at_the_root(gw_gateway) -> None:
    gateway = gw_gateway(ROOT / "specs" / "users.yaml")
    assert gateway.service_url("users") == gateway.url
    answer = requests.get(gateway.url + "/users/7", timeout=10)
    assert answer.status_code == 200 and answer.headers["x-gw-source"] == "example"
    assert requests.get(gateway.url + "/users/users/7", timeout=10).status_code == 404


def test_live_mode_reaches_the_given_upstream(gw_gateway, upstream: UpstreamServer) -> None:
    gateway = gw_gateway(TEST_SPECS / "echo.yaml", mode="live", upstream=upstream.url)
    answer = requests.get(gateway.url + "/items/5", timeout=10)
    assert answer.headers["x-gw-source"] == "live"
    assert answer.json()["path"] == "/items/5"


def test_a_real_gw_serve_process_can_be_asked_for(gw_gateway) -> None:
    gateway = gw_gateway(ROOT / "specs" / "orders.yaml", process=True)
    assert gateway.app is None
    response = requests.get(gateway.url + "/orders", timeout=10)
    assert response.status_code == 200 and "items" in response.json()


def test_a_consumer_project_uses_its_own_gateway_yaml(pytester: pytest.Pytester) -> None:
    """As a team would: their repo, their gateway.yaml and spec, a test file using the fixture."""
    pytester.makefile(".yaml", gateway=textwrap.dedent(f"""
        services:
          users:
            spec: {ROOT / 'specs' / 'users.yaml'}
            base_path: /api/users
    """))
    pytester.makepyfile(test_consumer=textwrap.dedent("""
        import requests

        def test_profile(gw_gateway):
            gateway = gw_gateway()
            assert gateway.service_url("users").endswith("/api/users")
            answer = requests.get(gateway.service_url("users") + "/users/3", timeout=10)
            assert answer.status_code == 200 and "username" in answer.json()

        def test_gateway_is_stopped_after_each_test(gw_gateway):
            gateway = gw_gateway(mode="stub")
            assert requests.get(gateway.url + "/_gw/health", timeout=10).status_code == 200
    """))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
