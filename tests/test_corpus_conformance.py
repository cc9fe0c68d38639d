"""Stub mode against real-world OpenAPI 3.0 specs: `gw serve SPEC` starts and schemathesis finds no failure the
mock causes. A bounded sample of ../shared/corpus, chosen for feature coverage and runtime (the harness and its
assertions: tests/corpus_sample.py). OpenAPI 3.1 and Swagger 2.0: tests/test_corpus_conformance_31_and_20.py;
invalid specs: tests/test_corpus_invalid_specs.py. Deselect with `-m "not corpus"`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus_sample import MARKS, assert_stub_answers_conform

# Each one earns its place by a feature of the corpus (manifest.tsv), and by running in seconds.
SAMPLE = [
    pytest.param("xkcd.com.json", id="xkcd"),  # the smallest real API: path params, no bodies
    pytest.param("readme30-circular.json", id="circular"),  # circular $ref, nullable
    pytest.param("readme30-discriminators.json", id="discriminators"),  # oneOf/allOf with discriminator
    pytest.param("zapier.com-nla.json", id="zapier"),  # apiKey in cookie/header/query, oauth2
    pytest.param("readme30-security-multiple.json", id="security-multiple"),  # every security scheme kind
    pytest.param("readme30-file-uploads.json", id="file-uploads"),  # multipart and image/png bodies
    pytest.param("spotify.com.json", id="spotify"),  # 88 operations, allOf/oneOf, image/jpeg body
]

pytestmark = MARKS


@pytest.mark.parametrize("name", SAMPLE)
def test_stub_answers_conform_to_the_spec(name: str, tmp_path: Path) -> None:
    assert_stub_answers_conform(name, tmp_path)
