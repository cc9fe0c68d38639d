"""`gw`: serve, inspect and check the gateway from the command line.

Errors are one readable line (file: place: reason) and a non-zero exit, never a traceback.

Imports: only what `--help` and `--version` need is imported with this module (settings, console,
wording); each command imports the rest itself, so `gw --version` and the admin-API clients (`gw mode`,
`gw chaos`, `gw journal`) start in a fraction of a second, and `gw serve` does not load schemathesis.
tests/test_cli_startup.py pins it.
"""

from __future__ import annotations

import gc
import json
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from . import __version__
from .contract.conformance.phases import PHASES
from .core.console import make_console
from .core.wording import counted
from .settings.config import MODES, SPEC_SUFFIXES, ConfigError, GatewayConfig

if TYPE_CHECKING:
    from .auth.setup import Auth
    from .server.runner import ServeArgs
    from .spec.load import Service
    from .stubs import Stub, StubStore
    from .stubs.recorder import Recorded

app = typer.Typer(
    help="gw: a mock-first developer gateway driven by OpenAPI specs.\n\n"
    "Example: gw serve                 (serves every service in ./gateway.yaml)\n\n"
    "Example: gw serve specs/users.yaml (mocks one spec at /, like `prism mock`)",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = make_console()  # wide, unwrapped lines when piped (CI logs); COLUMNS and NO_COLOR honoured
err = make_console(stderr=True)

SourcesArg = Annotated[Optional[list[str]], typer.Argument(
    help="Spec files or URLs, or one gateway.yaml. Default: ./gateway.yaml", show_default=False)]


def _version(show: bool) -> None:
    if show:
        sys.stdout.write(f"gw {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print gw's version and exit.")] = False) -> None:
    pass


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _args(given: list[str | Path] | list[str] | list[Path] | None, **flags: object) -> ServeArgs:
    from .server.runner import ServeArgs, is_gateway_config
    from .settings.spec_cache import remote_cache

    sources = [_local(source) for source in given or []]
    configs = [s for s in sources if is_gateway_config(s)]
    specs = [s for s in sources if s not in configs]
    if configs and (specs or len(configs) > 1):
        fail("give either one gateway.yaml or spec files, not both")
    for spec in specs:
        if not spec.exists():
            fail(f"{spec}: no such file")
        if spec.suffix not in SPEC_SUFFIXES and not spec.is_relative_to(remote_cache()):
            fail(f"{spec}: expected a .yaml, .yml or .json OpenAPI document")
    config = str(configs[0]) if configs else None
    if not sources:
        default = Path("gateway.yaml")
        if not default.exists():
            fail("no gateway.yaml here; give spec files (gw serve specs/api.yaml) or a config file")
        config = str(default)
    return ServeArgs(config=config, specs=[str(s) for s in specs], **flags)  # type: ignore[arg-type]


def _local(source: str | Path) -> Path:
    """A spec file as given, or the cached copy of a spec URL (fetched now when reachable)."""
    from .spec.fetch import FetchError, fetch_spec, is_url
    from .spec.load import read_document

    if isinstance(source, Path) or not is_url(source):
        return Path(source)
    try:
        path, note = fetch_spec(source, read=read_document)
    except FetchError as exc:
        fail(str(exc))
        raise  # unreachable
    if note:
        err.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)
    return path


def print_rows(rows: list[dict], columns: list[str], as_json: bool, empty: str = "nothing to show") -> None:
    """A table for people, or every field as JSON for scripts (`--json`)."""
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if not rows:
        out.print(empty)
        return
    table = Table(box=None)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    out.print(table)


def _config(args: ServeArgs) -> GatewayConfig:
    try:
        return args.config_obj()
    except ConfigError as exc:
        fail(str(exc))
        raise  # unreachable


def _check_port(config: GatewayConfig) -> None:
    """A port another process holds is one line and exit 2, before any banner."""
    from .core.port_check import listen_problem

    problem = listen_problem(config.host, config.port)
    if problem:
        fail(problem)


DEFAULTS = GatewayConfig()
HOST_HELP = f"Address to listen on (default {DEFAULTS.host}, or gateway.yaml's host)."
PORT_HELP = f"Port to listen on (default {DEFAULTS.port}, or gateway.yaml's port)."


