"""Stub scenarios (`scenario`, `state`, `next_state`): a three-step polling flow over HTTP, sessions kept
apart by X-GW-Session, states listed, set and reset through the admin API, and one flow moved along by two
real `gw serve` processes sharing a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gw.stubs.format import StubError, read_stub
from tests.conftest import GatewayProcess, GatewayThread, RedisServer, gateway_config

JOB = {"type": "object", "required": ["status"],
       "properties": {"status": {"type": "string", "enum": ["pending", "done"]}, "result": {"type": "string"}}}
SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "jobs", "version": "1"},
    "paths": {"/jobs/{job_id}": {
        "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "get": {"operationId": "getJob", "responses": {
            "200": {"description": "finished", "content": {"application/json": {"schema": JOB}}},
            "202": {"description": "still running", "content": {"application/json": {"schema": JOB}}},
        }},
    }},
}
STUBS = {
    "1-queued.yaml": {"scenario": "export", "state": "Started", "next_state": "running",
                      "request": {"method": "GET", "path": "/jobs/1"},
                      "response": {"status": 202, "headers": {"Content-Type": "application/json"},
                                   "body": {"status": "pending"}}},
    "2-running.yaml": {"scenario": "export", "state": "running", "next_state": "finished",
                       "request": {"method": "GET", "path": "/jobs/1"},
                       "response": {"status": 202, "headers": {"Content-Type": "application/json"},
                                    "body": {"status": "pending"}}},
    "3-finished.yaml": {"scenario": "export", "state": "finished",
                        "request": {"method": "GET", "path": "/jobs/1"},
                        "response": {"status": 200, "headers": {"Content-Type": "application/json"},
                                     "body": {"status": "done", "result": "/exports/1.csv"}}},
}
ADMIN = {"X-GW-Admin": "1"}


def write_project(root: Path, **top: Any) -> Path:
    """jobs.yaml, its stubs, and a gateway.yaml serving them (what `gw serve` reads from `root`)."""
    (root / "jobs.yaml").write_text(yaml.safe_dump(SPEC))
    folder = root / "stubs" / "jobs"
    folder.mkdir(parents=True)
    for name, stub in STUBS.items():
        (folder / name).write_text(yaml.safe_dump(stub, sort_keys=False))
    config = {"services": {"jobs": {"spec": "jobs.yaml", "base_path": "/"}}, "reload": False, **top}
    (root / "gateway.yaml").write_text(yaml.safe_dump(config))
    return root


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = write_project(tmp_path_factory.mktemp("scenarios"))
    config = gateway_config({"jobs": {"spec": str(root / "jobs.yaml"), "base_path": "/"}}, stubs=str(root / "stubs"))
    with GatewayThread(config) as running:
        yield running


@pytest.fixture
def client(gateway: GatewayThread) -> Any:
    with gateway.client() as http:
        http.delete("/_gw/api/scenarios", headers=ADMIN).raise_for_status()  # each test starts from Started
        yield http


def poll(client: httpx.Client, session: str | None = None) -> tuple[int, dict[str, Any]]:
    response = client.get("/jobs/1", headers={"X-GW-Session": session} if session else {})
    assert response.headers["content-type"] == "application/json"
    assert "x-gw-contract" not in response.headers
    return response.status_code, response.json()


def test_polling_flow_answers_pending_pending_then_done(client: httpx.Client) -> None:
    answers = [poll(client) for _ in range(4)]
    assert answers == [(202, {"status": "pending"}), (202, {"status": "pending"}),
                       (200, {"status": "done", "result": "/exports/1.csv"}),
                       (200, {"status": "done", "result": "/exports/1.csv"})]  # no next_state: it stays


def test_each_answer_names_the_stub_that_gave_it(client: httpx.Client) -> None:
    stubs = [client.get("/jobs/1").headers["x-gw-stub"] for _ in range(3)]
    assert stubs == ["jobs/1-queued", "jobs/2-running", "jobs/3-finished"]


def test_sessions_are_isolated(client: httpx.Client) -> None:
    assert [poll(client, "alice")[0] for _ in range(3)] == [202, 202, 200]
    assert poll(client, "bob")[0] == 202  # bob's flow has not started moving
    assert poll(client)[0] == 202  # nor has the default session's
    assert poll(client, "alice")[0] == 200


def test_admin_api_lists_states_and_current_state_per_session(client: httpx.Client) -> None:
    poll(client, "alice")
    listing = client.get("/_gw/api/scenarios")
    assert listing.status_code == 200
    (export,) = listing.json()["scenarios"]
    assert export["name"] == "export"
    assert export["states"] == ["Started", "running", "finished"]
    assert sorted(export["stubs"]) == ["jobs/1-queued", "jobs/2-running", "jobs/3-finished"]
    assert export["sessions"] == {"default": "Started", "alice": "running"}
    one = client.get("/_gw/api/scenarios", params={"session": "bob"}).json()["scenarios"][0]
    assert one["sessions"] == {"bob": "Started"}


def test_admin_api_sets_a_state(client: httpx.Client) -> None:
    response = client.put("/_gw/api/scenarios/export", json={"state": "finished", "session": "carol"})
    assert response.status_code == 200
    assert response.json()["sessions"]["carol"] == "finished"
    assert poll(client, "carol")[0] == 200
    assert poll(client)[0] == 202  # the default session is where it was


def test_admin_api_refuses_unknown_scenarios_and_states(client: httpx.Client) -> None:
    unknown = client.put("/_gw/api/scenarios/nope", json={"state": "Started"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "export" in unknown.json()["detail"]
    bad_state = client.put("/_gw/api/scenarios/export", json={"state": "exploded"})
    assert bad_state.status_code == 400
    assert "running" in bad_state.json()["detail"]
    bad_session = client.put("/_gw/api/scenarios/export", json={"state": "running", "session": "a b"})
    assert bad_session.status_code == 400


def test_reset_one_session_or_all(client: httpx.Client) -> None:
    for session in ("alice", "bob"):
        poll(client, session)
        poll(client, session)
    assert client.delete("/_gw/api/scenarios", params={"session": "alice"}, headers=ADMIN).status_code == 204
    assert poll(client, "alice")[0] == 202
    assert poll(client, "bob")[0] == 200
    assert client.delete("/_gw/api/scenarios", headers=ADMIN).status_code == 204
    assert poll(client, "bob") == (202, {"status": "pending"})


def test_malformed_session_header_is_the_clients_mistake(client: httpx.Client) -> None:
    response = client.get("/jobs/1", headers={"X-GW-Session": "not ok!"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def write_stub(folder: Path, text: str) -> Path:
    path = folder / "stub.yaml"
    path.write_text(text)
    return path


def test_a_scenario_stub_must_name_its_state(tmp_path: Path) -> None:
    path = write_stub(tmp_path, "scenario: export\nrequest: {method: GET}\nresponse: {status: 200}\n")
    with pytest.raises(StubError, match=r"stub.yaml: state: a scenario stub names the state it answers in"):
        read_stub(path, "jobs")


def test_a_state_without_scenario_is_refused(tmp_path: Path) -> None:
    path = write_stub(tmp_path, "next_state: done\nrequest: {method: GET}\nresponse: {status: 200}\n")
    with pytest.raises(StubError, match="next_state: needs `scenario: NAME`"):
        read_stub(path, "jobs")


def test_two_gateway_processes_share_scenario_state_through_redis(
        tmp_path: Path, redis_server: RedisServer, gw_process: Callable[..., GatewayProcess]) -> None:
    write_project(tmp_path, redis_url=redis_server.url)
    first, second = (gw_process(cwd=tmp_path) for _ in range(2))
    first.wait_ready()
    second.wait_ready()
    with httpx.Client(timeout=10) as client:
        statuses = [client.get(f"{url}/jobs/1").status_code for url in (first.url, second.url, first.url)]
        assert statuses == [202, 202, 200]
        other = [client.get(f"{url}/jobs/1", headers={"X-GW-Session": "ci-2"}).status_code
                 for url in (second.url, first.url)]
        assert other == [202, 202]
        listed = client.get(f"{second.url}/_gw/api/scenarios").json()["scenarios"][0]["sessions"]
        assert listed == {"default": "finished", "ci-2": "finished"}
        assert client.delete(f"{second.url}/_gw/api/scenarios", headers=ADMIN).status_code == 204
        assert client.get(f"{first.url}/jobs/1").status_code == 202  # reset through one, seen by the other


def test_bundled_order_tracking_sample_moves_pending_paid_shipped(sample_client: httpx.Client) -> None:
    session = {"X-GW-Session": f"sample-{uuid.uuid4()}"}  # the sample gateway is shared: a flow of its own
    url = "/orders/orders/5ca1ab1e-0000-4000-8000-000000000001"
    answers = [sample_client.get(url, headers=session) for _ in range(4)]
    assert [r.json()["status"] for r in answers] == ["pending", "paid", "shipped", "shipped"]
    assert all(r.status_code == 200 and "x-gw-contract" not in r.headers for r in answers)


def test_gw_init_writes_commented_examples_of_templates_and_scenarios(tmp_path: Path) -> None:
    from gw.settings.init_config import init
    from tests.conftest import SPECS

    target, _, _ = init([SPECS / "users.yaml"], tmp_path)
    text = target.read_text()
    for example in ("#     template: true", "{{ request.path.id }}", "#   scenario: export-job", "#   state: Started",
                    "#   next_state: running", "# templates:", "#   max_output: 1mb", "/_gw/api/scenarios"):
        assert example in text
    uncommented = yaml.safe_load("\n".join(line.replace("# ", "", 1) if line.startswith("# templates:") or
                                           line.startswith("#   max_") else line for line in text.splitlines()))
    assert uncommented["templates"] == {"max_output": "1mb", "max_iterations": 10000}


def test_a_stub_in_another_state_is_a_near_miss_saying_so(tmp_path: Path, start_gateway: Any) -> None:
    (tmp_path / "jobs.yaml").write_text(yaml.safe_dump(SPEC))
    folder = tmp_path / "stubs" / "jobs"
    folder.mkdir(parents=True)
    (folder / "once.yaml").write_text(yaml.safe_dump({**STUBS["1-queued.yaml"], "next_state": "gone"}))
    gateway = start_gateway({"jobs": {"spec": str(tmp_path / "jobs.yaml"), "base_path": "/"}},
                            stubs=str(tmp_path / "stubs"), reload=False)
    with gateway.client() as client:
        first, second = client.get("/jobs/1"), client.get("/jobs/1")
    assert first.headers["x-gw-stub"] == "jobs/once"
    assert "x-gw-stub" not in second.headers  # answered from the spec instead
    assert second.headers["x-gw-near-miss"] == "once: scenario export: in state gone, this stub answers in Started"


def test_journal_says_which_scenario_step_answered(client: httpx.Client) -> None:
    answered = client.get("/jobs/1", headers={"X-GW-Session": "journal"})
    entry = client.get(f"/_gw/api/journal/{answered.headers['x-request-id']}").json()
    assert entry["stub"] == "jobs/1-queued"
    assert entry["notes"]["scenario"] == "export: Started -> running"
