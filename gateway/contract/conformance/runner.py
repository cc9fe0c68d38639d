"""Run schemathesis over every operation of each chosen service and collect what failed.

Schemathesis' engine is driven in this process (its Python API yields one event per scenario), so
progress is reported per operation and nothing is parsed back from a report file.

What counts as a failure: a check that failed on a case, except one: a negative case (invalid
data sent on purpose) that the gateway's own validator refused with a 4xx problem+json answer (no
`x-gw-source`: the request never reached a stub or the upstream). That refusal is exactly what
negative testing asks for; the spec rarely documents the 400 the gateway answers with, so
schemathesis flags its status, media type and body, and counting those would fail every honest
gateway. They are counted apart, as `refused`. A negative case that gets through the gateway and is
accepted still fails `negative_data_rejection`, and a 5xx always fails `not_a_server_error`.

Against stubs (`--target stub`) `ignored_auth` is off by default: schemathesis makes up credentials,
and a gateway without verification keys can only check that they are there, not whose they are.
Give a real one with `--header` where the gateway verifies tokens; the upstream's own auth is
checked with `--target live` or a URL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.engine import events, from_schema

from ...app import LoadResult, load_services
from ...settings.config import GatewayConfig, mount_prefix
from ...spec.load import Service, read_document
from ...spec.refs import bundle
from .inprocess import InProcessGateway
from .phases import PHASES
from .target import ContractError, Target, check_reachable, choose_services

STUB_EXCLUDED = ("ignored_auth",)  # see the module docstring
REQUEST_TIMEOUT = 10


@dataclass
class Options:
    checks: list[str] | None = None  # None: every check schemathesis has (see `default_checks`)
    max_examples: int = 10
    seed: int = 0
    phases: tuple[str, ...] = PHASES
    headers: dict[str, str] = field(default_factory=dict)
    mode: str | None = None  # positive | negative | all; None: schemathesis' default
    workers: int = 1
    shrink: bool = True
    sanitize: bool = True  # False: failures' curl lines carry the headers as sent (bench/corpus.py replays them)


@dataclass
class Failure:
    """One distinct failure: a check on an operation, with the first case that showed it."""

    service: str
    operation: str  # gw's name for it: the operationId, or "METHOD /path"
    label: str  # schemathesis' "METHOD /path"
    check: str
    title: str
    message: str
    status: int | None
    curl: str
    phase: str
    mode: str  # positive | negative
    cases: int = 1  # failing cases with the same operation, check and verdict


@dataclass
class ServiceResult:
    service: str
    base_url: str  # where the requests went: the target, then the service's base path
    base_path: str
    operations: list[str] = field(default_factory=list)  # labels, in spec order
    operation_ids: dict[str, str] = field(default_factory=dict)  # label -> gw's operation name
    cases: int = 0
    refused: int = 0  # negative cases the gateway's validator refused (expected; see the module docstring)
    failures: list[Failure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # schemathesis could not test something
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures and not self.errors


@dataclass
class ContractReport:
    target: str
    seed: int
    max_examples: int
    checks: list[str]
    phases: list[str]
    services: list[ServiceResult] = field(default_factory=list)
    seconds: float = 0.0
    replay_url: str = ""  # where the curl lines point: the target URL, or `gw serve`'s address for stub/live

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.services)


class Listener(Protocol):
    """Told about progress as the run goes (the rich progress bar; nothing for --json)."""

    def service_started(self, service: str, scenarios: int) -> None: ...
    def scenario_finished(self, service: str, label: str, cases: int) -> None: ...
    def service_finished(self, result: ServiceResult) -> None: ...


def all_checks() -> list[str]:
    load_all_checks()
    return CHECKS.get_all_names()


def default_checks(target: Target) -> list[str]:
    return [name for name in all_checks() if not (target.kind == "stub" and name in STUB_EXCLUDED)]


def resolve_checks(requested: list[str] | None, target: Target) -> list[str]:
    if not requested:
        return default_checks(target)
    known = all_checks()
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise ContractError(f"--checks: no check {unknown[0]!r}; known: {', '.join(known)}")
    return list(dict.fromkeys(requested))


def schemathesis_config(options: Options, checks: list[str]) -> SchemathesisConfig:
    """The run's settings, as schemathesis.toml would hold them."""
    enabled = {name: {"enabled": True} for name in checks}
    generation: dict[str, Any] = {
        "max-examples": options.max_examples,
        "database": "none",  # no replay of an earlier run's failures: same seed, same run
        **({"mode": options.mode} if options.mode else {}),
        **({"no-shrink": True} if not options.shrink else {}),
    }
    return SchemathesisConfig.from_dict({
        "seed": options.seed,
        "suppress-health-check": ["all"],  # slow or heavily filtered generation is the spec's doing
        "warnings": False,
        "request-timeout": REQUEST_TIMEOUT,
        "headers": options.headers,
        "workers": options.workers,
        **({} if options.sanitize else {"output": {"sanitization": {"enabled": False}}}),
        "checks": {"enabled": False, **enabled},
        "generation": generation,
        "phases": {name: {"enabled": name in options.phases} for name in (*PHASES, "stateful")},
    })


