"""A spec's structure findings are kept by content (spec_structure.py): a start on a document checked before
warns, leaves out and serves exactly as the first did, without running the checker again."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gw.spec.load import load_service
from tests.conftest import GatewayThread, gateway_config

DRAFTS = Path(__file__).resolve().parent / "specs" / "draft"
NAMES = ("no_info", "no_description", "unknown_keys", "unresolved_ref", "wrong_shapes", "malformed_operations")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "gw" / "checks"


@pytest.mark.parametrize("name", NAMES)
def test_a_draft_warns_and_leaves_out_the_same_from_the_cache(name: str, cache: Path) -> None:
    spec = DRAFTS / f"{name}.yaml"
    first = load_service(name, spec, "/", deep_check="cached")
    kept = list(cache.glob("*.structure-*.json"))
    again = load_service(name, spec, "/", deep_check="cached")
    assert len(kept) == 1  # the first load checked the document and kept what it found
    assert again.warnings == first.warnings and first.warnings  # a draft: something to warn about
    assert again.left_out == first.left_out
    assert sorted(again.operations) == sorted(first.operations)


def test_a_changed_document_is_checked_again(cache: Path, tmp_path: Path) -> None:
    spec = tmp_path / "api.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n"
                    "      responses: {'200': {description: ok}}\n")
    assert load_service("api", spec, "/", deep_check="cached").warnings == []
    spec.write_text(spec.read_text().replace("description: ok", "descripton: ok"))
    warnings = load_service("api", spec, "/", deep_check="cached").warnings
    assert any("paths./x.get.responses.200.descripton: unknown key" in w for w in warnings)
    assert len(list(cache.glob("*.structure-*.json"))) == 2


def test_a_gateway_started_from_the_cache_answers_as_the_first(cache: Path) -> None:
    services = {"unknown-keys": {"spec": str(DRAFTS / "unknown_keys.yaml"), "base_path": "/u"}}
    answers = []
    for _ in range(2):  # the second gateway takes the findings from the cache the first one left
        with GatewayThread(gateway_config(services, reload=False)) as gateway, httpx.Client(base_url=gateway.url) as client:
            answer = client.get("/u/pets")
            answers.append((answer.status_code, answer.headers["content-type"], answer.json(),
                            gateway.app.services["unknown-keys"].warnings))
    assert answers[0] == answers[1]
    assert answers[0][0] == 200 and answers[0][1].startswith("application/json")
    assert list(cache.glob("*.structure-*.json"))