@app.command()
def serve(
    sources: SourcesArg = None,
    host: Annotated[Optional[str], typer.Option(help=HOST_HELP)] = None,
    port: Annotated[Optional[int], typer.Option("--port", "-p", help=PORT_HELP)] = None,
    mode: Annotated[Optional[str], typer.Option(help=f"Mode for every service: {', '.join(MODES)} (default stub, "
                                                     "or each service's mode in gateway.yaml).")] = None,
    upstream: Annotated[Optional[list[str]], typer.Option(help="Upstream URL for every service (repeatable).")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="Upstream timeout in seconds.")] = None,
    retries: Annotated[Optional[int], typer.Option(help="Retries for idempotent requests.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Worker processes sharing the port.")] = None,
    keep_going: Annotated[bool, typer.Option("--keep-going", help="Start the services that load; report the rest.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse to start on any problem in a spec (for CI).")] = False,
    dynamic: Annotated[bool, typer.Option("--dynamic", help="Generated bodies for every operation, not examples "
                                                           "(as `Prefer: dynamic=true` on each request).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No start-up banner.")] = False,
) -> None:
    """Serve every service: stubs with no backend, or proxied live.

    Example: gw serve --port 8000

    Example: gw serve specs/orders.yaml --mode live --upstream http://localhost:9000

    Example: gw serve https://example.com/openapi.yaml --dynamic
    """
    gc.disable()  # prepare_serving's pause, begun before the imports: ~250 collections there walked ~1,300 modules
    from .app import build_app, load_services
    from .core.logs import json_logs, setup_logging
    from .server.banner import log_start, report_warning
    from .server.runner import keep_loaded_specs, prepare_serving
    from .server.runner import serve as run_server

    args = _args(sources, mode=mode, upstream=upstream or [], timeout=timeout, retries=retries,
                 keep_going=keep_going, host=host, port=port, workers=workers, dynamic=dynamic)
    config = _config(args)
    _check_port(config)
    setup_logging(config.log_format, config.log_level)
    prepare_serving(config)  # before anything loads (--workers N: the workers are forked from this process)
    loaded = load_services(config, deep_check="now" if strict else "later")
    keep_loaded_specs()
    problems = [str(error) for error in loaded.errors]
    if strict:  # every warning is a refusal
        problems += [warning for service in loaded.services.values() for warning in service.warnings]
    for problem in problems:
        err.print(f"[bold red]error:[/] {escape(problem)}", highlight=False, soft_wrap=True)
    if problems and strict:
        raise typer.Exit(1)
    if loaded.errors and not config.keep_going:
        if loaded.services:  # --keep-going would start these; with none loaded, the errors say it all
            err.print("no service started; fix the error above, or pass --keep-going to start the others")
        raise typer.Exit(1)
    if not loaded.services:
        fail("no service could be started", 1)
    for service in loaded.services.values():
        for warning in service.warnings[:5]:
            if not report_warning(warning):
                err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
        if len(service.warnings) > 5:
            more = f"{counted(len(service.warnings) - 5, 'more warning')} in {service.spec_file}: see `gw lint`"
            if not report_warning(more):
                err.print(f"[yellow]warning:[/] {more}", highlight=False, soft_wrap=True)
    try:  # gateway-wide settings (keys, networks) are checked here: --keep-going skips services, not these
        gateway = build_app(config, keep_going=True, loaded=loaded)
    except ConfigError as exc:
        fail(str(exc), 1)
        return
    if not quiet and json_logs():
        log_start(config, loaded.services)  # with JSON logs, the banner is one log line too
    elif not quiet:
        _banner(config, loaded.services)
    run_server(args, config, gateway)


def _banner(config: GatewayConfig, services: dict) -> None:
    from .forwarder.instances import shown_as_written
    from .server.banner import operation_lines

    table = Table(title=f"gw on http://{config.host}:{config.port}", title_justify="left", box=None)
    for column in ("service", "base path", "mode", "operations", "upstream"):
        table.add_column(column)
    for name, service in services.items():
        settings = config.services[name]
        table.add_row(name, service.base_path, settings.mode, str(len(service.operations)),
                      ", ".join(map(shown_as_written, settings.upstream)) or "-")
    err.print(table)
    for name, service in services.items():
        err.print(f"{name}:", highlight=False)
        for line in operation_lines(f"http://{config.host}:{config.port}", service):
            err.print(line, highlight=False, soft_wrap=True, markup=False)
    err.print(f"health: http://{config.host}:{config.port}/_gw/health   ready: /_gw/ready")
    err.print(f"dashboard: http://{config.host}:{config.port}/_gw/ui   API docs: /_gw/docs")


