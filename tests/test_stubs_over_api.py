"""Stubs and verification over the admin API, for tests in any language: a stub created, replaced and
removed over HTTP answers the service at once; one the contract does not allow is refused with each
reason; `persist` writes a file a restart loads; requests are counted, found and cleared over every
worker of a real `gw serve --workers 2` sharing a real redis-server; the pytest plugin's `gw` fixture."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml

from tests.conftest import SPECS, GatewayProcess, GatewayThread, RedisServer, eventually, gateway_config

ADA = {"id": 7, "username": "ada", "email": "ada@example.com", "role": "admin", "created_at": "2024-01-01T00:00:00Z"}
GET_7 = {"method": "GET", "path": "/users/7"}


def services() -> dict[str, dict[str, Any]]:
    return {"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/users"},
            "orders": {"spec": str(SPECS / "orders.yaml"), "base_path": "/orders"}}


@pytest.fixture(scope="module")
def stubs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stubs")


@pytest.fixture(scope="module")
def gateway(stubs_root: Path) -> Iterator[GatewayThread]:
    with GatewayThread(gateway_config(services(), stubs=str(stubs_root))) as served:
        yield served


@pytest.fixture
def client(gateway: GatewayThread) -> Iterator[httpx.Client]:
    with gateway.client(headers={"X-GW-Admin": "1"}) as http:
        yield http
        http.delete("/_gw/api/stubs")
        http.delete("/_gw/api/requests")


def stub(body: dict[str, Any], request: dict[str, Any] | None = None, status: int = 200, **extra: Any) -> dict[str, Any]:
    return {"service": "users", "request": request or GET_7,
            "response": {"status": status, "headers": {"Content-Type": "application/json"}, "body": body}, **extra}


def test_a_stub_created_over_http_answers_at_once_then_is_replaced_and_removed(client: httpx.Client) -> None:
    created = client.post("/_gw/api/stubs", json=stub(ADA))
    assert created.status_code == 201, created.text
    stub_id = created.json()["id"]
    assert created.headers["location"] == f"/_gw/api/stubs/{stub_id}"
    assert created.json()["meta"]["operation"] == "getUser"

    answer = client.get("/users/users/7")
    assert (answer.status_code, answer.headers["x-gw-source"], answer.json()) == (200, "recorded", ADA)
    assert client.get("/users/users/8").headers["x-gw-source"] != "recorded"  # only what it matches
    assert client.get(created.headers["location"]).json()["response"]["body"] == ADA

    replaced = client.put(created.headers["location"], json=stub({**ADA, "username": "lovelace"}))
    assert replaced.status_code == 200, replaced.text
    assert client.get("/users/users/7").json()["username"] == "lovelace"

    assert client.delete(created.headers["location"]).status_code == 204
    after = client.get("/users/users/7")
    assert after.status_code == 200 and after.headers["x-gw-source"] != "recorded"
    gone = client.get(created.headers["location"])
    assert gone.status_code == 404 and gone.headers["content-type"] == "application/problem+json"
    assert client.delete(created.headers["location"]).status_code == 404


def test_a_stub_takes_the_documented_content_type_when_it_names_none(client: httpx.Client) -> None:
    missing = {"service": "users", "request": {"method": "GET", "path": "/users/404"},
               "response": {"status": 404, "body": {"type": "about:blank", "title": "Not Found", "status": 404}}}
    created = client.post("/_gw/api/stubs", json=missing)
    assert created.status_code == 201, created.text
    answer = client.get("/users/users/404")
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("application/problem+json")


def test_a_newer_api_stub_wins_a_tie_with_a_stub_file(gateway: GatewayThread, stubs_root: Path,
                                                      client: httpx.Client) -> None:
    folder = stubs_root / "users"
    folder.mkdir(exist_ok=True)
    (folder / "file-7.yaml").write_text(yaml.safe_dump({"request": GET_7, "response": {
        "status": 200, "headers": {"Content-Type": "application/json"}, "body": {**ADA, "username": "from_file"}}}))
    try:
        assert client.post("/_gw/api/stubs/reload").status_code == 200
        assert client.get("/users/users/7").json()["username"] == "from_file"
        assert client.post("/_gw/api/stubs", json=stub(ADA)).status_code == 201
        assert client.get("/users/users/7").json()["username"] == "ada"
        assert client.post("/_gw/api/stubs/reload").status_code == 200  # a reload keeps the API's stubs
        assert client.get("/users/users/7").json()["username"] == "ada"
    finally:
        (folder / "file-7.yaml").unlink()
        client.post("/_gw/api/stubs/reload")


@pytest.mark.parametrize(("body", "place", "words"), [
    (stub({"id": 7, "username": "ada"}), "response", "email"),                 # required fields missing
    (stub({**ADA, "id": "seven"}), "response", "integer"),                      # wrong type
    (stub(ADA, status=418), "response", "418 is not declared"),                 # undocumented status
    (stub(ADA, request={"method": "GET", "path": "/users/users/7"}), "request", "below the base path"),
    (stub(ADA, request={"method": "DELETE", "path": "/users/7"}), "request", "no operation for DELETE"),
    (stub(ADA, meta={"operation": "nope"}), "meta.operation", "no operation 'nope'"),
    (stub(ADA, request={"method": "FETCH", "path": "/users/7"}), "request.method", "HTTP method"),
    (stub(ADA, request={"method": "GET", "path": {"regex": "(["}}), "request.path", "bad regex"),
    ({**stub(ADA), "service": "nope"}, "service", "no service 'nope'"),
    ({**stub(ADA), "response": {"status": 200, "body_file": "x.json"}}, "response.body_file", "send the body"),
])
def test_a_stub_breaking_the_contract_is_refused_with_each_reason(client: httpx.Client, body: dict[str, Any],
                                                                  place: str, words: str) -> None:
    refused = client.post("/_gw/api/stubs", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["status"] == 422 and problem["title"] == "Stub does not fit the contract"
    assert any(e["name"] == place and words in e["message"] for e in problem["errors"]), problem
    assert problem["errors"][0]["message"] in problem["detail"]  # one readable line; `errors` has every reason
    assert client.get("/_gw/api/stubs", params={"service": "users"}).json()["stubs"] == []


def test_a_body_that_is_not_a_stub_is_refused_by_the_admin_router(client: httpx.Client) -> None:
    for body in ({"service": "users", "request": GET_7}, {**stub(ADA), "extra": 1}, {**stub(ADA), "request": {}}):
        refused = client.post("/_gw/api/stubs", json=body)
        assert refused.status_code == 400 and refused.headers["content-type"] == "application/problem+json", refused.text


def test_a_persisted_stub_is_a_file_written_whole_that_a_restart_loads(client: httpx.Client, stubs_root: Path,
                                                                       tmp_path: Path) -> None:
    created = client.post("/_gw/api/stubs", json=stub(ADA, id="ada-7", persist=True))
    assert created.status_code == 201, created.text
    file = stubs_root / "users" / "ada-7.yaml"
    written = yaml.safe_load(file.read_text())
    assert written["request"] == GET_7 and written["response"]["body"] == ADA
    assert written["meta"]["operation"] == "getUser"
    assert not [p.name for p in file.parent.iterdir() if p.name.endswith(".tmp")]  # renamed into place, no leftovers
    assert client.post("/_gw/api/stubs", json=stub(ADA, id="ada-7")).status_code == 409
    assert client.delete("/_gw/api/stubs").json() == {"removed": 0}  # persisted stubs are files: they stay

    with GatewayThread(gateway_config(services(), stubs=str(stubs_root))) as restarted, restarted.client() as again:
        answer = again.get("/users/users/7")
        assert (answer.headers["x-gw-source"], answer.json()) == ("recorded", ADA)
        removed = again.delete(f"/_gw/api/stubs/{quote('users/ada-7', safe='')}", headers={"X-GW-Admin": "1"})
        assert removed.status_code == 204, removed.text
        assert not file.exists()
        assert again.get("/users/users/7").headers["x-gw-source"] != "recorded"
    assert client.delete("/_gw/api/stubs/ada-7").status_code == 204  # the first gateway's copy goes too
    assert not file.exists()


def test_the_stub_store_endpoints_show_and_remove_api_stubs_and_side_files(client: httpx.Client,
                                                                           stubs_root: Path) -> None:
    stub_id = client.post("/_gw/api/stubs", json=stub(ADA)).json()["id"]
    listed = client.get("/_gw/api/stubs", params={"service": "users"}).json()["stubs"]
    assert [s["id"] for s in listed] == [stub_id]
    shown = client.get(f"/_gw/api/stubs/users/{stub_id}")
    assert shown.status_code == 200 and yaml.safe_load(shown.json()["content"])["response"]["body"] == ADA
    assert client.delete(f"/_gw/api/stubs/users/{stub_id}").status_code == 204
    assert client.get(f"/_gw/api/stubs/{stub_id}").status_code == 404  # gone from the shared document too
    assert client.get("/users/users/7").headers["x-gw-source"] != "recorded"

    folder = stubs_root / "users"
    folder.mkdir(exist_ok=True)
    (folder / "big.yaml").write_text("request: {method: GET, path: /users/9}\n"
                                     "response: {status: 200, headers: {Content-Type: application/json}, "
                                     "body_file: big.body}\n")
    (folder / "big.body").write_text('{"id": 9, "username": "big", "email": "b@example.com", "role": "viewer", '
                                     '"created_at": "2024-01-01T00:00:00Z"}')
    assert client.post("/_gw/api/stubs/reload").json()["errors"] == []
    assert client.get("/users/users/9").json()["username"] == "big"
    assert client.delete("/_gw/api/stubs/users%2Fbig").status_code == 204
    assert not (folder / "big.yaml").exists() and not (folder / "big.body").exists()
    assert client.get("/users/users/9").headers["x-gw-source"] != "recorded"


def test_requests_are_counted_found_and_cleared_by_a_stub_file_request_block(client: httpx.Client) -> None:
    for user in (1, 2, 2):
        client.get(f"/users/users/{user}", headers={"Authorization": "Bearer secret-token"})
    client.get("/users/users", params={"role": "admin", "limit": "5"})
    client.get("/orders/orders")

    def count(request: dict[str, Any], service: str = "users") -> int:
        answer = client.post("/_gw/api/requests/count", json={"service": service, "request": request})
        assert answer.status_code == 200, answer.text
        return answer.json()["count"]

    assert count({"method": "GET", "path": "/users/2"}) == 2
    assert count({"method": "GET", "path": {"regex": "^/users/[0-9]+$"}}) == 3
    assert count({"method": "GET", "path": "/users", "query": {"role": "admin"}}) == 1
    assert count({"method": "GET", "headers": {"Authorization": {"regex": "^Bearer "}}}) == 3
    assert count({"method": "POST"}) == 0
    assert count({"method": "GET"}, "orders") == 1

    found = client.post("/_gw/api/requests/find", json={"service": "users", "request": {"method": "GET", "path": "/users/2"}})
    assert found.status_code == 200 and found.json()["count"] == 2
    first = found.json()["requests"][0]
    assert (first["path"], first["status"], first["operation"]) == ("/users/users/2", 200, "getUser")
    assert first["request"]["headers"]["authorization"] == "[REDACTED]"

    refused = client.post("/_gw/api/requests/count", json={"service": "users", "request": {"method": "GET", "query": []}})
    assert refused.status_code in (400, 422) and refused.headers["content-type"] == "application/problem+json"

    assert client.delete("/_gw/api/requests").status_code == 204
    assert count({"method": "GET"}) == 0


def test_body_fields_of_read_requests_are_matched(client: httpx.Client) -> None:
    client.post("/users/register", json={"username": "ada_l", "email": "ada@example.com", "password": "correct-horse-9"})
    client.post("/users/register", json={"username": "bob_b", "email": "bob@example.com", "password": "correct-horse-9"})
    query = {"service": "users", "request": {"method": "POST", "path": "/register", "body": {"$.username": "ada_l"}}}
    assert client.post("/_gw/api/requests/count", json=query).json() == {"count": 1}


def test_a_body_over_journal_max_body_is_not_kept_so_its_fields_never_match(stubs_root: Path) -> None:
    config = gateway_config(services(), stubs=str(stubs_root), admin={"journal_max_body": 80})
    with GatewayThread(config) as served, served.client(headers={"X-GW-Admin": "1"}) as http:
        http.post("/users/register", json={"username": "ada_l", "email": "a@example.com", "password": "correct-horse-9"})
        http.post("/users/register", json={"username": "ada_l", "email": "a" * 100 + "@example.com",
                                            "password": "correct-horse-9"})
        query = {"service": "users", "request": {"method": "POST", "path": "/register", "body": {"$.username": "ada_l"}}}
        assert http.post("/_gw/api/requests/count", json=query).json() == {"count": 1}  # the short one only
        assert http.post("/_gw/api/requests/count",
                         json={"service": "users", "request": {"method": "POST", "path": "/register"}}).json() == {"count": 2}


# -- several workers: one gateway ------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def two_workers(redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    cwd = tmp_path_factory.mktemp("workers")
    process = GatewayProcess([str(SPECS / "users.yaml"), "--workers", "2"], cwd=cwd, env={"GW_REDIS_URL": redis.url})
    process.wait_ready(120)  # two workers each loading the spec, on a busy machine
    yield process
    process.stop()


def fresh(url: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request on a connection of its own: the kernel hands each new connection to either worker."""
    with httpx.Client(base_url=url, timeout=10) as http:
        return http.request(kwargs.pop("method", "GET"), path, **kwargs)


