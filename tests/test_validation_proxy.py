"""The validation proxy: upstream answers judged against the spec in live, record, fallback and spy
modes, against a real upstream on loopback (tests/upstream.py) that honours some operations of
tests/specs/contract_proxy.yaml and drifts from others."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from tests.conftest import TEST_SPECS
from tests.upstream import UpstreamServer

SPEC = str(TEST_SPECS / "contract_proxy.yaml")


def service(upstream: UpstreamServer, **settings: object) -> dict[str, dict[str, object]]:
    return {"drift": {"spec": SPEC, "base_path": "/api", "mode": "live", "upstream": upstream.url, "retries": 0,
                      **settings}}


def test_an_honest_upstream_answer_passes_unmarked(start_gateway, upstream: UpstreamServer) -> None:
    gateway = start_gateway(service(upstream))
    with gateway.client() as client:
        response = client.get("/api/items/7")
    assert response.status_code == 200
    assert response.json()["path"] == "/items/7"
    assert "x-gw-contract" not in response.headers


def test_a_wrong_type_and_a_missing_required_field_are_marked_with_the_failing_places(
        start_gateway, upstream: UpstreamServer, caplog: pytest.LogCaptureFixture) -> None:
    gateway = start_gateway(service(upstream))
    with caplog.at_level(logging.WARNING, logger="gw.contract"), gateway.client() as client:
        response = client.get("/api/drifted/1")
    assert response.status_code == 200  # the client still gets the upstream's answer
    assert response.headers["x-gw-contract"] == "violation"
    reason = response.headers["x-gw-contract-reason"]
    assert "'name' is a required property" in reason and "(+1 more)" in reason
    logged = [r for r in caplog.records if r.name == "gw.contract"]
    assert len(logged) == 1
    fields = logged[0].fields  # type: ignore[attr-defined]
    assert fields["operation"] == "drifted" and fields["service"] == "drift"
    assert "body/method: 'GET' is not of type 'integer'" in fields["violations"]
    assert gateway.app.contract.violations[("drift", "drifted")] == 1


def test_an_undeclared_status_is_a_violation(start_gateway, upstream: UpstreamServer) -> None:
    gateway = start_gateway(service(upstream))
    with gateway.client() as client:
        response = client.get("/api/flaky/undeclared", params={"fail": 1})
    assert response.status_code == 503
    assert response.headers["x-gw-contract"] == "violation"
    assert response.headers["x-gw-contract-reason"] == "status 503 is not declared (declared: 200)"


def test_a_missing_required_response_header_is_a_violation(start_gateway, upstream: UpstreamServer) -> None:
    gateway = start_gateway(service(upstream))
    with gateway.client() as client:
        response = client.get("/api/traced")
    assert response.headers["x-gw-contract-reason"] == "header X-Trace: required header is missing"


def test_strict_turns_a_violation_into_a_502_problem_naming_the_operation(start_gateway,
                                                                          upstream: UpstreamServer) -> None:
    gateway = start_gateway(service(upstream), contract={"strict": True})
    with gateway.client() as client:
        drifted = client.get("/api/drifted/1")
        honest = client.get("/api/items/1")
    assert drifted.status_code == 502
    assert drifted.headers["content-type"] == "application/problem+json"
    problem = drifted.json()
    assert problem["type"] == "/_gw/problems/contract-violation"
    assert problem["operation"] == "drifted" and problem["upstream_status"] == 200
    assert {"where": "body", "message": "'name' is a required property"} in problem["violations"]
    assert honest.status_code == 200


def test_strict_can_be_set_for_one_service(start_gateway, upstream: UpstreamServer) -> None:
    services = service(upstream, contract={"strict": True})
    services["lenient"] = {**services["drift"], "base_path": "/lenient", "contract": None}
    del services["lenient"]["contract"]
    gateway = start_gateway(services)
    with gateway.client() as client:
        assert client.get("/api/drifted/1").status_code == 502
        lenient = client.get("/lenient/drifted/1")
    assert lenient.status_code == 200 and lenient.headers["x-gw-contract"] == "violation"


def test_the_check_can_be_switched_off(start_gateway, upstream: UpstreamServer) -> None:
    gateway = start_gateway(service(upstream), contract={"check": False})
    with gateway.client() as client:
        response = client.get("/api/drifted/1")
    assert "x-gw-contract" not in response.headers


@pytest.mark.parametrize("mode", ["spy", "fallback"])
def test_spy_and_fallback_check_what_the_upstream_answered(start_gateway, upstream: UpstreamServer,
                                                            tmp_path: Path, mode: str) -> None:
    gateway = start_gateway(service(upstream, mode=mode), stubs=str(tmp_path))
    with gateway.client() as client:
        response = client.get("/api/drifted/1")
    assert response.headers["x-gw-source"] == "live"
    assert response.headers["x-gw-contract"] == "violation"


def test_stub_answers_are_not_judged_by_the_proxy(start_gateway, upstream: UpstreamServer, tmp_path: Path) -> None:
    gateway = start_gateway(service(upstream, mode="stub"), stubs=str(tmp_path))
    with gateway.client() as client:
        response = client.get("/api/drifted/1")
    assert response.headers["x-gw-source"] in ("example", "generated")
    assert "x-gw-contract" not in response.headers


def test_record_mode_marks_the_answer_and_the_saved_stub(start_gateway, upstream: UpstreamServer,
                                                         tmp_path: Path) -> None:
    gateway = start_gateway(service(upstream, mode="record"), stubs=str(tmp_path))
    with gateway.client() as client:
        response = client.get("/api/drifted/3")
    assert response.headers["x-gw-contract"] == "violation"
    saved = [yaml.safe_load(p.read_text()) for p in (tmp_path / "drift").glob("*.yaml")]
    assert len(saved) == 1
    assert saved[0]["meta"]["contract"]["ok"] is False
    assert "body: 'name' is a required property" in saved[0]["meta"]["contract"]["violations"]
