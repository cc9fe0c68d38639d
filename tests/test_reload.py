"""A running gateway picks up added, edited and broken stub files and specs without a restart."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import httpx

from tests.conftest import SPECS, GatewayThread, eventually


def start(start_gateway, tmp_path: Path) -> GatewayThread:
    shutil.copytree(SPECS, tmp_path / "specs")
    return start_gateway({"users": {"spec": str(tmp_path / "specs" / "users.yaml")}},
                         stubs=str(tmp_path / "stubs"), reload_interval=0.1)


def test_an_added_stub_file_answers_without_a_restart(start_gateway, tmp_path: Path) -> None:
    gateway = start(start_gateway, tmp_path)
    with gateway.client() as client:
        assert client.get("/users/users/1").headers["x-gw-source"] == "example"
        stub = tmp_path / "stubs" / "users" / "alice.yaml"
        stub.parent.mkdir(parents=True)
        stub.write_text("request: {method: GET, path: /users/1}\nresponse: {status: 200, body: {id: 1, v: 1}}\n")
        assert eventually(lambda: client.get("/users/users/1").headers["x-gw-source"] == "recorded")
        stub.write_text("request: {method: GET, path: /users/1}\nresponse: {status: 200, body: {id: 1, v: 2}}\n")
        assert eventually(lambda: client.get("/users/users/1").json().get("v") == 2)


def test_a_broken_stub_file_is_reported_and_the_rest_keep_serving(start_gateway, tmp_path: Path) -> None:
    gateway = start(start_gateway, tmp_path)
    folder = tmp_path / "stubs" / "users"
    folder.mkdir(parents=True)
    (folder / "alice.yaml").write_text("request: {method: GET, path: /users/1}\nresponse: {status: 200, body: {id: 1}}\n")
    with gateway.client() as client:
        assert eventually(lambda: client.get("/users/users/1").headers["x-gw-source"] == "recorded")
        (folder / "bad.yaml").write_text("request: [oops\n")
        assert eventually(lambda: len(gateway.app.stubs.errors) == 1)
        assert client.get("/users/users/1").headers["x-gw-source"] == "recorded"


def test_an_edited_spec_is_served_and_a_broken_edit_keeps_the_last_good_one(start_gateway, tmp_path: Path) -> None:
    gateway = start(start_gateway, tmp_path)
    spec = tmp_path / "specs" / "users.yaml"
    original = spec.read_text()
    with gateway.client() as client:
        assert client.get("/users/users/1").json()["username"] == "alice"
        spec.write_text(original.replace("username: alice", "username: alicia", 1))
        assert eventually(lambda: client.get("/users/users/1").json()["username"] == "alicia")
        refused: list[logging.LogRecord] = []
        handler = logging.Handler(logging.ERROR)
        handler.emit = refused.append  # type: ignore[method-assign]
        logging.getLogger("gw.reload").addHandler(handler)
        try:
            spec.write_text("openapi: 3.0.3\ninfo: {title: broken}\npaths: {}\n")
            eventually(lambda: any("spec not reloaded" in r.getMessage() for r in refused), timeout=30)
        finally:
            logging.getLogger("gw.reload").removeHandler(handler)
        response = client.get("/users/users/1")
        assert response.status_code == 200 and response.json()["username"] == "alicia"
        assert httpx.get(f"{gateway.url}/_gw/ready").status_code == 200