def run_service(service: Service, base_url: str, plan: Plan, listener: Listener,
                replay_origin: tuple[str, str] | None = None) -> ServiceResult:
    """schemathesis over every operation of one service at `base_url` (the spec's paths go after it)."""
    began = time.monotonic()
    result = ServiceResult(service.name, base_url, service.base_path)
    schema = load_schema(service, base_url, plan)
    result.operations, result.operation_ids = _operations(schema, service)
    listener.service_started(service.name, len(result.operations) * sum(p in PHASES for p in plan.options.phases))
    collector = _Collector(result, replay_origin)
    for event in execute(schema):
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            cases = collector.scenario(event)
            if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
                listener.scenario_finished(service.name, event.recorder.label, cases)
        elif isinstance(event, events.NonFatalError):
            result.errors.append(f"{event.label}: {event.info.title}: {_first_line(event.info.message)}")
        elif isinstance(event, events.FatalError):
            result.errors.append(f"{service.name}: {type(event.exception).__name__}: {event.exception}")
    order = {label: index for index, label in enumerate(result.operations)}
    result.failures = sorted(collector.found.values(), key=lambda f: (order.get(f.label, len(order)), f.check))
    result.refused = len(collector.refused)
    result.seconds = time.monotonic() - began
    listener.service_finished(result)
    return result


def _bundled(service: Service) -> dict[str, Any]:
    """The spec with other files' components brought in, as the gateway reads it."""
    return bundle(service.spec_file, read_document)


def _operations(schema: Any, service: Service) -> tuple[list[str], dict[str, str]]:
    labels: list[str] = []
    names: dict[str, str] = {}
    by_route = {(op.method, op.path): op.key for op in service.operations.values()}
    for item in schema.get_all_operations():
        if not isinstance(item, Ok):
            continue  # schemathesis reports it as an error event when it gets there
        operation = item.ok()
        labels.append(operation.label)
        names[operation.label] = by_route.get((operation.method.upper(), operation.path), operation.label)
    return labels, names


class _Collector:
    """Cases and failures out of each finished scenario, deduplicated by operation, check and verdict."""

    def __init__(self, result: ServiceResult, replay_origin: tuple[str, str] | None) -> None:
        self.result = result
        self.replay_origin = replay_origin
        self.found: dict[tuple[str, str, str], Failure] = {}
        self.refused: set[str] = set()  # case ids

    def scenario(self, event: Any) -> int:
        recorder = event.recorder
        answered = sum(1 for i in recorder.interactions.values() if i.response is not None)
        self.result.cases += answered
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.status.value == "failure" and check.failure_info is not None:
                    self._failure(recorder, case_id, check, event.phase.value)
        return answered

    def _failure(self, recorder: Any, case_id: str, check: Any, phase: str) -> None:
        case = recorder.cases[case_id].value
        interaction = recorder.interactions.get(case_id)
        response = interaction.response if interaction is not None else None
        mode = case.meta.generation.mode.value if case.meta is not None else "positive"
        if refused_by_gateway(mode, response, check.name):
            self.refused.add(case_id)
            return
        failure = check.failure_info.failure
        label = recorder.label
        key = (label, check.name, verdict(failure.message))
        if key in self.found:
            self.found[key].cases += 1
            return
        self.found[key] = Failure(
            service=self.result.service, operation=self.result.operation_ids.get(label, label), label=label,
            check=check.name, title=failure.title, message=failure.message.strip(),
            status=response.status_code if response is not None else None,
            curl=self._curl(check.failure_info.code_sample), phase=phase, mode=mode)

    def _curl(self, code: str) -> str:
        if self.replay_origin is None:
            return code
        used, shown = self.replay_origin
        return code.replace(used, shown)


def refused_case(case: Any, response: Any) -> bool:
    """For the pytest module: a case whose answer needs no checking (see `refused_by_gateway`)."""
    mode = case.meta.generation.mode.value if case.meta is not None else "positive"
    return refused_by_gateway(mode, response, "")


