"""Specs of ../shared/corpus that openapi-spec-validator calls invalid (manifest.tsv): `gw serve` loads them with
warnings that name the file and place, or refuses in one line naming the file; never a traceback.
Deselect with `-m "not corpus"`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.corpus import Gateway, read_gw_output, refusal_reason
from tests.corpus_sample import CORPUS, MARKS

INVALID = [
    pytest.param("openai.com.json", id="openai"),
    pytest.param("slack-web.swagger.json", id="slack"),
    pytest.param("telnyx.com.json", id="telnyx"),
]

pytestmark = MARKS


@pytest.mark.parametrize("name", INVALID)
def test_invalid_spec_loads_with_warnings_or_is_refused_in_one_line(name: str, tmp_path: Path) -> None:
    gateway = Gateway(CORPUS / name, tmp_path)
    try:
        started, waited = gateway.start(timeout=30)
    finally:
        gateway.stop()
    out = read_gw_output(gateway.output())

    assert not out.traceback, f"traceback from gw serve {name}:\n{out.traceback}"
    if started:
        assert out.warning_count > 0, f"{name} is invalid, yet gw loaded it without a warning"
        unplaced = [line for line in out.warnings if name not in line]
        assert not unplaced, "warnings that do not name the file and place:\n" + "\n".join(unplaced)
    else:
        assert gateway.proc is not None
        reason, clean = refusal_reason(out, gateway.proc.poll(), waited)
        assert clean, f"gw serve {name} did not refuse in one clear line: {reason}\n{gateway.output()[-2000:]}"
        assert name in reason, f"the refusal does not name the file: {reason}"
