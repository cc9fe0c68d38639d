"""`gw contract`: schemathesis over every operation against the gateway (stub, live) or a URL.

Real processes and real servers: the drifting upstream is an HTTP server on loopback that breaks
tests/specs/drift.yaml one way per operation; the broken stub is a stub file edited by hand.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, TEST_SPECS, free_port, run_gw
from tests.drifting_upstream import DriftingUpstream

FAST = ("--max-examples", "5", "--seed", "1")
DRIFTS = {("listWidgets", "status_code_conformance"), ("getWidget", "response_schema_conformance"),
          ("getOwner", "response_schema_conformance")}
# "✗ drift · getWidget (GET /widgets/{widget_id}) · response_schema_conformance"
FAILURE_LINE = re.compile(r"^\S+ (\w+) · (\w+) \([A-Z]+ [^)]*\) · (\w+)", re.M)

BROKEN_STUB = """\
request:
  method: GET
  path: {regex: "^/users/[0-9]+$"}
response:
  status: 200
  headers: {Content-Type: application/json}
  body: {id: "forty-two", username: douglas}
meta: {operation: getUser}
"""


@pytest.fixture
def drifting() -> Iterator[DriftingUpstream]:
    upstream = DriftingUpstream().start()
    yield upstream
    upstream.stop()


@pytest.fixture
def broken_stub(tmp_path: Path) -> Path:
    """The samples, copied, with users' stub file edited so its body breaks the User schema."""
    shutil.copy(ROOT / "gateway.yaml", tmp_path)
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    shutil.copytree(ROOT / "stubs", tmp_path / "stubs")
    (tmp_path / "stubs" / "users" / "getUser-42.yaml").write_text(BROKEN_STUB)
    return tmp_path


def failures_named(output: str) -> set[tuple[str, str]]:
    return {(operation, check) for _service, operation, check in FAILURE_LINE.findall(output)}


def test_the_samples_in_stub_mode_honour_their_contracts() -> None:
    result = run_gw("contract", "--target", "stub", *FAST)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "contract honoured" in result.stdout
    for service in ("users", "orders", "cameras"):
        assert re.search(rf"^ {service}\s+/{service}\s+\d+\s+[1-9]\d*\s", result.stdout, re.M), result.stdout
    assert "Traceback" not in result.stderr


def test_a_drifting_upstream_fails_live_naming_each_operation_and_check(drifting: DriftingUpstream,
                                                                        tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text(
        f"services:\n  drift:\n    spec: {TEST_SPECS / 'drift.yaml'}\n    base_path: /drift\n"
        f"    mode: stub\n    upstream: {drifting.url}\n")

    result = run_gw("contract", "--target", "live", *FAST, cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    named = failures_named(result.stdout)
    assert named == DRIFTS, result.stdout
    assert "'email' is a required property" in result.stdout or '"email" is a required property' in result.stdout
    assert "Received: 201" in result.stdout
    assert "curl -X GET http://127.0.0.1:8000/drift/widgets/" in result.stdout  # replayable against gw serve
    assert "contract broken" in result.stdout


def test_a_drifting_upstream_fails_when_targeted_by_url(drifting: DriftingUpstream) -> None:
    result = run_gw("contract", str(TEST_SPECS / "drift.yaml"), "--target", drifting.url, "--json", *FAST)

    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    failures = report["services"][0]["failures"]
    named = {(f["operation"], f["check"]) for f in failures}
    assert named >= DRIFTS
    assert not [f for f in failures if f["operation"] == "getHealth"], "the honest operation was blamed"
    assert all(f["curl"].startswith("curl ") and drifting.url in f["curl"] for f in failures)


def test_a_hand_broken_stub_fails_stub_mode_naming_the_operation(broken_stub: Path) -> None:
    result = run_gw("contract", "users", "--target", "stub", *FAST, cwd=broken_stub)

    assert result.returncode == 1, result.stdout + result.stderr
    assert ("getUser", "response_schema_conformance") in failures_named(result.stdout), result.stdout
    assert '"forty-two" is not of type "integer"' in result.stdout
    assert "curl -X GET http://127.0.0.1:8000/users/users/" in result.stdout


def test_junit_and_json_reports_carry_the_failures(broken_stub: Path) -> None:
    junit = broken_stub / "contract.xml"

    result = run_gw("contract", "users", "--target", "stub", "--junit", str(junit), "--json", *FAST, cwd=broken_stub)

    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)  # nothing but the report on stdout
    assert report["ok"] is False and report["target"] == "stub" and report["seed"] == 1
    users = report["services"][0]
    assert users["service"] == "users" and users["cases"] > 0
    assert {f["operation"] for f in users["failures"]} == {"getUser"}
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and int(root.get("failures", "0")) == 1
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert len(cases) == 5  # one per operation of users.yaml
    failing = [name for name, case in cases.items() if case.find("failure") is not None]
    assert failing == ["getUser (GET /users/{user_id})"]
    failure = cases[failing[0]].find("failure")
    assert failure is not None and failure.get("type") == "response_schema_conformance"
    assert "curl -X GET" in (failure.text or "")


@pytest.mark.parametrize(("args", "message"), [
    (["nosuch"], "no service 'nosuch'; services: users, orders, cameras"),
    (["--target", "ftp://example.com"], "--target: expected stub, live or an http(s) URL, got 'ftp://example.com'"),
    (["--target", "staging"], "--target: expected stub, live or an http(s) URL, got 'staging'"),
    (["--checks", "status_code_conformance,nope"], "--checks: no check 'nope'"),
    (["--phases", "examples,warmup"], "--phases: expected some of"),
    ([str(TEST_SPECS / "drift.yaml"), "--target", "live"], "service drift has no upstream"),
], ids=["unknown-service", "ftp-target", "word-target", "unknown-check", "unknown-phase", "live-without-upstream"])
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run_gw("contract", *args)

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
    from gw.conformance.contracts import plan_from_env

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
