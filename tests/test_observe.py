"""One observe step sees each exchange (gateway/edge/observe.py): the id the client gets is the one in the access
log, the journal and the metrics; steps a configuration does not use are not in the chain at all.

Over real HTTP: a `gw serve` process logging JSON lines for the access log, in-process gateways for the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from gw.app import build_app
from gw.contract.step import ResponseContract
from gw.edge.body_limit import BodyLimit
from gw.edge.observe import Observe
from tests.conftest import SPECS, GatewayProcess, GatewayThread, gateway_config

USERS = {"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/users"}}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[dict[str, httpx.Response], list[dict]]]:
    """One `gw serve` process: a stub GET with the client's id, one without, a refusal, an unknown path, a health
    check; its access log lines once it has stopped."""
    gateway = GatewayProcess([str(SPECS / "users.yaml")])
    try:
        gateway.wait_ready()
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            answers = {
                "given": client.get("/users/1", headers={"X-Request-ID": "trace-42"}),
                "made": client.get("/users/1", headers={"X-Request-ID": "not sane!"}),
                "refused": client.get("/users/abc"),
                "unknown": client.get("/nowhere/at/all"),
                "health": client.get("/_gw/health"),
                "journal": client.get("/_gw/api/journal"),
            }
    finally:
        log = gateway.stop()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    yield answers, [line for line in lines if line.get("logger") == "gw.access"]


def access_line(lines: list[dict], request_id: str) -> dict:
    found = [line for line in lines if line["request_id"] == request_id]
    assert len(found) == 1, (request_id, lines)
    return found[0]


def test_a_sane_client_id_is_kept_and_logged_once_with_the_operation(served) -> None:
    answers, lines = served
    assert answers["given"].status_code == 200
    assert answers["given"].headers["x-request-id"] == "trace-42"
    line = access_line(lines, "trace-42")
    assert line["method"] == "GET" and line["path"] == "/users/1" and line["status"] == 200
    assert line["operation"] == "getUser" and line["mode"] == "stub" and line["source"] == "example"
    assert line["duration_ms"] > 0 and line["client"] == "127.0.0.1"


def test_an_insane_client_id_is_replaced_by_a_new_one_the_log_shows(served) -> None:
    answers, lines = served
    made = answers["made"].headers["x-request-id"]
    assert made != "not sane!" and len(made) == 32 and int(made, 16) >= 0
    assert access_line(lines, made)["status"] == 200


def test_refusals_and_unknown_paths_are_logged_with_their_problem(served) -> None:
    answers, lines = served
    refused, unknown = answers["refused"], answers["unknown"]
    assert refused.status_code == 400 and unknown.status_code == 404
    assert access_line(lines, refused.headers["x-request-id"])["problem"] == refused.headers["x-gw-problem"].split(":")[0]
    assert access_line(lines, unknown.headers["x-request-id"])["status"] == 404


def test_the_journal_holds_the_service_requests_not_the_gateways_own(served) -> None:
    answers, lines = served
    entries = answers["journal"].json()["entries"]
    assert [e["id"] for e in entries] == [answers[k].headers["x-request-id"] for k in ("given", "made", "refused", "unknown")]
    assert entries[0]["source"] == "example" and entries[2]["status"] == 400
    assert access_line(lines, answers["health"].headers["x-request-id"])["path"] == "/_gw/health"  # logged, not journaled


def test_the_journal_entry_shows_the_id_header_the_client_got(start_gateway) -> None:
    gateway = start_gateway(USERS, metrics=False)
    with gateway.client() as client:
        answer = client.get("/users/users/1", headers={"X-Request-ID": "seen-twice"})
        entry = client.get("/_gw/api/journal/seen-twice").json()
    assert answer.headers["x-request-id"] == "seen-twice"
    assert entry["response"]["headers"]["x-request-id"] == "seen-twice"


def test_the_observers_are_one_step_first_in_the_chain() -> None:
    app = build_app(gateway_config(USERS))
    steps = app.pipeline.steps
    assert isinstance(steps[0], Observe)
    assert sum(isinstance(step, Observe) for step in steps) == 1
    assert sum(isinstance(step, BodyLimit) for step in steps) == 1  # and the body's end with it: no step of its own


def test_without_a_contract_check_anywhere_the_validation_proxy_step_is_left_out() -> None:
    unchecked = build_app(gateway_config(USERS, contract={"check": False}))
    one_checks = build_app(gateway_config({**USERS, "orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders",
                                                               "contract": {"check": True}}}, contract={"check": False}))
    assert not any(isinstance(step, ResponseContract) for step in unchecked.pipeline.steps)
    assert any(isinstance(step, ResponseContract) for step in one_checks.pipeline.steps)


def test_with_the_check_off_a_live_answer_still_goes_through_unjudged(start_gateway) -> None:
    with GatewayThread(gateway_config(USERS)) as upstream_gateway:  # a stub gw plays the upstream
        gateway = start_gateway({"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/users", "mode": "live",
                                           "upstream": [f"{upstream_gateway.url}/users"]}}, contract={"check": False})
        with gateway.client() as client:
            answer = client.get("/users/users/1")
    assert answer.status_code == 200 and answer.headers.get_list("x-gw-source")[-1] == "live"  # the upstream gw said example
    assert answer.json()["id"] == 1 and "x-gw-contract" not in answer.headers
