"""`gw contract`'s usage errors: one line, exit 2, nothing on stdout. They run in process (`run_cli`: same output
and exit code, no ~2 s start per case); the unreachable target runs as a real process, the console script's path."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, TEST_SPECS, free_port, run_cli, run_gw


@pytest.mark.parametrize(("args", "message"), [
    (["nosuch"], "no service 'nosuch'; services: users, orders, cameras"),
    (["--target", "ftp://example.com"], "--target: expected stub, live or an http(s) URL, got 'ftp://example.com'"),
    (["--target", "staging"], "--target: expected stub, live or an http(s) URL, got 'staging'"),
    (["--checks", "status_code_conformance,nope"], "--checks: no check 'nope'"),
    (["--phases", "examples,warmup"], "--phases: expected some of"),
    ([str(TEST_SPECS / "drift.yaml"), "--target", "live"], "service drift has no upstream"),
], ids=["unknown-service", "ftp-target", "word-target", "unknown-check", "unknown-phase", "live-without-upstream"])
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run_cli("contract", *args)

    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert result.stdout == ""


def test_an_unreachable_url_target_is_a_usage_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = run_gw("contract", str(TEST_SPECS / "drift.yaml"), "--target", url)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: --target {url}: cannot connect (Connection refused)"]


def test_contract_settings_in_the_environment_reach_the_contracts_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """GW_CONTRACT__STRICT (two underscores) is a gateway setting; GW_CONTRACT_SERVICES (one) configures contracts/."""
    from gw.contract.conformance.contracts import plan_from_env

    for name in ("GW_CONTRACT_TARGET", "GW_CONTRACT_CONFIG", "GW_CONTRACT_CHECKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GW_CONTRACT__STRICT", "true")
    monkeypatch.setenv("GW_CONTRACT__CHECK", "false")
    monkeypatch.setenv("GW_CONTRACT_SERVICES", "users")
    plan_from_env.cache_clear()
    try:
        plan = plan_from_env(str(ROOT / "gateway.yaml"))
    finally:
        plan_from_env.cache_clear()

    assert list(plan.services) == ["users"]
    assert plan.config.contract.strict is True
    assert plan.config.contract.check is False