@app.command()
def routes(
    sources: SourcesArg = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List every route the gateway serves: service, method, path, operation, mode (and, for services with
    `state`, the collection and action each operation simulates).

    Example: gw routes --json | jq '.[] | select(.mode == "live")'
    """
    from .app import load_services
    from .settings.config import mount_prefix
    from .simulation.inference import state_catalogs

    config = _config(_args(sources))
    loaded = load_services(config, deep_check="cached")
    for error in loaded.errors:
        err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    auth = _auth_for_listing(config)
    catalogs = state_catalogs(config.services, loaded.services)  # `state:` services: which collection each operation serves
    rows = []
    for name, service in loaded.services.items():
        base = mount_prefix(service.base_path)
        for op in service.operations.values():
            plan = auth.plan_for(service, op)
            rows.append({"service": name, "method": op.method, "path": base + op.path,
                         "operation": op.key, "mode": config.services[name].mode_for(op.key),
                         "auth": plan.describe() if plan else "public",
                         "rate_limit": config.rate_limit_for(name, op.key).describe(),
                         **({"state": catalogs[name].describe(op.key) if name in catalogs else ""} if catalogs else {})})
    print_rows(rows, ["service", "method", "path", "operation", "mode", "auth", "rate_limit", *(["state"] if catalogs else [])],
               as_json)
    if loaded.errors:
        raise typer.Exit(1)


def _auth_for_listing(config: GatewayConfig) -> Auth:
    """What each operation asks of callers, worked out as the gateway would (keys read, nothing served)."""
    from .auth.setup import Auth
    from .runtime.shared_state import SharedState
    from .settings.origin import SettingsOrigin

    try:
        return Auth.build(config.auth, config.services, SettingsOrigin.of(config), SharedState())
    except ConfigError as exc:
        fail(str(exc))
        raise  # unreachable


def _policy_lines(config: GatewayConfig) -> list[str]:
    """The gateway-wide policies in effect, one line each, for `gw lint`."""
    from .policies.listing import policy_lines

    return policy_lines(config)


@app.command()
def lint(sources: SourcesArg = None) -> None:
    """Check the config and every spec; print each problem with its file and place (exit 1 on any).

    Example: gw lint && echo "specs and config are fine"
    """
    from .app import load_services

    args = _args(sources)
    try:
        config = args.config_obj()
    except ConfigError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    loaded = load_services(config, deep_check="now")
    for error in loaded.errors:
        err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    for name, service in loaded.services.items():
        for warning in service.warnings:
            err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
        note = f", {counted(len(service.warnings), 'warning')}" if service.warnings else ""
        out.print(f"[green]ok[/] {name}: {service.spec_file} ({counted(len(service.operations), 'operation')}{note})",
                  highlight=False, soft_wrap=True)
    for line in _policy_lines(config):
        out.print(f"   {line}", highlight=False, soft_wrap=True)
    if loaded.errors or any(service.warnings for service in loaded.services.values()):
        raise typer.Exit(1)


@app.command()
def record(
    service: Annotated[str, typer.Argument(help="The service to record (the others serve as configured).")],
    upstream: Annotated[Optional[list[str]], typer.Option(help="Upstream URL for the service (repeatable).")] = None,
    config_file: Annotated[Optional[Path], typer.Option("--config", help="gateway.yaml to read.")] = None,
    host: Annotated[Optional[str], typer.Option(help=HOST_HELP)] = None,
    port: Annotated[Optional[int], typer.Option("--port", "-p", help=PORT_HELP)] = None,
) -> None:
    """Proxy a service live and save each exchange as a stub in stubs/<service>/, secrets scrubbed.

    Example: gw record users --upstream http://localhost:9001   (then use your app; Ctrl-C to stop)
    """
    from .app import build_app, load_services
    from .core.events import StubRecorded
    from .core.logs import setup_logging
    from .server.runner import serve as run_server
    from .settings.config import record_flags

    args = _args([config_file] if config_file else None, host=host, port=port)
    config = _config(args)
    if service not in config.services:
        fail(f"no service {service!r}; services: {', '.join(config.services)}")
    try:
        config = record_flags(config, service, upstream)
    except ConfigError as exc:
        fail(str(exc))
    settings = config.services[service]
    if not settings.upstream:
        fail(f"service {service} has no upstream: give --upstream URL or set services.{service}.upstream")
    _check_port(config)
    setup_logging(config.log_format, "warning")
    loaded = load_services(config)
    for error in loaded.errors:
        err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    if service not in loaded.services:
        raise typer.Exit(1)
    gateway = build_app(config, keep_going=True, loaded=loaded)
    marks = {"created": "[green]+[/]", "updated": "[yellow]~[/]", "unchanged": "[dim]=[/]"}

    def show(recorded: StubRecorded) -> None:
        flag = "  [red]breaks the contract[/]" if recorded.violations else ""
        err.print(f"{marks[recorded.outcome]} {recorded.stub_id}  [dim]{recorded.summary}[/]{flag}", highlight=False)

    gateway.channel.subscribe(StubRecorded, show)
    err.print(f"recording {service} from {', '.join(settings.upstream)} on http://{config.host}:{config.port}"
              f"{settings.base_path}  (Ctrl-C to stop)", highlight=False)
    run_server(args, config, gateway)
    _record_summary(gateway.recorder.recorded)


def _record_summary(recorded: list[Recorded]) -> None:
    counts = {outcome: sum(1 for r in recorded if r.outcome == outcome) for outcome in ("created", "updated", "unchanged")}
    err.print(f"recorded {counted(len(recorded), 'exchange')}: {counted(counts['created'], 'new stub')}, "
              f"{counts['updated']} updated, "
              f"{counts['unchanged']} unchanged", highlight=False)
    broken = {r.stub_id: r for r in recorded if r.violations}
    if broken:
        table = Table(title="responses that break the contract (saved, flagged in meta.contract)", box=None)
        table.add_column("stub")
        table.add_column("violation")
        for stub_id, r in broken.items():
            table.add_row(stub_id, r.violations[0])
        err.print(table)


stubs_app = typer.Typer(help="The stub store: saved exchanges in stubs/<service>/.\n\nExample: gw stubs list users",
                        no_args_is_help=True)
app.add_typer(stubs_app, name="stubs")


def _store(sources: list[Path] | None) -> tuple[GatewayConfig, StubStore]:
    from .stubs import StubStore

    config = _config(_args(sources))
    store = StubStore(config.stubs_path(), list(config.services))
    for error in store.errors:
        err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    return config, store


@stubs_app.command("list")
def stubs_list(
    service: Annotated[Optional[str], typer.Argument(help="Only this service's stubs.")] = None,
    config_file: Annotated[Optional[Path], typer.Option("--config", help="gateway.yaml to read.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List stubs: id, service, request, status, operation.

    Example: gw stubs list orders --json
    """
    config, store = _store([config_file] if config_file else None)
    if service and service not in config.services:
        fail(f"no service {service!r}; services: {', '.join(config.services)}")
    rows = [{"id": f"{s.service}/{s.id}", "service": s.service, "method": s.method, "path": _show_path(s.path),
             "status": s.status, "operation": s.operation or "", "file": str(s.file)} for s in store.all(service)]
    print_rows(rows, ["id", "method", "path", "status", "operation"], as_json, empty="no stubs")
    if store.errors:
        raise typer.Exit(1)


@stubs_app.command("show")
def stubs_show(
    stub_id: Annotated[str, typer.Argument(help="SERVICE/ID or ID, as `gw stubs list` prints it.")],
    config_file: Annotated[Optional[Path], typer.Option("--config", help="gateway.yaml to read.")] = None,
) -> None:
    """Print one stub file.

    Example: gw stubs show users/getUser-alice
    """
    _, store = _store([config_file] if config_file else None)
    stub = store.find(stub_id)
    if stub is None:
        fail(f"no stub {stub_id!r}; see `gw stubs list`")
        return
    out.print(f"[bold]{stub.file}[/]", highlight=False)
    sys.stdout.write(stub.file.read_text(encoding="utf-8"))


@stubs_app.command("import")
def stubs_import(
    har: Annotated[Path, typer.Argument(help="A HAR file exported from the browser's network panel.")],
    config_file: Annotated[Optional[Path], typer.Option("--config", help="gateway.yaml to read.")] = None,
) -> None:
    """Turn a browser HAR export into stubs for the services whose base paths match, secrets scrubbed.

    Example: gw stubs import ~/Downloads/localhost.har
    """
    from .app import build_app, load_services
    from .stubs.har import HarError, import_har

    config = _config(_args([config_file] if config_file else None))
    loaded = load_services(config, deep_check="cached")
    for error in loaded.errors:
        err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    gateway = build_app(config, keep_going=True, loaded=loaded)
    try:
        report = import_har(har, loaded.services, gateway.recorder)
    except HarError as exc:
        fail(str(exc), 1)
        return
    for recorded in report.recorded:
        flag = "  [red]breaks the contract[/]" if recorded.violations else ""
        out.print(f"{recorded.outcome:9} {recorded.stub_id}{flag}", highlight=False)
    _record_summary(report.recorded)
    if report.skipped:
        err.print(f"skipped {counted(len(report.skipped), 'entry', 'entries')} (no service operation matches): "
                  + "; ".join(report.skipped[:5]) + (" ..." if len(report.skipped) > 5 else ""), highlight=False)


@stubs_app.command("verify")
def stubs_verify(
    service: Annotated[Optional[str], typer.Argument(help="Only this service's stubs.")] = None,
    config_file: Annotated[Optional[Path], typer.Option("--config", help="gateway.yaml to read.")] = None,
) -> None:
    """Check every stub against the current spec: declared status, media type, body schema.

    Example: gw stubs verify users || echo "stubs have drifted from the spec"
    """
    from .app import load_services

    config, store = _store([config_file] if config_file else None)
    if service and service not in config.services:
        fail(f"no service {service!r}; services: {', '.join(config.services)}")
    loaded = load_services(config, deep_check="cached")
    for error in loaded.errors:
        err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    bad = len(store.errors) + len(loaded.errors)
    checked = 0
    for stub in store.all(service):
        spec = loaded.services.get(stub.service)
        if spec is None:
            continue
        checked += 1
        for problem in stub_problems(stub, spec):
            bad += 1
            err.print(f"{stub.file}: {stub.operation or stub.method}: {problem}", highlight=False, soft_wrap=True)
    verdict = "all honour the spec" if not bad else counted(bad, "problem")
    out.print(f"checked {counted(checked, 'stub')}: {verdict}", highlight=False)
    if bad:
        raise typer.Exit(1)


def stub_problems(stub: Stub, service: Service) -> list[str]:
    """What is wrong with a stub under the service's current spec, as short sentences."""
    from .stubs.verify import stub_problems as problems

    return problems(stub, service)


@stubs_app.command("prune")
def stubs_prune(
    config_file: Annotated[Optional[Path], typer.Option("--config", help="gateway.yaml to read.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be removed.")] = False,
) -> None:
    """Remove stubs whose operation no longer exists in the service's spec (and their side files).

    Example: gw stubs prune --dry-run
    """
    from .app import load_services
    from .stubs.prune import prune

    config, store = _store([config_file] if config_file else None)
    loaded = load_services(config, deep_check="cached")
    for error in loaded.errors:
        fail(f"{error} (prune needs every spec to load)", 1)
    pruned = prune(store, loaded.services, dry_run)
    for item in pruned:
        action = "would remove" if dry_run else "removed"
        out.print(f"{action} {item.stub.service}/{item.stub.id}  [dim]({escape(item.reason)})[/]", highlight=False)
        for note in item.notes:  # a side file outside the stubs folder, or another stub's too: it stays
            err.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)
    if not pruned:
        out.print("nothing to prune")


