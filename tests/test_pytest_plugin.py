"""The `gw_stubs` fixture: recorded stubs answer `requests` calls offline, through `responses`."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

STUBS = {
    "getUser-1.yaml": "request: {method: GET, path: /users/1}\n"
                      "response: {status: 200, headers: {Content-Type: application/json}, body: {id: 1, username: alice}}\n",
    "getUser-any.yaml": "request: {method: GET, path: {regex: '^/users/[0-9]+$'}}\n"
                        "response: {status: 404, headers: {Content-Type: application/problem+json}, body: '{\"status\": 404}'}\n",
    "listAdmins.yaml": "request: {method: GET, path: /users, query: {role: admin}}\n"
                       "response: {status: 200, body: {items: [{id: 1}]}}\n",
    "register.yaml": "request: {method: POST, path: /register, body: {$.username: {regex: '^a'}}}\n"
                     "response: {status: 201, headers: {Location: /users/9}, body: {id: 9}}\n",
}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    folder = tmp_path / "users"
    folder.mkdir()
    for name, text in STUBS.items():
        (folder / name).write_text(text)
    return tmp_path


def test_stubs_answer_requests_calls(gw_stubs, store: Path) -> None:
    gw_stubs("users", base_url="https://users.internal", stubs=store)
    assert requests.get("https://users.internal/users/1").json() == {"id": 1, "username": "alice"}
    assert requests.get("https://users.internal/users/2").status_code == 404
    assert requests.get("https://users.internal/users", params={"role": "admin"}).json() == {"items": [{"id": 1}]}
    created = requests.post("https://users.internal/register", json={"username": "ada"})
    assert (created.status_code, created.headers["Location"]) == (201, "/users/9")


def test_unmatched_calls_fail_loudly(gw_stubs, store: Path) -> None:
    gw_stubs("users", base_url="https://users.internal", stubs=store)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post("https://users.internal/register", json={"username": "zed"})
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("https://users.internal/users", params={"role": "viewer"})
