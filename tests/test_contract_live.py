"""`gw contract` against a drifting upstream (live mode, and a URL target): every drift is named by operation and
check. The drifting upstream is an HTTP server on loopback that breaks tests/specs/drift.yaml one way per operation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_SPECS, run_gw
from tests.contract_helpers import FAST, failures_named
from tests.drifting_upstream import DriftingUpstream

DRIFTS = {("listWidgets", "status_code_conformance"), ("getWidget", "response_schema_conformance"),
          ("getOwner", "response_schema_conformance")}


@pytest.fixture
def drifting() -> Iterator[DriftingUpstream]:
    upstream = DriftingUpstream().start()
    yield upstream
    upstream.stop()


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