def _show_path(path: object) -> str:
    from .stubs.verify import show_path

    return show_path(path)


@app.command()
def contract(
    items: Annotated[Optional[list[str]], typer.Argument(
        metavar="SERVICE|SPEC", help="Services to test (default: all in gateway.yaml), or spec files.",
        show_default=False)] = None,
    target: Annotated[str, typer.Option(help="stub, live (the gateway, started here) or a base URL.")] = "stub",
    config_file: Annotated[Optional[Path], typer.Option("--config", help="gateway.yaml to read.")] = None,
    upstream: Annotated[Optional[list[str]], typer.Option(help="Upstream URL for every service (--target live).")] = None,
    checks: Annotated[Optional[str], typer.Option(help="Comma-separated schemathesis checks. Default: all.")] = None,
    max_examples: Annotated[int, typer.Option(min=1, help="Generated cases per operation and phase.")] = 10,
    seed: Annotated[Optional[int], typer.Option(help="Same seed, same requests. Default: a new one, printed.")] = None,
    phases: Annotated[str, typer.Option(help="Comma-separated schemathesis phases.")] = ",".join(PHASES),
    header: Annotated[Optional[list[str]], typer.Option("--header", "-H", help="'Name: value' sent with every request.")] = None,
    junit: Annotated[Optional[Path], typer.Option(help="Write JUnit XML here (a testcase per operation).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report on stdout.")] = False,
) -> None:
    """Fuzz every operation with schemathesis and check each answer against the spec; exit 1 on any failure.

    Example: gw contract --target stub --junit contract.xml

    Example: gw contract users --target live --max-examples 50 --seed 7

    Example: gw contract specs/users.yaml --target http://localhost:9001
    """
    from .contract.conformance.phases import resolve_phases
    from .contract.conformance.report import RichProgress, print_failures, print_summary, print_verdict, to_json, write_junit
    from .contract.conformance.runner import Options as ContractOptions
    from .contract.conformance.runner import run_contract
    from .contract.conformance.target import ContractError
    from .contract.conformance.target import Target as ContractTarget
    from .core.logs import setup_logging
    from .spec.fetch import is_url

    files: list[str | Path] = [i if is_url(i) else Path(i) for i in items or []
                               if is_url(i) or Path(i).suffix in SPEC_SUFFIXES or "/" in i]
    names = [i for i in items or [] if i not in files and Path(i) not in files]
    config = _config(_args([*([config_file] if config_file else []), *files] or None, upstream=upstream or []))
    setup_logging(config.log_format, "error")
    try:
        options = ContractOptions(checks=[c.strip() for c in checks.split(",") if c.strip()] if checks else None,
                                  max_examples=max_examples, seed=seed if seed is not None else secrets.randbelow(2**31),
                                  phases=resolve_phases(p.strip() for p in phases.split(",") if p.strip()),
                                  headers=_headers(header or []))
        chosen = ContractTarget.parse(target)
        if as_json:
            report = run_contract(config, names, chosen, options)
        else:
            with RichProgress(err) as progress:
                report = run_contract(config, names, chosen, options, progress)
    except ContractError as exc:
        fail(str(exc))
        return
    if junit:
        try:
            write_junit(report, junit)
        except OSError as exc:
            fail(f"{junit}: {exc.strerror or exc}")
    if as_json:
        sys.stdout.write(to_json(report) + "\n")
    else:
        print_summary(report, out)
        print_failures(report, out)
        print_verdict(report, out)
    if not report.ok:
        raise typer.Exit(1)


