"""`gw serve` and friends on a broken project: one line naming the file and the place, the exit code, no traceback;
`--keep-going` serves what loads. Real processes where the process is the subject (`gw serve`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import ROOT, GatewayProcess, free_port, run_cli, run_gw
from tests.test_cli import copy_samples


def test_broken_spec_stops_serve_with_one_line(tmp_path: Path) -> None:
    copy_samples(tmp_path)
    (tmp_path / "specs" / "orders.yaml").write_text("openapi: 3.0.3\ninfo: {title: t}\npaths: {}\n")
    result = run_gw("serve", "--port", str(free_port()), cwd=tmp_path, env={"GW_LOG_FORMAT": "text"})
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "specs/orders.yaml: paths: no operations to serve" in errors[0]
    assert "Traceback" not in result.stderr


def test_keep_going_starts_the_services_that_load(tmp_path: Path, gw_process: Callable[..., GatewayProcess]) -> None:
    copy_samples(tmp_path)
    (tmp_path / "specs" / "orders.yaml").write_text("not: [valid")
    gateway = gw_process("--keep-going", cwd=tmp_path).wait_ready()
    assert httpx.get(f"{gateway.url}/users/users/1", timeout=5).status_code == 200
    assert httpx.get(f"{gateway.url}/orders/orders", timeout=5).status_code == 404
    ready = httpx.get(f"{gateway.url}/_gw/ready", timeout=5)
    assert ready.status_code == 503
    assert any("orders.yaml" in reason for reason in ready.json()["reasons"])


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    copy_samples(tmp_path)
    (tmp_path / "gateway.yaml").write_text("services:\n  users:\n    spec: specs/users.yaml\n    moed: live\n")
    for run, command in ((run_gw, ["serve"]), (run_cli, ["routes"])):  # routes reads the file in process: same line
        result = run(*command, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip() == "error: gateway.yaml: services.users.moed: unknown setting (did you mean `mode`?)"


def test_missing_gateway_yaml_says_what_to_do(tmp_path: Path) -> None:
    result = run_gw("serve", cwd=tmp_path)
    assert result.returncode == 2
    assert "no gateway.yaml here" in result.stderr


def test_keep_going_skips_broken_services_but_not_broken_gateway_wide_settings(tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text(f"auth: {{jwt: {{public_key: {tmp_path / 'missing.pem'}}}}}\n"
                                           f"services:\n  users: {{spec: {ROOT / 'specs' / 'users.yaml'}}}\n")
    result = run_gw("serve", "--keep-going", "--port", "1", cwd=tmp_path, timeout=30)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error: gateway.yaml: auth.jwt.public_key: cannot read" in result.stderr
