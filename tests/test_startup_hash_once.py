"""A spec's text is written out and hashed once per load (spec/checks.ContentKey): the structure check's cache,
the deep check's and the background save all read that one key, and a second start finds what the first kept."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from gw.spec import checks
from gw.spec.load import load_service

SOUND = ("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n"
         "      responses: {'200': {description: ok, content: {application/json: {example: {a: 1}}}}}\n")


@pytest.fixture
def written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Each text of a whole document written out to key a cache, in order."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    texts: list[bytes] = []
    real = checks._canonical

    def counted(document: dict) -> bytes:
        texts.append(real(document))
        return texts[-1]

    monkeypatch.setattr(checks, "_canonical", counted)
    return texts


def test_a_sound_spec_is_written_out_once_for_both_checks_and_a_second_start_reads_their_caches(
        tmp_path: Path, written: list[bytes]) -> None:
    spec = tmp_path / "api.yaml"
    spec.write_text(SOUND)
    first = load_service("api", spec, "/", deep_check="now")  # both checks run, and keep what they found
    assert len(written) == 1
    kept = sorted((tmp_path / "cache" / "gw" / "checks").glob("*.json"))
    assert len(kept) == 2  # the structure check's findings and the deep check's warnings
    written.clear()
    again = load_service("api", spec, "/", deep_check="cached")
    assert len(written) == 1  # the second start hashes once too, and finds both files by that one key
    assert again.warnings == first.warnings == []
    assert sorted(again.operations) == sorted(first.operations)
    assert sorted((tmp_path / "cache" / "gw" / "checks").glob("*.json")) == kept


def test_the_cache_files_keep_the_names_earlier_versions_gave_them(tmp_path: Path, written: list[bytes]) -> None:
    """sha256 of the text for the deep check's file; of the text and the kind for the structure check's: a cache an
    earlier version left is read, not computed again."""
    spec = tmp_path / "api.yaml"
    spec.write_text(SOUND)
    load_service("api", spec, "/", deep_check="now")
    text = written[0]
    assert text == orjson.dumps(load_service("api", spec, "/").specification.raw,
                                option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    names = {p.name for p in (tmp_path / "cache" / "gw" / "checks").glob("*.json")}
    structure = next(name for name in names if ".structure-" in name)
    kind = structure[32:-len(".json")]
    assert names == {f"{hashlib.sha256(text).hexdigest()[:32]}.json",
                     f"{hashlib.sha256(text + kind.encode()).hexdigest()[:32]}{kind}.json"}


def test_a_draft_serves_a_patched_copy_under_its_own_key(tmp_path: Path, written: list[bytes]) -> None:
    spec = tmp_path / "draft.yaml"
    spec.write_text(SOUND.replace("description: ok, ", ""))  # a response without description: patched in the copy
    first = load_service("draft", spec, "/", deep_check="now")
    assert len(written) == 2  # the document as written (structure), the copy served (deep check)
    assert len(written[0]) != len(written[1])
    written.clear()
    again = load_service("draft", spec, "/", deep_check="cached")
    assert len(written) == 2 and again.warnings == first.warnings and first.warnings
