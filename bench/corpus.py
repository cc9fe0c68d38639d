"""Serve every spec of the real-world corpus with `gw serve` and let schemathesis judge the answers.

Why this exists: gw's promise is that a stub answer honours the contract. The corpus
(../shared/corpus, 20 published OpenAPI documents) is where that promise meets real specs, so
per spec this script measures whether `gw serve SPEC` starts (and how fast, and how much memory
it holds), then runs schemathesis with the five response checks and reports every failure the
mock causes, with a curl line that reproduces it.

Run by hand (tests/test_corpus_conformance.py runs a bounded sample of the same in CI):

    python bench/corpus.py [--max-examples 5] [--only NAME ...] [--workers N] [--timeout 120]

Per spec: `gw serve SPEC --port P` in its own process group, started by the project's own runner
(gw.contract.conformance.process.GatewayProcess, output to a log file), time until /_gw/health answers 200
(or the process exits: its one-line error is the refusal reason; a traceback is a failure of its
own), count its `warning:` lines, run schemathesis in this process through the project's runner
(gw.contract.conformance.runner: the same settings `gw contract` uses, with this script's checks, mode and
phases; schemathesis stops itself after --timeout), read the gw process's peak RSS (VmHWM), stop
it. Prints a table and 2-3 examples per failure class (curl lines from schemathesis' own
`as_curl_command`); writes bench/results/corpus.json.

What counts as a failure: a check failure on a case, except (both counted in the `expected` column)
- when schemathesis sent invalid data on purpose (a negative case) and gw's own validator refused it
  with a 4xx (no `x-gw-source`): the expected answer to negative testing;
- when the spec forces the failure on any server (`unavoidable`): an operation that documents only
  5xx answers, or no response at all, a 204 documented with content, a malformed media type, a
  `Content-Length` header parameter sent as a number HTTP cannot frame a body with (`0.0`), a value
  held to an anchored pattern written as a JavaScript regex literal (`'/^[a-z]+$/'` matches no string).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from schemathesis.engine import events

from gw.contract.conformance.process import GatewayProcess
from gw.contract.conformance.runner import Options, execute, load_schema_file

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# The curl lines name this address: start `gw serve SPEC --port 8000` to replay them.
REPRO_URL = "http://127.0.0.1:8000"
CORPUS = REPO.parent / "shared" / "corpus"
RESULTS = BENCH / "results" / "corpus.json"

# The checks the issue names, in the order of the table's columns.
CHECKS = (
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "not_a_server_error",
)
SHORT = {
    "response_schema_conformance": "schema",
    "status_code_conformance": "status",
    "content_type_conformance": "ctype",
    "response_headers_conformance": "headers",
    "not_a_server_error": "5xx",
}
# Explicit examples, boundary values (coverage) and random data (fuzzing); no stateful phase: it
# chains operations through links, which says nothing more about a stateless mock's answers.
PHASES = "examples,coverage,fuzzing"
TRACEBACK = "Traceback (most recent call last)"


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Failure:
    """One distinct failure: a check that failed on an operation, with one case that shows it."""

    spec: str
    operation: str
    check: str
    code: str  # schemathesis' failure code, e.g. ST101
    title: str
    message: str
    cause: str  # probable cause in the gateway (a guess from the message, see `probable_cause`)
    phase: str
    mode: str  # positive | negative (how schemathesis generated the request)
    scenario: str  # what the coverage phase meant the case to be, when it says
    status: int | None
    content_type: str
    gw_source: str  # x-gw-source of the answer; empty when gw itself (validator, router) answered
    request_id: str
    gw_error: str  # for 5xx: the exception gw logged for this request id
    response_body: str
    curl: str
    cases: int = 1  # failing cases with the same operation, check and message


@dataclass
class Scan:
    """What schemathesis made of one running gateway."""

    operations: int = 0  # in the spec, as schemathesis counts them
    tested: int = 0  # operations that got at least one request
    cases: int = 0  # requests answered
    failures: list[Failure] = field(default_factory=list)
    negative_rejected: int = 0  # failing negative cases that gw's validator refused with 4xx (expected)
    # Check failures no mock can avoid, because of what the spec says (see `unavoidable`); expected, listed apart.
    unavoidable: list[Failure] = field(default_factory=list)
    positive_rejected: int = 0  # positive cases gw's validator refused with 4xx (informational)
    positive_rejected_examples: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # schemathesis errors (loading, network, generation)
    stop_reason: str = ""
    timed_out: bool = False
    seconds: float = 0.0
    command: str = ""


@dataclass
class SpecResult:
    spec: str
    manifest_operations: int | None = None
    validator: str = ""
    started: bool = False
    refusal: str = ""  # why gw did not start: its error line(s), or what went wrong
    clean_refusal: bool = True  # one error line, no traceback, no hang
    start_s: float | None = None
    peak_rss_mb: float | None = None
    warnings: int = 0
    warning_lines: list[str] = field(default_factory=list)
    traceback: str = ""  # a raw traceback in gw's output (startup or later): always a failure
    logged_exceptions: int = 0  # unhandled errors gw logged (each one became a 500)
    died: str = ""  # gw exited while schemathesis was running
    scan: Scan | None = None
    log: str = ""  # kept when something went wrong

    @property
    def failures(self) -> list[Failure]:
        return self.scan.failures if self.scan else []

    def problems(self) -> list[str]:
        """Everything that makes this spec fail the issue's bar, one line each (failures listed apart)."""
        found = []
        if not self.started and not self.clean_refusal:
            found.append(f"refusal is not one clear line: {self.refusal}")
        if self.traceback:
            found.append(f"traceback in gw's output: {self.traceback.splitlines()[-1]}")
        if self.died:
            found.append(self.died)
        if self.scan and self.scan.timed_out:
            found.append(f"schemathesis stopped by the {self.scan.seconds:.0f} s time limit")
        return found


