"""`gw contract` in stub mode: the samples honour their contracts, a hand-broken stub fails naming its operation,
and the JUnit and JSON reports carry the failures. Real `gw contract` processes.

Live mode against a drifting upstream: tests/test_contract_live.py; usage errors: tests/test_contract_usage.py.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_gw
from tests.contract_helpers import BROKEN_STUB, FAST, failures_named


@pytest.fixture
def broken_stub(tmp_path: Path) -> Path:
    """The samples, copied, with users' stub file edited so its body breaks the User schema."""
    shutil.copy(ROOT / "gateway.yaml", tmp_path)
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    shutil.copytree(ROOT / "stubs", tmp_path / "stubs")
    (tmp_path / "stubs" / "users" / "getUser-42.yaml").write_text(BROKEN_STUB)
    return tmp_path


def test_the_samples_in_stub_mode_honour_their_contracts() -> None:
    result = run_gw("contract", "--target", "stub", *FAST)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "contract honoured" in result.stdout
    for service in ("users", "orders", "cameras"):
        assert re.search(rf"^ {service}\s+/{service}\s+\d+\s+[1-9]\d*\s", result.stdout, re.M), result.stdout
    assert "Traceback" not in result.stderr


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