def _headers(values: list[str]) -> dict[str, str]:
    from .contract.conformance.target import ContractError

    headers = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise ContractError(f"--header: expected 'Name: value', got {value!r}")
        headers[name.strip()] = rest.strip()
    return headers


# --- auth: gw token, gw auth hash-password (logic in gateway/auth/commands.py) ---

auth_app = typer.Typer(help="Credentials for the built-in login.\n\nExample: gw auth hash-password", no_args_is_help=True)
app.add_typer(auth_app, name="auth")


def _auth_config(config_file: Path | None) -> GatewayConfig:
    """--config, else ./gateway.yaml when there is one, else defaults; GW_ variables apply to all three."""
    from .settings.config import load_config_here

    try:
        return load_config_here(config_file)
    except ConfigError as exc:
        fail(str(exc))
        raise  # unreachable


@app.command()
def token(
    sub: Annotated[str, typer.Option("--sub", help="The token's subject (user id).")],
    roles: Annotated[str, typer.Option(help="Comma-separated roles.")] = "",
    scope: Annotated[str, typer.Option(help='Space-separated scopes, e.g. "read write".')] = "",
    ttl: Annotated[str, typer.Option(help="Lifetime: 90s, 15m, 1h, 7d.")] = "1h",
    secret: Annotated[Optional[str], typer.Option(help="Sign with this HS256 secret instead of auth.jwt.")] = None,
    config_file: Annotated[Optional[Path], typer.Option("--config", help="gateway.yaml to read.")] = None,
) -> None:
    """Print an access token signed with the gateway's auth.jwt key, for curl and tests.

    Example: curl -H "Authorization: Bearer $(gw token --sub alice --roles admin)" localhost:8000/users/me
    """
    from .auth.commands import CommandError, make_token, parse_ttl

    config = _auth_config(config_file)
    try:
        role_list = [r.strip() for r in roles.split(",") if r.strip()]
        sys.stdout.write(make_token(config, sub, role_list, scope.strip(), parse_ttl(ttl), secret) + "\n")
    except CommandError as exc:
        fail(str(exc))