def refused_by_gateway(mode: str, response: Any, check: str) -> bool:
    """A case the gateway itself answered with a 4xx problem+json (no stub or upstream was asked): a negative
    case refused, as negative testing expects, or a case without credentials refused by the gateway's auth
    (401 with WWW-Authenticate; schemathesis sends none for most schemes, and that answer is no stub's)."""
    if response is None or check == "not_a_server_error" or not 400 <= response.status_code < 500:
        return False
    headers = {name.lower(): values for name, values in response.headers.items()}
    content_type = (headers.get("content-type") or [""])[0]
    by_gateway = "x-gw-source" not in headers and content_type.startswith("application/problem+json")
    unauthenticated = response.status_code == 401 and "www-authenticate" in headers
    return by_gateway and (mode == "negative" or unauthenticated)


_VALUE_FIRST = re.compile(r"^.*? (?=is not |is too |is less |is greater |does not |is a required |was expected|"
                          r"is not valid|is valid under|has non-unique|should be )")


def verdict(message: str) -> str:
    """What makes two failures the same: the verdict without the offending value, and where in the schema."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    where = next((line for line in lines if line.startswith(("Schema at", "Validated against"))), "")
    first = _VALUE_FIRST.sub("… ", lines[0], count=1) if lines else ""
    return re.sub(r"\d+", "N", f"{first} | {where}")[:300]


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


class NoProgress:
    """A listener that shows nothing (`--json`, the pytest module)."""

    def service_started(self, service: str, scenarios: int) -> None:
        pass

    def scenario_finished(self, service: str, label: str, cases: int) -> None:
        pass

    def service_finished(self, result: ServiceResult) -> None:
        pass


@dataclass
class Plan:
    """What a contract run tests, checked before anything starts: services loaded, checks known."""

    config: GatewayConfig  # only the chosen services, forced to the target's mode
    services: dict[str, Service]
    target: Target
    options: Options
    checks: list[str]
    replay_port: int  # the port `gw serve` would use: the curl lines for stub and live name it


def prepare(config: GatewayConfig, names: list[str], target: Target, options: Options) -> Plan:
    """Raises ContractError (one line) for an unknown service or check, a spec that does not load, a live
    service without upstream."""
    checks = resolve_checks(options.checks, target)
    chosen = choose_services(config, names, target)
    loaded = load_services(chosen, deep_check="cached")
    if loaded.errors:
        raise ContractError(str(loaded.errors[0]))
    return Plan(chosen, loaded.services, target, options, checks, config.port)


@contextmanager
def serving(plan: Plan) -> Iterator[str]:
    """The origin requests go to: the gateway started here (stub, live) or the target URL."""
    if not plan.target.in_process:
        check_reachable(plan.target.url)
        yield plan.target.url
        return
    try:
        gateway = InProcessGateway(plan.config, LoadResult(plan.services), log_level="error").__enter__()
    except RuntimeError as exc:
        raise ContractError(f"the gateway did not start: {exc}") from None
    try:
        yield gateway.url
    finally:
        gateway.__exit__()


def service_url(origin: str, service: Service) -> str:
    return origin + mount_prefix(service.base_path).rstrip("/")


def load_schema(service: Service, base_url: str, plan: Plan) -> Any:
    """schemathesis' view of the service's spec (bundled as the gateway reads it), aimed at `base_url`."""
    schema = schemathesis.openapi.from_dict(_bundled(service),
                                            config=schemathesis_config(plan.options, plan.checks))
    schema.config.base_url = base_url
    return schema


def load_schema_file(path: Path, base_url: str, options: Options, checks: list[str]) -> Any:
    """schemathesis' view of a spec file as schemathesis itself reads it (no gateway in between), aimed at `base_url`."""
    schema = schemathesis.openapi.from_path(path, config=schemathesis_config(options, checks))
    schema.config.base_url = base_url
    return schema


def execute(schema: Any) -> Any:
    """schemathesis' engine over a loaded schema: its event stream (iterate it: one event per scenario, see
    `run_service`; `stop()` from any thread ends it like Ctrl-C, keeping what ran)."""
    return from_schema(schema).execute()


def run_contract(config: GatewayConfig, names: list[str], target: Target, options: Options,
                 listener: Listener | None = None) -> ContractReport:
    """Every chosen service (all when `names` is empty) against the target; raises ContractError before testing."""
    plan = prepare(config, names, target, options)
    report = ContractReport(str(target), options.seed, options.max_examples, plan.checks, list(options.phases))
    began = time.monotonic()
    with serving(plan) as origin:
        replay = (origin, f"http://127.0.0.1:{plan.replay_port}") if target.in_process else None
        report.replay_url = replay[1] if replay else origin
        for service in plan.services.values():
            report.services.append(run_service(service, service_url(origin, service), plan,
                                               listener or NoProgress(), replay))
    report.seconds = time.monotonic() - began
    return report