def test_two_workers_serve_api_stubs_and_count_the_whole_gateway(two_workers: GatewayProcess) -> None:
    url = two_workers.url
    admin = {"X-GW-Admin": "1"}
    pids = eventually(lambda: {fresh(url, "/_gw/health/detailed").json()["pid"] for _ in range(20)},
                      lambda seen: len(seen) == 2, timeout=30)
    assert len(pids) == 2  # both workers take connections

    created = fresh(url, "/_gw/api/stubs", method="POST", headers=admin, json=stub(ADA))
    assert created.status_code == 201, created.text
    answers = [fresh(url, "/users/7") for _ in range(30)]
    assert all(a.headers["x-gw-source"] == "recorded" and a.json() == ADA for a in answers)  # whichever worker

    query = {"service": "users", "request": GET_7}
    counted = fresh(url, "/_gw/api/requests/count", method="POST", headers=admin, json=query)
    assert counted.status_code == 200 and counted.json() == {"count": 30}, counted.text
    found = fresh(url, "/_gw/api/requests/find", method="POST", headers=admin, json={**query, "limit": 50})
    assert found.json()["count"] == 30
    stamps = [entry["ts"] for entry in found.json()["requests"]]
    assert stamps == sorted(stamps)

    assert fresh(url, "/_gw/api/requests", method="DELETE", headers=admin).status_code == 204
    for _ in range(5):
        assert fresh(url, "/_gw/api/requests/count", method="POST", headers=admin, json=query).json() == {"count": 0}
    assert fresh(url, created.headers["location"], method="DELETE", headers=admin).status_code == 204
    assert all(fresh(url, "/users/7").headers["x-gw-source"] != "recorded" for _ in range(10))