@auth_app.command("hash-password")
def hash_password(
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    argon2: Annotated[bool, typer.Option("--argon2", help="argon2id instead of bcrypt.")] = False,
) -> None:
    """Print a password hash for auth.users[].password_hash (asks twice, hidden, unless --password-stdin).

    Example: gw auth hash-password --argon2
    """
    from .auth.passwords import PasswordError
    from .auth.passwords import hash_password as make_hash

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    try:
        sys.stdout.write(make_hash(password, argon2=argon2) + "\n")
    except PasswordError as exc:
        fail(str(exc))


@app.command()
def init(
    specs: Annotated[Optional[list[Path]], typer.Argument(
        help="OpenAPI documents to serve. Default: every one in ./specs/ that has operations", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing gateway.yaml")] = False,
) -> None:
    """Write a commented gateway.yaml here: one service per spec, at /<name>, in stub mode.

    Example: gw init                     (every spec in ./specs/)

    Example: gw init api/shop.yaml --force
    """
    from .settings.init_config import InitError
    from .settings.init_config import init as write_init

    try:
        target, services, skipped = write_init(list(specs or []), Path.cwd(), force)
    except InitError as exc:
        fail(str(exc))
        return
    names = ", ".join(services)
    out.print(f"wrote {target.name}: {counted(len(services), 'service')} ({names}), stub mode",
              highlight=False)
    for summary in skipped:
        out.print(f"  left out {summary.path.name}: no operations (shared schemas)", highlight=False)
    out.print("next: gw serve, then open http://127.0.0.1:8000/_gw/ui", highlight=False)


@app.command("mode")
def mode_command(
    service: Annotated[Optional[str], typer.Argument(metavar="[SERVICE]", show_default=False,
                                                     help="The service; alone: its operations and their modes.")] = None,
    new_mode: Annotated[Optional[str], typer.Argument(metavar="[MODE]", help=f"Switch to: {', '.join(MODES)}.",
                                                      show_default=False)] = None,
    operation: Annotated[Optional[str], typer.Option("--operation", "-o", help="Switch one operation: its operationId, "
                                                     'or "METHOD /path" as `gw mode SERVICE` lists it.')] = None,
    save: Annotated[bool, typer.Option("--save", help="Also write the mode into ./gateway.yaml (comments kept).")] = False,
    url: Annotated[Optional[str], typer.Option(help="The gateway. Default: GW_URL, else ./gateway.yaml's host:port.")] = None,
    port: Annotated[Optional[int], typer.Option("--port", "-p", help="The gateway's port on this machine, as given "
                                                "to `gw serve --port` (default: gateway.yaml's port).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show or switch modes on a running gateway (every process, when they share redis_url).

    Example: gw mode                              (every service and its mode)

    Example: gw mode users live --save            (switch now, and keep it in gateway.yaml)

    Example: gw mode users stub --operation "GET /me"
    """
    from .operator.admin.client import AdminError
    from .operator.admin.commands import show_modes, switch_mode

    try:
        if new_mode is None and (save or operation):
            fail("give the MODE to switch to, e.g. gw mode users live --save")
        elif new_mode is None:
            print_rows(*show_modes(url, service, port), as_json=as_json)
        else:
            out.print(switch_mode(url, service or "", new_mode, operation, save, port=port), highlight=False,
                      soft_wrap=True)
    except AdminError as exc:
        fail(str(exc))


@app.command("chaos")
def chaos_command(
    service: Annotated[str, typer.Argument(help="The service.", show_default=False)],
    delay: Annotated[Optional[str], typer.Option(help="300ms (fixed), 100ms..2s (uniform) or 0 (none).")] = None,
    fault: Annotated[Optional[str], typer.Option(help="connection_reset, empty_response, malformed_chunk, "
                                                      "random_data_then_close, status or none.")] = None,
    fault_rate: Annotated[Optional[float], typer.Option("--fault-rate", help="Share of requests the fault hits "
                                                        "(0.1: 10 %). Default 1.", min=0, max=1)] = None,
    status: Annotated[Optional[int], typer.Option(help="A status fault's status (default: the lowest documented 5xx).")] = None,
    operation: Annotated[Optional[str], typer.Option("--operation", "-o", help="One operation (its key).")] = None,
    off: Annotated[bool, typer.Option("--off", help="Clear the runtime switch (gateway.yaml's chaos applies again).")] = False,
    url: Annotated[Optional[str], typer.Option(help="The gateway. Default: GW_URL, else ./gateway.yaml's host:port.")] = None,
    port: Annotated[Optional[int], typer.Option("--port", "-p", help="The gateway on this loopback port.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show or switch latency and faults on a running gateway (every process, when they share redis_url).

    Example: gw chaos orders --delay 1s --fault connection_reset --fault-rate 0.1

    Example: gw chaos orders -o getOrder --fault status --status 404

    Example: gw chaos orders --off                (back to gateway.yaml's chaos, if any)
    """
    from .operator.admin.chaos_commands import change_body, chaos, chaos_line
    from .operator.admin.client import AdminError

    try:
        switching = any(v is not None for v in (delay, fault, fault_rate, status))
        if off and switching:
            fail("--off clears the switch: give it alone, or the new --delay/--fault without it")
        body = change_body(delay, fault, fault_rate, status) if switching else None
        view = chaos(url or (f"http://127.0.0.1:{port}" if port else None), service, operation, body, off)
        if as_json:
            print(json.dumps(view, indent=2))
        else:
            out.print(chaos_line(view), highlight=False, soft_wrap=True)
    except AdminError as exc:
        fail(str(exc))


@app.command()
def journal(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new exchanges until Ctrl-C.")] = False,
    limit: Annotated[int, typer.Option(help="How many recent exchanges.", min=1)] = 20,
    url: Annotated[Optional[str], typer.Option(help="The gateway. Default: GW_URL, else ./gateway.yaml's host:port.")] = None,
    port: Annotated[Optional[int], typer.Option("--port", "-p", help="The gateway's port on this machine, as given "
                                                "to `gw serve --port` (default: gateway.yaml's port).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The gateway's request journal: recent exchanges with their answer source, time and near misses.

    Example: gw journal --limit 50

    Example: gw journal --follow                  (new exchanges as they happen; Ctrl-C to stop)
    """
    from .operator.admin.client import AdminError
    from .operator.admin.commands import JOURNAL_COLUMNS, follow_journal, journal_rows

    try:
        rows, cursor = journal_rows(url, limit, port)
        if rows or not follow:
            print_rows(rows, JOURNAL_COLUMNS, as_json, empty="the journal is empty")
        if follow:
            follow_journal(url, cursor, lambda line: out.print(line, highlight=False, soft_wrap=True), port=port)
    except AdminError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        return


@app.command()
def webhook(
    service: Annotated[str, typer.Argument(help="The service whose spec documents the webhook.")],
    name: Annotated[str, typer.Argument(help="The webhook's name under the spec's `webhooks` (OpenAPI 3.1).")],
    to: Annotated[str, typer.Option("--to", help="The receiver's URL (yours to choose: callbacks.allow does not apply).")],
    config_file: Annotated[Optional[Path], typer.Option("--config", help="gateway.yaml to read.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Fire a webhook now: its documented method and a payload from its schema or example; one line: status and time.

    Example: gw webhook orders orderStatusChanged --to http://127.0.0.1:9000/hooks
    """
    from .callbacks.command import WebhookCommandError, fire_from_cli

    try:
        outcome, sent = fire_from_cli(_auth_config(config_file), service, name, to)
    except WebhookCommandError as exc:
        fail(str(exc))
        return
    if as_json:
        sys.stdout.write(json.dumps({**sent, "outcome": outcome.outcome, "status": outcome.status or None,
                                     "duration_ms": outcome.duration_ms, "reason": outcome.reason or None,
                                     "contract": outcome.contract}, indent=2) + "\n")
    elif outcome.outcome == "sent":
        out.print(f"{sent['method']} {to}: {outcome.line()}", highlight=False, soft_wrap=True)
    else:
        fail(f"{sent['method']} {to}: {outcome.reason}", code=1)
    if outcome.outcome != "sent" or outcome.status >= 400:
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
