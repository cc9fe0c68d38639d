"""`gw init` as a user types it, in a fresh folder: the file it writes loads, and `gw serve` starts with it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from gw.settings.config import load_config
from tests.conftest import SPECS, GatewayProcess, run_cli


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder holding a copy of the sample specs/, shared-schema file included."""
    shutil.copytree(SPECS, tmp_path / "specs")
    return tmp_path


def test_init_writes_one_stub_service_per_spec_and_leaves_shared_schemas_out(project: Path) -> None:
    result = run_cli("init", cwd=project)

    assert result.returncode == 0, result.stderr
    text = (project / "gateway.yaml").read_text()
    data = yaml.safe_load(text)
    assert sorted(data["services"]) == ["cameras", "orders", "users"]  # common.yaml has no operations
    assert data["services"]["users"] == {"spec": "specs/users.yaml", "base_path": "/users", "mode": "stub"}
    assert "# upstream: http://127.0.0.1:" in text  # the next setting a user needs, commented
    assert "specs/common.yaml" in text and "Left out" in text  # says why a file is missing
    assert "Users API (OpenAPI 3.0.3, 5 operations)" in text
    assert "wrote gateway.yaml: 3 services (cameras, orders, users)" in result.stdout
    config = load_config(project / "gateway.yaml", env={})
    assert config.spec_path(config.services["orders"]) == project / "specs" / "orders.yaml"


def test_gw_serve_starts_with_the_written_file_and_serves_every_spec(
        project: Path, gw_process: Callable[..., GatewayProcess]) -> None:
    assert run_cli("init", cwd=project).returncode == 0

    gateway = gw_process(cwd=project).wait_ready()

    for path in ("/users/users/1", "/orders/orders", "/cameras/cameras"):
        answer = httpx.get(gateway.url + path, timeout=10)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["x-gw-source"] in ("example", "generated", "recorded")


def test_init_refuses_to_overwrite_an_existing_file_without_force(project: Path) -> None:
    (project / "gateway.yaml").write_text("services: {}\n# mine\n")

    refused = run_cli("init", cwd=project)

    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == ["error: gateway.yaml already exists; `gw init --force` overwrites it"]
    assert (project / "gateway.yaml").read_text() == "services: {}\n# mine\n"

    forced = run_cli("init", "--force", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert "users:" in (project / "gateway.yaml").read_text()


def test_init_with_spec_files_given_uses_only_those(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "api" / "Shop API.yaml"
    elsewhere.parent.mkdir()
    shutil.copy(SPECS / "users.yaml", elsewhere)

    result = run_cli("init", str(elsewhere), "specs/cameras.yaml", cwd=project)

    assert result.returncode == 0, result.stderr
    services = load_config(project / "gateway.yaml", env={}).services
    assert sorted(services) == ["cameras", "shop-api"]  # names from file stems, made valid
    assert services["shop-api"].spec == "api/Shop API.yaml" and services["shop-api"].base_path == "/shop-api"


@pytest.mark.parametrize(("args", "message"), [
    (["README.md"], "README.md: not an OpenAPI document"),
    (["missing.yaml"], "missing.yaml: no such file"),
    (["specs/common.yaml"], "no OpenAPI document with operations in specs/common.yaml"),
])
def test_init_refuses_files_it_cannot_serve_in_one_line(project: Path, args: list[str], message: str) -> None:
    (project / "README.md").write_text("# not a spec\n")

    result = run_cli("init", *args, cwd=project)

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (project / "gateway.yaml").exists()


def test_init_in_a_folder_without_specs_says_how_to_give_them(tmp_path: Path) -> None:
    result = run_cli("init", cwd=tmp_path)

    assert result.returncode == 2
    assert "no specs/ folder here; give spec files: gw init path/to/api.yaml" in result.stderr