def test_gateways_sharing_redis_serve_one_set_of_api_stubs_a_late_one_included(redis_server: RedisServer,
                                                                               tmp_path: Path) -> None:
    """A Redis of their own: every process subscribed to one Redis is part of the same gateway."""

    def start() -> GatewayThread:
        return GatewayThread(gateway_config(services(), stubs=str(tmp_path), redis_url=redis_server.url, reload=False))

    with start() as one, start() as two, one.client(headers={"X-GW-Admin": "1"}) as first, two.client() as second:
        created = first.post("/_gw/api/stubs", json=stub(ADA))
        assert created.status_code == 201, created.text
        assert second.get("/users/users/7").json() == ADA  # at once: applied by both before the 201
        first.get("/users/users/7")
        query = {"service": "users", "request": GET_7}
        assert second.post("/_gw/api/requests/count", json=query, headers={"X-GW-Admin": "1"}).json() == {"count": 2}
        with start() as late, late.client() as third:
            eventually(lambda: third.get(created.headers["location"]).status_code == 200)  # read at its start
            assert third.get("/users/users/7").headers["x-gw-source"] == "recorded"
            assert third.post("/_gw/api/requests/count", json=query, headers={"X-GW-Admin": "1"}).json() == {"count": 3}
        assert first.delete(created.headers["location"]).status_code == 204
        assert second.get("/users/users/7").headers["x-gw-source"] != "recorded"
        assert first.delete("/_gw/api/requests").status_code == 204
        assert second.post("/_gw/api/requests/count", json=query, headers={"X-GW-Admin": "1"}).json() == {"count": 0}


