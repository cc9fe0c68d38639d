"""What the corpus tests share: where ../shared/corpus is, their marks, and the conformance run with its assertions.

`gw serve SPEC` in stub mode, a few schemathesis examples per operation, the five response checks of the issue;
`python bench/corpus.py` runs the same harness over the whole corpus. Negative testing: schemathesis also sends
invalid requests on purpose; gw's validator refusing them with 4xx problem+json is the expected answer, a 5xx is not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.corpus import failure_lines, run_spec

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
MAX_EXAMPLES = 3
SEED = 1
SCHEMATHESIS_TIMEOUT = 60  # per spec; a sample spec takes a few seconds

# Deselect with `-m "not corpus"`. Skipped when the corpus is not checked out next to the repo.
MARKS = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the spec corpus is not at {CORPUS}"),
]


def assert_stub_answers_conform(name: str, tmp_path: Path) -> None:
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
