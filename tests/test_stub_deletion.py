"""One stub deletion (StubStore.delete) for the admin API and `gw stubs prune`: the stub file and its side
files go (the `body_file` it names, the recorder's `<id>.body`), a side file outside the stubs folder or used by
another stub stays and is named, and the stub file always goes before its body (a crash leaves no stub pointing
at a missing body). Real files in temp folders, a real gateway on loopback, the real CLI."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gw.stubs import StubStore
from tests.conftest import ROOT, SPECS, GatewayThread, gateway_config, run_gw

USER = '{"id": %d, "username": "u%d", "email": "u@example.com", "role": "viewer", "created_at": "2024-01-01T00:00:00Z"}'


def write_stub(folder: Path, name: str, user: int, body_file: str, operation: str = "getUser") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{name}.yaml"
    file.write_text(f"request: {{method: GET, path: /users/{user}}}\n"
                    f"response: {{status: 200, headers: {{Content-Type: application/json}}, body_file: '{body_file}'}}\n"
                    f"meta: {{operation: {operation}}}\n")
    return file


def write_body(path: Path, user: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(USER % (user, user))
    return path


# -- through the admin API ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stubs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deletion") / "stubs"


@pytest.fixture(scope="module")
def gateway(stubs_root: Path) -> Iterator[GatewayThread]:
    stubs_root.mkdir()
    services = {"users": {"spec": str(SPECS / "users.yaml"), "base_path": "/users"}}
    with GatewayThread(gateway_config(services, stubs=str(stubs_root))) as served:
        yield served


@pytest.fixture
def client(gateway: GatewayThread) -> Iterator[httpx.Client]:
    with gateway.client(headers={"X-GW-Admin": "1"}) as http:
        yield http


def reload(client: httpx.Client) -> None:
    reloaded = client.post("/_gw/api/stubs/reload")
    assert reloaded.status_code == 200 and reloaded.json()["errors"] == [], reloaded.text


def test_deleting_a_stub_over_the_api_removes_its_body_file_in_a_subfolder(client: httpx.Client, stubs_root: Path) -> None:
    folder = stubs_root / "users"
    stub = write_stub(folder, "with-body", 21, "bodies/u21.json")
    body = write_body(folder / "bodies" / "u21.json", 21)
    reload(client)
    assert client.get("/users/users/21").json()["username"] == "u21"

    deleted = client.delete("/_gw/api/stubs/users/with-body")

    assert deleted.status_code == 204, deleted.text
    assert "x-gw-kept" not in deleted.headers
    assert not stub.exists() and not body.exists()
    assert client.get("/users/users/21").headers["x-gw-source"] != "recorded"


def test_a_body_outside_the_stubs_folder_stays_and_the_answer_says_so(client: httpx.Client, stubs_root: Path) -> None:
    outside = write_body(stubs_root.parent / "shared-bodies" / "u22.json", 22)
    stub = write_stub(stubs_root / "users", "outside", 22, "../../shared-bodies/u22.json")
    reload(client)
    assert client.get("/users/users/22").json()["username"] == "u22"

    deleted = client.delete("/_gw/api/stubs/users%2Foutside", headers={"X-GW-Admin": "1"})

    assert deleted.status_code == 204, deleted.text
    assert not stub.exists()
    assert outside.exists()
    assert deleted.headers["x-gw-kept"].startswith("u22.json: outside the stubs folder")


def test_a_body_two_stubs_share_goes_with_the_last_of_them(client: httpx.Client, stubs_root: Path) -> None:
    folder = stubs_root / "users"
    first = write_stub(folder, "shared-a", 23, "shared.body")
    second = write_stub(folder, "shared-b", 24, "shared.body")
    body = write_body(folder / "shared.body", 23)
    reload(client)

    kept = client.delete("/_gw/api/stubs/users/shared-a")
    assert kept.status_code == 204
    assert not first.exists() and body.exists()
    assert kept.headers["x-gw-kept"] == "shared.body: users/shared-b.yaml uses it too"
    assert client.get("/users/users/24").json()["username"] == "u23"  # the other stub still answers with it

    gone = client.delete("/_gw/api/stubs/users/shared-b")
    assert gone.status_code == 204 and "x-gw-kept" not in gone.headers
    assert not second.exists() and not body.exists()


def test_deleting_a_stub_that_is_not_there_is_a_404_problem(client: httpx.Client) -> None:
    missing = client.delete("/_gw/api/stubs/users/no-such-stub")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


# -- through `gw stubs prune` --------------------------------------------------------------------------------------


def project(tmp_path: Path) -> Path:
    shutil.copytree(SPECS, tmp_path / "specs")
    shutil.copy(ROOT / "gateway.yaml", tmp_path / "gateway.yaml")
    return tmp_path / "stubs" / "users"


def test_prune_removes_stale_stubs_with_their_body_files(tmp_path: Path) -> None:
    folder = project(tmp_path)
    live = write_stub(folder, "getUser-1", 1, "getUser-1.body")
    write_body(folder / "getUser-1.body", 1)
    stale = write_stub(folder, "gone-1", 1, "bodies/gone-1.json", operation="deleteUser")
    body = write_body(folder / "bodies" / "gone-1.json", 1)
    recorded = write_body(folder / "gone-1.body", 1)  # the recorder's side file beside it

    dry = run_gw("stubs", "prune", "--dry-run", cwd=tmp_path, env={"COLUMNS": "200"})
    assert "would remove users/gone-1  (deleteUser is not in the spec)" in dry.stdout
    assert stale.exists() and body.exists()

    done = run_gw("stubs", "prune", cwd=tmp_path, env={"COLUMNS": "200"})

    assert done.returncode == 0, done.stderr
    assert "removed users/gone-1" in done.stdout
    assert not stale.exists() and not body.exists() and not recorded.exists()
    assert live.exists() and (folder / "getUser-1.body").exists()
    assert "nothing to prune" in run_gw("stubs", "prune", cwd=tmp_path).stdout


def test_prune_keeps_a_body_a_live_stub_uses_and_one_outside_and_says_so(tmp_path: Path) -> None:
    folder = project(tmp_path)
    write_stub(folder, "getUser-2", 2, "common.body")
    common = write_body(folder / "common.body", 2)
    write_stub(folder, "gone-2", 2, "common.body", operation="deleteUser")
    outside = write_body(tmp_path / "elsewhere" / "u3.json", 3)
    write_stub(folder, "gone-3", 3, str(outside), operation="deleteUser")  # an absolute path, outside stubs/

    done = run_gw("stubs", "prune", cwd=tmp_path, env={"COLUMNS": "300"})

    assert done.returncode == 0, done.stderr
    assert not (folder / "gone-2.yaml").exists() and not (folder / "gone-3.yaml").exists()
    assert common.exists() and outside.exists()
    assert "error" not in done.stderr
    assert "common.body: kept: users/getUser-2.yaml uses it too" in done.stderr
    assert "u3.json: kept: outside the stubs folder" in done.stderr


# -- the order that makes a crash harmless ------------------------------------------------------------------------


def test_every_stub_file_goes_before_any_body(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "stubs"
    folder = root / "users"
    stubs = [write_stub(folder, f"s{n}", n, f"bodies/s{n}.json") for n in range(3)]
    bodies = [write_body(folder / "bodies" / f"s{n}.json", n) for n in range(3)]
    store = StubStore(root, ["users"])
    assert store.errors == [] and len(store.all()) == 3
    removed: list[str] = []
    unlink = Path.unlink

    def recording(path: Path, missing_ok: bool = False) -> None:
        removed.append(path.name)
        unlink(path, missing_ok)

    monkeypatch.setattr(Path, "unlink", recording)

    deletions = store.delete(*store.all())

    assert removed == ["s0.yaml", "s1.yaml", "s2.yaml", "s0.json", "s1.json", "s2.json"]
    assert [d.removed for d in deletions] == [[s, b.resolve()] for s, b in zip(stubs, bodies, strict=True)]
    assert store.all() == []
    assert not any(p.exists() for p in [*stubs, *bodies])