def test_gateways_on_other_databases_of_one_redis_are_other_gateways(redis_server: RedisServer, tmp_path: Path) -> None:
    def start(db: int) -> GatewayThread:
        url = redis_server.url.rsplit("/", 1)[0] + f"/{db}"
        return GatewayThread(gateway_config(services(), stubs=str(tmp_path), redis_url=url, reload=False))

    query = {"service": "users", "request": GET_7}
    with start(0) as one, start(1) as other, one.client(headers={"X-GW-Admin": "1"}) as first, \
            other.client(headers={"X-GW-Admin": "1"}) as second:
        assert first.post("/_gw/api/stubs", json=stub(ADA)).status_code == 201
        assert first.get("/users/users/7").headers["x-gw-source"] == "recorded"
        assert second.get("/users/users/7").headers["x-gw-source"] != "recorded"
        assert first.post("/_gw/api/requests/count", json=query).json() == {"count": 1}
        assert second.post("/_gw/api/requests/count", json=query).json() == {"count": 1}


def test_an_unreachable_redis_is_a_503_never_a_partial_answer(tmp_path: Path) -> None:
    from gw.core.port_check import free_port

    config = gateway_config(services(), stubs=str(tmp_path), redis_url=f"redis://127.0.0.1:{free_port()}/0", reload=False)
    with GatewayThread(config) as gateway, gateway.client(headers={"X-GW-Admin": "1"}) as http:
        for refused in (http.post("/_gw/api/stubs", json=stub(ADA)),
                        http.post("/_gw/api/requests/count", json={"service": "users", "request": GET_7})):
            assert refused.status_code == 503 and refused.headers["content-type"] == "application/problem+json"
            assert "not every gateway process can be reached" in refused.json()["detail"]
        assert http.get("/users/users/7").status_code == 200  # the services still answer


