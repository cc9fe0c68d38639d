"""`admin.journal_size: 0` turns the request journal off, as WireMock's --no-request-journal does for load tests:
answers are unchanged, nothing is kept, and whatever would read the journal says it is off instead of a false 0."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gw.operator.journal import JOURNAL_OFF
from tests.conftest import SPECS, GatewayProcess, GatewayThread, gateway_config, run_gw

QUERY = {"service": "users", "request": {"method": "GET", "path": "/users/1"}}
USERS = {"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/"}}


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayThread]:
    with GatewayThread(gateway_config(USERS, admin={"journal_size": 0})) as served:
        yield served


@pytest.fixture
def client(gateway: GatewayThread) -> Iterator[httpx.Client]:
    with gateway.client(headers={"X-GW-Admin": "1"}) as http:
        yield http


def test_answers_are_the_same_with_the_journal_off(client: httpx.Client) -> None:
    answer = client.get("/users/1")
    assert answer.status_code == 200
    assert answer.json()["id"] == 1
    assert answer.headers["x-gw-source"] == "example"
    assert len(answer.headers["x-request-id"]) == 32


def test_nothing_is_kept_and_the_listing_says_its_size_is_0(client: httpx.Client) -> None:
    client.get("/users/1")
    listed = client.get("/_gw/api/journal")
    assert listed.status_code == 200
    assert listed.json()["entries"] == []
    assert listed.json()["size"] == 0


@pytest.mark.parametrize("path", ["/_gw/api/requests/count", "/_gw/api/requests/find"])
def test_counting_or_finding_requests_is_refused_not_answered_0(client: httpx.Client, path: str) -> None:
    client.get("/users/1")
    refused = client.post(path, json=QUERY)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == JOURNAL_OFF
    assert refused.json()["title"] == "Journal off"


def test_an_entry_asked_by_id_is_missing_because_the_journal_is_off(client: httpx.Client) -> None:
    request_id = client.get("/users/1").headers["x-request-id"]
    missing = client.get(f"/_gw/api/journal/{request_id}")
    assert missing.status_code == 404
    assert missing.json()["detail"] == JOURNAL_OFF


def test_a_journal_of_size_1_still_keeps_one_exchange() -> None:
    with GatewayThread(gateway_config(USERS, admin={"journal_size": 1})) as served, \
            served.client(headers={"X-GW-Admin": "1"}) as http:
        http.get("/users/1")
        http.get("/users/2")
        listed = http.get("/_gw/api/journal").json()
        assert [entry["path"] for entry in listed["entries"]] == ["/users/2"]
        assert http.post("/_gw/api/requests/count", json=QUERY).json() == {"count": 0}  # /users/1 fell out


def test_gw_journal_says_in_one_line_that_the_gateway_keeps_none(gw_process: Callable[..., GatewayProcess],
                                                                  tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text(f"services:\n  users:\n    spec: {SPECS / 'users.yaml'}\n")
    served = gw_process(cwd=tmp_path, env={"GW_ADMIN__JOURNAL_SIZE": "0"}).wait_ready()
    httpx.get(f"{served.url}/users/users/1")
    result = run_gw("journal", "--url", served.url, cwd=tmp_path)
    assert result.returncode != 0
    assert "that gateway keeps no journal (admin.journal_size: 0)" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