# ---------------------------------------------------------------------------------------------
# gw serve


def _local_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment, with loopback excluded from any HTTP proxy it configures."""
    env = {**os.environ, **(extra or {})}
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(part for part in (env.get(name, ""), "127.0.0.1,localhost") if part)
    return env




def _peak_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children[int(fields[1])].append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Gateway:
    """`gw serve SPEC`, as a user starts it (the project's GatewayProcess), with its output in a log file."""

    def __init__(self, spec: Path, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.spec = spec
        self.log_path = log_dir / f"gw-{spec.name}.log"
        # JSON log lines, errors only: no access log (it is large under schemathesis and says nothing
        # here), while an unhandled error is still logged with its traceback and request id.
        # Auth off: this judges stub answers, and schemathesis sends no credentials for most schemes, so every
        # secured operation would be the gateway's 401 (tests/test_auth.py covers that), never a stub.
        self.env = _local_env({"GW_LOG_FORMAT": "json", "GW_LOG_LEVEL": "warning", "GW_AUTH__REQUIRE": "none",
                               **(env or {})})
        self.process: GatewayProcess | None = None

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self.process.proc if self.process else None

    @property
    def url(self) -> str:
        return self.process.url if self.process else ""

    def start(self, timeout: float) -> tuple[bool, float]:
        """Start and wait until /_gw/health answers 200, the process exits, or `timeout` passes."""
        began = time.monotonic()
        self.process = GatewayProcess([str(self.spec)], cwd=REPO, env=self.env, log_path=self.log_path)
        started = self.process.ready(timeout)
        return started, time.monotonic() - began

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def peak_rss_mb(self) -> float | None:
        if not self.alive():
            return None
        assert self.proc is not None
        pids = [self.proc.pid, *_descendants(self.proc.pid)]
        return round(sum(_peak_rss_kb(pid) for pid in pids) / 1024, 1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def output(self) -> str:
        return self.process.log() if self.process else ""


@dataclass
class GwOutput:
    """gw's own lines (not JSON log lines), sorted by kind."""

    errors: list[str]
    warnings: list[str]
    warning_count: int
    other: list[str]
    traceback: str
    exceptions: dict[str, str]  # request id -> the exception gw logged for it, and where
    logged_exceptions: int


def read_gw_output(text: str) -> GwOutput:
    errors, warnings, other, exceptions = [], [], [], {}
    warning_count = logged = 0
    traceback_lines: list[str] = []
    in_traceback = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("exc"):
                    logged += 1
                    exceptions[entry.get("request_id") or f"#{logged}"] = exception_summary(entry["exc"])
                if not (entry.get("logger") in ("gw", "gw.specs") and entry.get("level") == "warning"):
                    continue
                line = f"warning: {entry.get('msg', '')}"  # a spec warning (at start, or from the background check)
        if in_traceback or line.startswith(TRACEBACK):
            in_traceback = True
            traceback_lines.append(line)
            if line and not line.startswith((" ", TRACEBACK)):
                in_traceback = False  # the exception line ends it
            continue
        if not line.strip():
            continue
        if line.startswith("warning:"):
            more = re.match(r"warning: (\d+) more in ", line)
            warning_count += int(more.group(1)) if more else 1
            if not more:
                warnings.append(line)
        elif line.startswith("error:"):
            errors.append(line)
        else:
            other.append(line)
    return GwOutput(errors, warnings, warning_count, other, "\n".join(traceback_lines), exceptions, logged)


def refusal_reason(out: GwOutput, returncode: int | None, waited: float) -> tuple[str, bool]:
    """Why gw did not start, and whether it said so the way the issue asks (one clear line)."""
    if returncode is None:
        return f"did not answer /_gw/health within {waited:.0f} s (hang)", False
    if out.traceback:
        return f"traceback: {out.traceback.splitlines()[-1]}", False
    if out.errors:
        return " | ".join(line.removeprefix("error:").strip() for line in out.errors), len(out.errors) == 1
    # An error without the `error:` prefix: the last line it printed.
    tail = [line for line in out.other if not line.startswith("no service started")]
    return (tail[-1] if tail else f"exited {returncode} without a message"), bool(tail) and returncode != 0


# ---------------------------------------------------------------------------------------------
# schemathesis


def schemathesis_command(spec: Path, url: str, *, max_examples: int, seed: int, workers: int = 1,
                         mode: str = "all", phases: str | None = None, shrink: bool = True) -> list[str]:
    """The `schemathesis run` line that repeats a spec's run from a shell (the run itself is in process)."""
    command = [
        "schemathesis", "run", str(spec),
        "--url", url,  # gw serves the spec at /: the spec's servers / basePath are not prepended
        "--checks", ",".join(CHECKS),
        "--phases", phases or PHASES,
        "--mode", mode,
        "--max-examples", str(max_examples),
        "--seed", str(seed),
        "--workers", str(workers),
        "--generation-database", "none",  # no replay of earlier runs' failures: same seed, same run
        "--suppress-health-check", "all",  # slow or heavily filtered generation is not gw's fault
        "--request-timeout", "10",
        "--warnings", "off",
        "--output-sanitize", "false",  # the curl lines must carry the headers that were sent
    ]
    if not shrink:
        command.append("--no-shrink")
    return command


def run_schemathesis(spec: Path, url: str, workdir: Path, *, max_examples: int, seed: int = 1, timeout: float = 120,
                     workers: int = 1, mode: str = "all", phases: str | None = None, shrink: bool = True,
                     gw_exceptions: dict[str, str] | None = None) -> Scan:
    """schemathesis against `url`, in process through the project's runner (gw.contract.conformance.runner); after `timeout`
    seconds it is stopped like on Ctrl-C, and what ran before the limit is kept."""
    options = Options(checks=list(CHECKS), max_examples=max_examples, seed=seed,
                      phases=tuple((phases or PHASES).split(",")), mode=mode, workers=workers, shrink=shrink,
                      sanitize=False)
    began = time.monotonic()
    reader = _Reader(spec.name, gw_exceptions or {})
    limit: threading.Timer | None = None
    fired = threading.Event()  # the time limit stopped it
    try:
        schema = load_schema_file(spec, url, options, list(CHECKS))
        reader.scan.operations = schema.statistic.operations.total
        stream = execute(schema)

        def stop() -> None:
            fired.set()
            stream.stop()

        limit = threading.Timer(timeout, stop)
        limit.start()
        for event in stream:
            reader.read(event)
    except Exception as exc:  # a spec schemathesis cannot load or run is a result, not a crash
        reader.scan.errors.append(f"schemathesis: {type(exc).__name__}: {_first_line(str(exc))}"[:400])
    finally:
        if limit is not None:
            limit.cancel()
    scan = reader.finish()
    scan.seconds = time.monotonic() - began
    scan.timed_out = fired.is_set()
    scan.command = shlex.join(schemathesis_command(spec, url, max_examples=max_examples, seed=seed, workers=workers,
                                                   mode=mode, phases=phases, shrink=shrink))
    if scan.stop_reason == "" and not scan.errors:
        scan.errors.append("schemathesis stopped without finishing")
    return scan


def _header(headers: dict[str, Any], name: str) -> str:
    for key, values in (headers or {}).items():
        if key.lower() == name:
            return values[0] if isinstance(values, list) and values else str(values)
    return ""


_VERDICT = re.compile(
    r" (is not valid under|is valid under|does not match|is not a |is not an? |is not of type|is not one of|is too |"
    r"is less than|is greater than|has non-unique|was expected|is a required property|does not have enough|"
    r"has too many|should be non-empty|is expected to be empty|is not allowed for)"
)


def _without_value(line: str) -> str:
    """A validator's verdict without the offending value in front (schemathesis prints the value first)."""
    match = _VERDICT.search(line)
    return "…" + line[match.start():] if match else line


def failure_key(message: str) -> str:
    """What makes two failures of one operation and check the same: the verdict and where in the schema."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    where = next((line for line in lines if line.startswith(("Schema at", "Validated against"))), "")
    verdict = _without_value(lines[0]) if lines else ""
    return re.sub(r"\d+", "N", f"{verdict} | {where}")[:300]


class _Reader:
    """A Scan out of schemathesis' engine events: cases answered, failures (deduplicated), expected refusals."""

    def __init__(self, spec: str, gw_exceptions: dict[str, str]) -> None:
        self.spec = spec
        self.gw_exceptions = gw_exceptions
        self.scan = Scan()
        self.tested: set[str] = set()
        self.answered: set[str] = set()
        self.found: dict[tuple[str, str, str, str], Failure] = {}

    def read(self, event: Any) -> None:
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            self._scenario(event.recorder, event.phase.value if event.phase else "")
        elif isinstance(event, events.NonFatalError):
            self.scan.errors.append(f"{event.label}: {type(event.value).__name__}: {event.value}"[:400])
        elif isinstance(event, events.FatalError):
            self.scan.errors.append(f"fatal: {type(event.exception).__name__}: {event.exception}"[:400])
        elif isinstance(event, events.EngineFinished):
            self.scan.stop_reason = event.stop_reason.value
        elif isinstance(event, events.Interrupted):
            self.scan.stop_reason = self.scan.stop_reason or "interrupted"

    def finish(self) -> Scan:
        scan = self.scan
        scan.tested = len(self.tested)
        scan.cases = len(self.answered)
        order = sorted(self.found.values(), key=lambda f: (CHECKS.index(f.check) if f.check in CHECKS else 9, f.operation))
        scan.failures = [failure for failure in order if not unavoidable(failure)]
        scan.unavoidable = [failure for failure in order if unavoidable(failure)]
        return scan

    def _scenario(self, recorder: Any, phase: str) -> None:
        for case_id, interaction in recorder.interactions.items():
            response = interaction.response
            if response is None:
                continue
            self.answered.add(case_id)
            self.tested.add(recorder.label)
            case = recorder.cases[case_id].value if case_id in recorder.cases else None
            from_validator = 400 <= response.status_code < 500 and not _header(response.headers, "x-gw-source")
            if _mode(case) == "positive" and from_validator and response.status_code not in (401, 403):
                self.scan.positive_rejected += 1
                if len(self.scan.positive_rejected_examples) < 3:
                    body = (response.content or b"").decode("utf-8", "replace")[:300]
                    self.scan.positive_rejected_examples.append(
                        f"{recorder.label} → {response.status_code} {body} | {_curl(case)}")
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.status.value == "failure" and check.failure_info is not None:
                    self._failure(recorder, case_id, check, phase)

    def _failure(self, recorder: Any, case_id: str, check: Any, phase: str) -> None:
        interaction = recorder.interactions.get(case_id)
        response = interaction.response if interaction is not None else None
        case = recorder.cases[case_id].value if case_id in recorder.cases else None
        mode = _mode(case)
        status = response.status_code if response is not None else None
        headers = response.headers if response is not None else {}
        gw_source = _header(headers, "x-gw-source")
        if mode == "negative" and status is not None and 400 <= status < 500 and not gw_source \
                and check.name != "not_a_server_error":
            self.scan.negative_rejected += 1  # invalid input refused by gw: what negative testing expects
            return
        failure = check.failure_info.failure
        operation = getattr(failure, "operation", "") or recorder.label
        message = failure.message or ""
        key = (operation, check.name, failure.code or "", failure_key(message))
        if key in self.found:
            self.found[key].cases += 1
            return
        request_id = _header(headers, "x-request-id")
        body = (response.content or b"").decode("utf-8", "replace") if response is not None else ""
        meta = case.meta if case is not None else None
        found = Failure(
            spec=self.spec, operation=operation, check=check.name, code=failure.code or "", title=failure.title or "",
            message=message, cause="", phase=meta.phase.name.value if meta else phase, mode=mode,
            scenario=getattr(meta.phase.data, "description", "") if meta else "", status=status,
            content_type=_header(headers, "content-type"), gw_source=gw_source, request_id=request_id,
            gw_error=self.gw_exceptions.get(request_id, ""), response_body=body[:2000], curl=_curl(case))
        found.cause = probable_cause(found)
        self.found[key] = found


def _mode(case: Any) -> str:
    """How schemathesis generated the case: positive | negative."""
    return case.meta.generation.mode.value if case is not None and case.meta is not None else ""


def _curl(case: Any) -> str:
    """A curl line that sends the request schemathesis sent, aimed at REPRO_URL (`gw serve SPEC --port 8000`)."""
    return case.as_curl_command(base_url=REPRO_URL) if case is not None else ""


# ---------------------------------------------------------------------------------------------
# Probable causes: a first sort of the failures for whoever fixes the mock. A guess from the
# answer and schemathesis' message; the examples printed for each class are what to trust.

_SCHEMA_CAUSES = (
    (r"does not match ", "generated string ignores `pattern`"),
    (r"is not a '[^']+'|is not a \"[^\"]+\"", "generated string ignores `format`"),
    (r"valid under more than one|is valid under each of", "`oneOf`: value matches more than one branch"),
    (r"not valid under any of the schemas listed in the 'oneOf'", "`oneOf`: value matches no branch"),
    (r"not valid under any of the schemas listed in the 'anyOf'|not valid under any of the given",
     "`anyOf`: value matches no branch"),
    (r"is not one of|was expected", "value outside `enum` / `const`"),
    (r"is a required property", "required property missing"),
    (r"Additional properties are not allowed|nevaluated properties", "property not allowed (additionalProperties: false)"),
    (r"is too short|is too long|should be non-empty|expected at most|expected at least",
     "length bounds ignored (minLength/maxLength/minItems/maxItems)"),
    (r"is less than|is greater than|multiple of", "number bounds ignored (minimum/maximum/multipleOf)"),
    (r"has non-unique elements", "`uniqueItems` ignored"),
    (r"does not have enough properties|has too many properties", "minProperties/maxProperties ignored"),
    (r"None is not of type|null is not of type", "null where the schema does not allow it"),
    (r"is not of type", "value of the wrong type"),
    (r"deserializ|JSON|Expecting value", "body does not parse as its media type"),
)


def _value_free(message: str) -> str:
    """A validator message without the offending value in front and without schema dumps."""
    if "could not be resolved" in message:
        return "… a $ref could not be resolved (e.g. a discriminator `mapping` to a file or component not in the spec)"
    message = _without_value(message)
    message = re.sub(r"^(?:'[^']*'|\"[^\"]*\"|\S+) (?=is |does |was )", "… ", message, count=1)
    return message.split(" {", 1)[0][:100]


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _problem(body: str) -> dict[str, Any]:
    try:
        problem = json.loads(body)
    except ValueError:
        return {}
    return problem if isinstance(problem, dict) else {}


def exception_summary(traceback_text: str) -> str:
    """`Type: message (in gateway/file.py:function)` from a logged traceback."""
    lines = traceback_text.rstrip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith("  File ")]
    if not frames:
        return _first_line(traceback_text)
    tail = lines[frames[-1] + 1:]
    exception = next((line for line in tail if line and not line.startswith(" ")), tail[-1] if tail else "")
    where = ""
    for index in reversed(frames):
        match = re.search(r'File ".*/(gateway/[^"]+)", line \d+, in (\S+)', lines[index])
        if match:
            where = f" (in {match.group(1)}:{match.group(2)})"
            break
    return exception.strip() + where


UNAVOIDABLE = (
    "operation documents only",
    "operation documents no response at all",
    "204 documented with content",
    "spec documents a malformed media type",
    "request frames its body with a Content-Length HTTP forbids",
    "spec pattern written as a JavaScript regex literal",
)


def unavoidable(failure: Failure) -> bool:
    """A failure the spec itself forces on any server: counted as expected, listed apart, never a test failure."""
    return failure.cause.startswith(UNAVOIDABLE)


def probable_cause(failure: Failure) -> str:
    check, status, body = failure.check, failure.status or 0, failure.response_body
    first = _without_value(_first_line(failure.message))
    if check == "not_a_server_error" and failure.gw_source and status >= 500:
        return "operation documents only 5xx answers (e.g. GET /status/500): the mock gives one"
    if status and status < 200:
        return "mock answers a 1xx informational status as the final response (invalid HTTP; 100 breaks the client)"
    if not failure.gw_source and status >= 500:
        if failure.gw_error:
            return f"500: unhandled {failure.gw_error}"
        if "no-response-declared" in body:
            return "operation declares no response (allowed in 3.1): gw answers 501 instead of an empty 2xx"
        return f"{status} from gw itself"
    if not failure.gw_source and 400 <= status < 500:
        if body.startswith("Invalid HTTP request"):
            framing = re.search(r"-H '(?i:content-length): ([^']*)'", failure.curl)
            if framing and not re.fullmatch(r"[0-9]+", framing.group(1).strip()):
                return (f"request frames its body with a Content-Length HTTP forbids ({framing.group(1)!r}, a spec's "
                        f"numeric header parameter): every HTTP server must refuse it with 400 (RFC 9112 6.3)")
            return f"HTTP server refused the request before gw saw it ({status} {body.strip()})"
        problem = _problem(body)
        if str(problem.get("type", "")).endswith("not-found"):
            return "router: 404 for a path built from the spec (path parameter with unusual characters)"
        errors = problem.get("errors") or [{}]
        where, message = errors[0].get("in", ""), errors[0].get("message") or problem.get("detail", body[:100])
        return f"gw's validator refused schema-valid input ({status}): {where}: {_value_free(message)}"
    if status == 204 and check in ("content_type_conformance", "response_schema_conformance"):
        return "204 documented with content (a contradiction): the empty answer fails the Content-Type or schema check"
    if check == "status_code_conformance":
        if re.search(r"Documented:\s*$", failure.message):
            return "operation documents no response at all (3.1 allows it): every status is undocumented"
        documented = re.search(r"Documented:\s*([^\n]*)", failure.message)
        codes = [c.strip() for c in documented.group(1).split(",")] if documented else []
        if codes and all(c.startswith("1") for c in codes):
            return "operation documents only 1xx answers: no final answer can honour it"
        return f"mock answered an undocumented status {status}"
    if check == "content_type_conformance":
        if failure.title.startswith("Malformed media type"):
            return "spec documents a malformed media type (e.g. `*`): no answer can match it"
        if failure.code == "ST104" or not failure.content_type:
            empty = " (empty body)" if not body else ""
            return f"no Content-Type on a response whose spec documents media types{empty}"
        return f"Content-Type {failure.content_type.split(';')[0]} not among the documented ones"
    if check == "response_headers_conformance":
        if "missing" in failure.message:
            return "required response header missing"
        return "response header value does not match its schema"
    if check == "response_schema_conformance":
        if re.search(r"""does not match ['"]/\^|\$/[dgimsuvy]*['"]""", first):
            return "spec pattern written as a JavaScript regex literal (`/^...$/`): no string matches it as written"
        cause = next((cause for pattern, cause in _SCHEMA_CAUSES if re.search(pattern, first)), first[:80])
        if failure.gw_source == "example":
            return f"spec example served as-is does not match its schema: {cause}"
        return cause
    return failure.title or check


# ---------------------------------------------------------------------------------------------
# One spec


def run_spec(spec: Path, workdir: Path, *, max_examples: int = 5, seed: int = 1, timeout: float = 120,
             start_timeout: float = 60, st_workers: int = 1, mode: str = "all", phases: str | None = None,
             shrink: bool = True) -> SpecResult:
    """Start gw on `spec`, run schemathesis against it (at most `timeout` s), stop gw; never raises for gw's sake."""
    result = SpecResult(spec=spec.name)
    gateway = Gateway(spec, workdir)
    try:
        started, waited = gateway.start(start_timeout)
        result.start_s = round(waited, 2)
        out = read_gw_output(gateway.output())
        result.warnings, result.warning_lines = out.warning_count, out.warnings[:5]
        if not started:
            assert gateway.proc is not None
            result.refusal, result.clean_refusal = refusal_reason(out, gateway.proc.poll(), waited)
            result.traceback = out.traceback
            result.log = gateway.output()[-4000:]
            return result
        result.started = True
        result.scan = run_schemathesis(spec, gateway.url, workdir, max_examples=max_examples, seed=seed,
                                       timeout=timeout, workers=st_workers, mode=mode, phases=phases, shrink=shrink)
        if not gateway.alive():
            assert gateway.proc is not None
            result.died = f"gw exited ({gateway.proc.returncode}) while schemathesis ran"
        result.peak_rss_mb = gateway.peak_rss_mb()
    finally:
        gateway.stop()
    out = read_gw_output(gateway.output())
    result.traceback = out.traceback
    result.logged_exceptions = out.logged_exceptions
    if result.scan:
        # Now that gw's log is complete: the exception behind each 500.
        for failure in result.scan.failures:
            if failure.request_id in out.exceptions and not failure.gw_error:
                failure.gw_error = out.exceptions[failure.request_id]
                failure.cause = probable_cause(failure)
    if result.problems():
        result.log = gateway.output()[-4000:]
    return result


# ---------------------------------------------------------------------------------------------
# The corpus


@dataclass
class Entry:
    path: Path
    operations: int | None
    validator: str


def corpus_entries(corpus: Path = CORPUS) -> list[Entry]:
    """The corpus specs, in manifest order (every spec file when there is no manifest)."""
    manifest = corpus / "manifest.tsv"
    if manifest.exists():
        entries = []
        lines = manifest.read_text().splitlines()
        header = lines[0].split("\t")
        for line in lines[1:]:
            row = dict(zip(header, line.split("\t"), strict=False))
            if row.get("file") and (corpus / row["file"]).exists():
                ops = row.get("operations", "")
                entries.append(Entry(corpus / row["file"], int(ops) if ops.isdigit() else None, row.get("validator", "")))
        return entries
    return [Entry(path, None, "") for path in sorted(corpus.iterdir()) if path.suffix in (".json", ".yaml", ".yml")]


def select(entries: Iterable[Entry], only: list[str]) -> list[Entry]:
    if not only:
        return list(entries)
    return [entry for entry in entries
            if any(entry.path.name == name or entry.path.stem == name or entry.path.name.startswith(name) for name in only)]


def failure_lines(failures: list[Failure], limit: int = 40) -> str:
    """The failures as the test's assertion message: operation, check, message; then how to reproduce."""
    lines = []
    for failure in failures[:limit]:
        parts = [line.strip() for line in failure.message.splitlines() if line.strip()]
        where = next((line for line in parts if line.startswith(("Schema at", "Validated against"))), "")
        message = " / ".join(part for part in (parts[0][:300] if parts else "", where) if part)
        extra = f" [gw: {failure.gw_error}]" if failure.gw_error else ""
        lines.append(f"- {failure.operation} | {failure.check} | {failure.title}: {message}{extra} "
                     f"(status {failure.status}, x-gw-source={failure.gw_source or '-'}, {failure.cases} case(s); "
            f"probable cause: {failure.cause})\n"
                     f"    {failure.curl[:600]}")
    if len(failures) > limit:
        lines.append(f"... and {len(failures) - limit} more")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Output


def _by_check(result: SpecResult) -> dict[str, set[str]]:
    failing: dict[str, set[str]] = {check: set() for check in CHECKS}
    for failure in result.failures:
        failing.setdefault(failure.check, set()).add(failure.operation)
    return failing


def top_operations(result: SpecResult, count: int = 3) -> list[str]:
    per_op: dict[str, set[str]] = defaultdict(set)
    for failure in result.failures:
        per_op[failure.operation].add(SHORT.get(failure.check, failure.check))
    ranked = sorted(per_op.items(), key=lambda item: (-len(item[1]), item[0]))
    return [f"{op} ({','.join(sorted(checks))})" for op, checks in ranked[:count]]


def print_report(results: list[SpecResult], console: Any, examples: int = 3) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="gw serve × schemathesis, per corpus spec (failing operations per check)", title_justify="left")
    for column in ("spec", "started", "start s", "RSS MB", "warn", "ops", "tested", "cases"):
        table.add_column(column, justify="left" if column in ("spec", "started") else "right", no_wrap=column != "started")
    for check in CHECKS:
        table.add_column(SHORT[check], justify="right")
    table.add_column("expected", justify="right")
    table.add_column("st s", justify="right")
    table.add_column("top failing operations")
    for result in results:
        scan = result.scan
        if result.started:
            started = "yes"
        else:
            started = f"refused: {result.refusal}" if result.clean_refusal else f"[red]NO: {result.refusal}[/]"
        failing = _by_check(result)
        row = [
            escape(result.spec), started if not result.started else "yes",
            f"{result.start_s:.2f}" if result.start_s is not None else "-",
            f"{result.peak_rss_mb:.0f}" if result.peak_rss_mb else "-",
            str(result.warnings or ""),
            str(scan.operations if scan else result.manifest_operations or "-"),
            str(scan.tested) if scan else "-", str(scan.cases) if scan else "-",
        ]
        row += [(f"[red]{len(failing[check])}[/]" if failing[check] else "0") if scan else "-" for check in CHECKS]
        row += [str(scan.negative_rejected + sum(f.cases for f in scan.unavoidable)) if scan else "-",
                (f"[red]{scan.seconds:.0f} TIMEOUT[/]" if scan.timed_out else f"{scan.seconds:.0f}") if scan else "-",
                escape("; ".join(top_operations(result)))]
        if not result.started and result.clean_refusal:
            row[1] = escape(row[1])
        table.add_row(*row)
    console.print(table)

    problems = [(result.spec, problem) for result in results for problem in result.problems()]
    errors = [(result.spec, error) for result in results if result.scan for error in result.scan.errors]
    if problems:
        console.print("\n[bold red]Problems beyond check failures[/]")
        for spec, problem in problems:
            console.print(f"  {escape(spec)}: {escape(problem)}", soft_wrap=True)
    if errors:
        console.print("\n[bold yellow]schemathesis errors (requests it could not make or checks it could not run)[/]")
        for spec, error in errors[:30]:
            console.print(f"  {escape(spec)}: {escape(error)}", soft_wrap=True)
        if len(errors) > 30:
            console.print(f"  ... {len(errors) - 30} more in {RESULTS}")
    rejected = [(r.spec, r.scan) for r in results if r.scan and r.scan.positive_rejected]
    if rejected:
        console.print("\n[bold]Positive (schema-valid) requests that gw's validator refused with 4xx[/] (not a check "
                      "failure unless a check failed too; gw and schemathesis disagree on what is valid)")
        for spec, scan in rejected:
            console.print(f"  {escape(spec)}: {scan.positive_rejected} cases, e.g.", soft_wrap=True)
            for example in scan.positive_rejected_examples[:2]:
                console.print(f"    {escape(example[:700])}", soft_wrap=True)

    forced: dict[tuple[str, str], list[Failure]] = defaultdict(list)
    for result in results:
        for failure in result.scan.unavoidable if result.scan else []:
            forced[(failure.check, failure.cause)].append(failure)
    if forced:
        console.print("\n[bold]Failures the spec forces on any server[/] (in the `expected` column, not counted as failures)")
        for (check, cause), failures in sorted(forced.items(), key=lambda item: (-len(item[1]), item[0])):
            example = failures[0]
            console.print(f"  {escape(check)} · {escape(cause)}: {len(failures)} operation(s) in "
                          f"{escape(', '.join(sorted({f.spec for f in failures})))}; e.g. {escape(example.operation)} → "
                          f"{example.status}: {escape(_first_line(example.message)[:200])}", soft_wrap=True)

    classes: dict[tuple[str, str], list[Failure]] = defaultdict(list)
    for result in results:
        for failure in result.failures:
            classes[(failure.check, failure.cause)].append(failure)
    if not classes:
        console.print("\n[green]No failures.[/]")
        return
    port = REPRO_URL.rsplit(":", 1)[1]
    console.print(f"\n[bold]Failure classes[/] (check · probable cause: distinct failures / specs), {examples} examples each. "
                  f"To replay one: gw serve <corpus>/SPEC --port {port}, then its curl line.", soft_wrap=True)
    for (check, cause), failures in sorted(classes.items(), key=lambda item: (-len(item[1]), item[0])):
        specs = sorted({f.spec for f in failures})
        console.print(f"\n[bold magenta]{escape(check)} · {escape(cause)}[/]: {len(failures)} / "
                      f"{len(specs)} ({escape(', '.join(specs))})", soft_wrap=True)
        # Examples from different specs first.
        shown, seen_specs = [], set()
        for failure in failures:
            if failure.spec not in seen_specs:
                shown.append(failure)
                seen_specs.add(failure.spec)
        shown += [f for f in failures if f not in shown]
        for failure in shown[:examples]:
            message = " / ".join(line.strip() for line in failure.message.splitlines() if line.strip())
            curl = failure.curl if len(failure.curl) <= 1200 else failure.curl[:1200] + f" …(full command in {RESULTS.name})"
            body = failure.response_body.replace("\n", " ")
            where = escape(f"[{failure.phase}/{failure.mode}]")
            console.print(f"  • {escape(failure.spec)}  {escape(failure.operation)}  {where} "
                          f"→ {failure.status} {escape(failure.content_type or '(no content-type)')} "
                          f"x-gw-source={escape(failure.gw_source or '-')}", soft_wrap=True)
            console.print(f"    {escape(failure.title)}: {escape(message[:600])}", soft_wrap=True)
            if failure.gw_error:
                console.print(f"    gw logged: {escape(failure.gw_error)}", soft_wrap=True)
            if body:
                console.print(f"    body: {escape(body[:300])}", soft_wrap=True)
            console.print(f"    {escape(curl)}", soft_wrap=True, highlight=False)


def write_json(results: list[SpecResult], args: argparse.Namespace, elapsed: float, path: Path = RESULTS) -> None:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return ""

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "gateway", "cli.py"], cwd=REPO, capture_output=True,
                           text=True).stdout.strip()
    commit += "+dirty" if dirty else ""
    specs = []
    for result in results:
        data = asdict(result)
        data["problems"] = result.problems()
        data["failing_operations_by_check"] = {check: sorted(ops) for check, ops in _by_check(result).items()}
        specs.append(data)
    classes: dict[str, Counter[str]] = defaultdict(Counter)
    for result in results:
        for failure in result.failures:
            classes[f"{failure.check} · {failure.cause}"][result.spec] += 1
    document = {
        "meta": {"when": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit, "cpus": os.cpu_count(),
                 "gw": version("gw"), "schemathesis": version("schemathesis"), "max_examples": args.max_examples,
                 "seed": args.seed, "timeout_s": args.timeout, "mode": args.mode, "phases": args.phases,
                 "st_workers": args.st_workers,
                 "checks": list(CHECKS), "elapsed_s": round(elapsed, 1)},
        "specs": specs,
        "classes": {name: dict(per_spec) for name, per_spec in sorted(classes.items(), key=lambda kv: -sum(kv[1].values()))},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the corpus directory (default: %(default)s)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="a spec file name, stem or prefix (repeatable), e.g. --only xkcd --only readme31")
    parser.add_argument("--max-examples", type=int, default=5, help="schemathesis test cases per operation (default: 5)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds schemathesis may run per spec (default: 120)")
    parser.add_argument("--start-timeout", type=float, default=60, help="seconds gw may take to answer /_gw/health")
    parser.add_argument("--workers", type=int, default=1,
                        help="specs run at the same time (default 1; more skews start times and durations)")
    parser.add_argument("--st-workers", type=int, default=1, help="schemathesis' own --workers per spec (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="schemathesis --seed: same seed, same requests (default 1)")
    parser.add_argument("--mode", choices=("all", "positive", "negative"), default="all",
                        help="schemathesis --mode (default all: negative cases catch 5xx; their 4xx are expected)")
    parser.add_argument("--phases", default=PHASES, help="schemathesis --phases (default: %(default)s)")
    parser.add_argument("--no-shrink", action="store_true", help="faster, less minimal examples")
    parser.add_argument("--examples", type=int, default=3, help="examples printed per failure class (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep gw's logs (path printed)")
    args = parser.parse_args(argv)

    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 220)
    entries = select(corpus_entries(args.corpus), args.only)
    if not entries:
        console.print(f"no corpus specs found in {args.corpus}" + (f" matching {args.only}" if args.only else ""))
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="gw-corpus-"))
    began = time.monotonic()

    def one(entry: Entry) -> SpecResult:
        specdir = workdir / entry.path.stem
        specdir.mkdir()
        result = run_spec(entry.path, specdir, max_examples=args.max_examples, seed=args.seed, timeout=args.timeout,
                          start_timeout=args.start_timeout, st_workers=args.st_workers, mode=args.mode,
                          phases=args.phases, shrink=not args.no_shrink)
        result.manifest_operations, result.validator = entry.operations, entry.validator
        scan = result.scan
        status = "started" if result.started else f"refused ({result.refusal})"
        console.print(f"[dim]{entry.path.name}: {status}"
                      + (f", {scan.cases} cases, {len(scan.failures)} failures in {scan.seconds:.0f} s" if scan else "") + "[/]",
                      soft_wrap=True)
        return result

    results: list[SpecResult] = []
    try:
        with ThreadPoolExecutor(max(1, args.workers)) as pool:
            results = list(pool.map(one, entries))
    finally:
        elapsed = time.monotonic() - began
        if results:
            print_report(results, console, args.examples)
            write_json(results, args, elapsed)
            console.print(f"\n{len(results)} specs in {elapsed:.0f} s; results in {RESULTS}")
        if args.keep:
            console.print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    bad = [r for r in results if r.failures or r.problems() or (not r.started and not r.clean_refusal)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