def test_several_workers_without_redis_refuse_rather_than_answer_for_one(stubs_root: Path) -> None:
    """What each of `gw serve --workers 2`'s processes sees without redis_url: no channel to the other one."""
    with GatewayThread(gateway_config(services(), stubs=str(stubs_root), workers=2)) as worker, \
            worker.client(headers={"X-GW-Admin": "1"}) as http:
        refused = http.post("/_gw/api/requests/count", json={"service": "users", "request": GET_7})
        assert refused.status_code == 503 and refused.headers["content-type"] == "application/problem+json"
        assert "2 worker processes" in refused.json()["detail"] and "set redis_url" in refused.json()["detail"]
        assert http.post("/_gw/api/stubs", json=stub(ADA)).status_code == 503
        assert http.get("/users/users/7").headers["x-gw-source"] != "recorded"


# -- the pytest plugin ------------------------------------------------------------------------------

pytest_plugins = ["pytester"]


def test_the_gw_fixture_stubs_counts_finds_and_resets(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", gateway=textwrap.dedent(f"""
        services:
          users:
            spec: {SPECS / 'users.yaml'}
            base_path: /api/users
    """))
    pytester.makepyfile(test_consumer=textwrap.dedent("""
        import requests

        ADA = {"id": 7, "username": "ada", "email": "ada@example.com", "role": "admin",
               "created_at": "2024-01-01T00:00:00Z"}

        def test_profile_calls_the_api_once(gw):
            gw.service = "users"
            stub_id = gw.stub({"request": {"method": "GET", "path": "/users/7"},
                               "response": {"status": 200, "body": ADA}})
            assert stub_id
            assert requests.get(gw.service_url("users") + "/users/7", timeout=10).json() == ADA
            assert gw.count({"method": "GET", "path": "/users/7"}) == 1
            assert gw.find({"service": "users", "request": {"method": "GET"}})[0]["path"] == "/api/users/users/7"

        def test_the_stub_is_gone_after_the_test_that_made_it(gw):
            answer = requests.get(gw.service_url("users") + "/users/7", timeout=10)
            assert answer.headers["x-gw-source"] != "recorded"
            gw.reset()
            assert gw.count({"service": "users", "request": {"method": "GET"}}) == 0

        def test_a_stub_breaking_the_contract_fails_the_test_with_the_reason(gw):
            try:
                gw.stub({"service": "users", "request": {"method": "GET", "path": "/users/7"},
                         "response": {"status": 418, "body": ADA}})
            except AssertionError as exc:
                assert "422" in str(exc) and "418 is not declared" in str(exc)
            else:
                raise AssertionError("taken")
    """))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_a_gateway_the_test_started_is_driven_the_same_way(gw_gateway) -> None:
    gateway = gw_gateway(SPECS / "users.yaml")
    gateway.gw.service = "users"
    stub_id = gateway.gw.stub({"request": GET_7, "response": {"status": 200, "body": ADA}})
    assert httpx.get(gateway.url + "/users/7").json() == ADA
    assert gateway.gw.count(GET_7) == 1 and gateway.gw.find(GET_7)[0]["stub"] == f"users/{stub_id}"
    gateway.gw.remove(stub_id)
    assert httpx.get(gateway.url + "/users/7").headers["x-gw-source"] != "recorded"


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = ("import sys; import gw.pytest_plugin; "
            "print(sorted(m for m in ('responses', 'requests', 'httpx', 'gw.stubs', 'gw.operator.admin.client', "
            "'yaml', 'jsonschema') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
