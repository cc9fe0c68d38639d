"""Stub mode against real-world specs: `gw serve SPEC` starts and schemathesis finds no failure the mock causes.

A bounded sample of ../shared/corpus (chosen for feature coverage and runtime: the whole file runs
in well under two minutes on two cores), a few schemathesis examples per operation, the five
response checks of the issue. `python bench/corpus.py` runs the same harness over the whole
corpus, with a table and examples per failure class; this file shares its code.

Negative testing: schemathesis also sends invalid requests on purpose. gw's validator refusing
them with 4xx problem+json is the expected answer and is not counted as a failure; a 5xx is.

Deselect with `-m "not corpus"`. Skipped when the corpus is not checked out next to the repo.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.corpus import Gateway, failure_lines, read_gw_output, refusal_reason, run_spec

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
MAX_EXAMPLES = 3
SEED = 1
SCHEMATHESIS_TIMEOUT = 60  # per spec; a sample spec takes a few seconds

# Each one earns its place by a feature of the corpus (manifest.tsv), and by running in seconds.
SAMPLE = [
    pytest.param("xkcd.com.json", id="xkcd"),  # the smallest real API: path params, no bodies
    pytest.param("readme30-circular.json", id="circular"),  # circular $ref, nullable
    pytest.param("readme30-discriminators.json", id="discriminators"),  # oneOf/allOf with discriminator
    pytest.param("readme31-schema-types.json", id="schema-types"),  # 3.1 type arrays, binary, circular
    pytest.param("readme31-train-travel.yaml", id="train-travel"),  # 3.1, YAML, links, webhooks, XML bodies
    pytest.param("swagger2-petstore.json", id="petstore-swagger2"),  # Swagger 2.0, formData, XML
    pytest.param("zapier.com-nla.json", id="zapier"),  # apiKey in cookie/header/query, oauth2
    pytest.param("readme30-security-multiple.json", id="security-multiple"),  # every security scheme kind
    pytest.param("readme30-file-uploads.json", id="file-uploads"),  # multipart and image/png bodies
    pytest.param("spotify.com.json", id="spotify"),  # 88 operations, allOf/oneOf, image/jpeg body
]
# Invalid per openapi-spec-validator (manifest.tsv): gw must load them with warnings or refuse in one line.
INVALID = [
    pytest.param("openai.com.json", id="openai"),
    pytest.param("slack-web.swagger.json", id="slack"),
    pytest.param("telnyx.com.json", id="telnyx"),
]

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the spec corpus is not at {CORPUS}"),
]


@pytest.mark.parametrize("name", SAMPLE)
def test_stub_answers_conform_to_the_spec(name: str, tmp_path: Path) -> None:
    result = run_spec(CORPUS / name, tmp_path, max_examples=MAX_EXAMPLES, seed=SEED, timeout=SCHEMATHESIS_TIMEOUT,
                      start_timeout=60)

    assert result.started, f"gw serve {name} did not start: {result.refusal}\n{result.log}"
    assert not result.problems(), "\n".join(result.problems()) + f"\n{result.log}"
    scan = result.scan
    assert scan is not None
    assert scan.stop_reason, f"schemathesis did not finish: {scan.errors}\n{scan.command}"
    assert scan.operations == 0 or scan.cases > 0, f"schemathesis sent no request: {scan.errors}\n{scan.command}"
    network = [error for error in scan.errors if "Connection" in error or "Timeout" in error]
    assert not network, "gw did not answer some requests:\n" + "\n".join(network)
    assert not result.failures, (
        f"schemathesis found {len(result.failures)} failures the mock causes on {name} "
        f"(replay: gw serve {CORPUS / name} --port 8000, then the curl line; reproduce the run: {scan.command}):\n"
        + failure_lines(result.failures)
    )


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
