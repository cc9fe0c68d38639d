"""Stub mode against real-world OpenAPI 3.1 and Swagger 2.0 specs: `gw serve SPEC` starts and schemathesis finds no
failure the mock causes (the harness and its assertions: tests/corpus_sample.py). Deselect with `-m "not corpus"`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus_sample import MARKS, assert_stub_answers_conform

SAMPLE = [
    pytest.param("readme31-schema-types.json", id="schema-types"),  # 3.1 type arrays, binary, circular
    pytest.param("readme31-train-travel.yaml", id="train-travel"),  # 3.1, YAML, links, webhooks, XML bodies
    pytest.param("swagger2-petstore.json", id="petstore-swagger2"),  # Swagger 2.0, formData, XML
]

pytestmark = MARKS


@pytest.mark.parametrize("name", SAMPLE)
def test_stub_answers_conform_to_the_spec(name: str, tmp_path: Path) -> None:
    assert_stub_answers_conform(name, tmp_path)
