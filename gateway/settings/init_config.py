"""`gw init`: a first `gateway.yaml` for a folder of OpenAPI specs, commented so it teaches the settings.

A newcomer with a `specs/` folder should get a gateway that serves every API in stub mode with one
command and no reading: one service per spec (named after the file, mounted at `/<name>`), and the
settings they will want next (upstream, timeouts, other modes) written out as comments beside it.
Files that are OpenAPI documents without operations (shared `components` other specs `$ref`) are
left out and named in a comment, so nobody wonders why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..core.wording import counted
from ..spec.load import HTTP_METHODS, SpecError, read_document
from .callbacks import INIT_EXAMPLE as CALLBACKS_EXAMPLE
from .config import SPEC_SUFFIXES, ConfigError, build_config, service_name

DEFAULT_FOLDER = "specs"


class InitError(Exception):
    """Why no gateway.yaml was written: one line for the CLI."""


@dataclass(frozen=True)
class SpecSummary:
    """What the generated comment says about one spec file."""

    path: Path
    title: str
    version: str  # the OpenAPI (or Swagger) version
    operations: int
    upstream_hint: str  # the spec's first absolute server URL, a likely upstream; "" when none

    @property
    def is_service(self) -> bool:
        return self.operations > 0


def summarize(path: Path) -> SpecSummary | None:
    """The spec's title, version and operation count; None when the file is not an OpenAPI document."""
    try:
        document = read_document(path)
    except SpecError:
        return None
    version = document.get("openapi") or document.get("swagger")
    if version is None:
        return None
    info = document.get("info") if isinstance(document.get("info"), dict) else {}
    return SpecSummary(path, str(info.get("title") or path.stem), str(version), _count_operations(document),
                       _upstream_hint(document))


def _count_operations(document: dict[str, Any]) -> int:
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return 0
    return sum(1 for item in paths.values() if isinstance(item, dict) for method in item if method in HTTP_METHODS)


def _upstream_hint(document: dict[str, Any]) -> str:
    """An absolute server URL from the spec (3.x `servers`, or 2.0 host + basePath): where the real service may live."""
    for server in document.get("servers") or []:
        url = server.get("url", "") if isinstance(server, dict) else ""
        if re.match(r"^https?://[^{}]+$", url):
            return url.rstrip("/")
    host = document.get("host")
    if isinstance(host, str) and host:
        scheme = (document.get("schemes") or ["https"])[0]
        return f"{scheme}://{host}{document.get('basePath', '')}".rstrip("/")
    return ""


def discover(folder: Path) -> list[Path]:
    """Spec candidates in `folder` (not recursive), sorted so the file is the same on every machine."""
    if not folder.is_dir():
        raise InitError(f"no {folder.name}/ folder here; give spec files: gw init path/to/api.yaml")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in SPEC_SUFFIXES)


def choose(paths: list[Path], explicit: bool) -> tuple[list[SpecSummary], list[SpecSummary]]:
    """(services, skipped shared-schema files). Given files must all be OpenAPI documents; found ones are filtered."""
    services: list[SpecSummary] = []
    skipped: list[SpecSummary] = []
    for path in paths:
        if explicit and not path.is_file():
            raise InitError(f"{path}: no such file")
        summary = summarize(path)
        if summary is None:
            if explicit:
                raise InitError(f"{path}: not an OpenAPI document (no `openapi` or `swagger` field)")
            continue
        (services if summary.is_service else skipped).append(summary)
    if not services:
        where = ", ".join(str(p) for p in paths) if explicit else f"{DEFAULT_FOLDER}/"
        raise InitError(f"no OpenAPI document with operations in {where}; give spec files: gw init path/to/api.yaml")
    return services, skipped


def named(services: list[SpecSummary]) -> dict[str, SpecSummary]:
    """Each spec under its service name, in file order."""
    names: dict[str, SpecSummary] = {}
    for summary in services:
        names[service_name(summary.path, set(names))] = summary
    return names


def render(services: dict[str, SpecSummary], skipped: list[SpecSummary], root: Path) -> str:
    """The commented gateway.yaml text: a header explaining the settings, then one block per service."""
    lines = HEADER.splitlines()
    if skipped:
        names = ", ".join(_relative(s.path, root) for s in skipped)
        lines += [f"# Left out (OpenAPI documents without operations, e.g. shared schemas other specs $ref): {names}"]
    lines += ["", "# port: 8000                      # gateway-wide settings: host, port, workers, log_format, ...",
              *STUB_TEMPLATES_AND_SCENARIOS, "", "services:"]
    for number, (name, summary) in enumerate(services.items()):
        lines += _service_block(name, summary, root, 9001 + number)
    lines += ["", *CALLBACKS_EXAMPLE.splitlines()]
    return "\n".join(lines).rstrip() + "\n"


def _service_block(name: str, summary: SpecSummary, root: Path, port: int) -> list[str]:
    upstream = summary.upstream_hint or f"http://127.0.0.1:{port}"
    where = "from the spec's servers" if summary.upstream_hint else "where the real service runs"
    return [
        f"  {name}:",
        f"    # {_one_line(summary.title)} (OpenAPI {summary.version}, {counted(summary.operations, 'operation')})",
        f"    spec: {_yaml_scalar(_relative(summary.path, root))}",
        f"    base_path: /{name}",
        "    mode: stub                     # stub | live | fallback | spy | record",
        f"    # upstream: {upstream}   # {where}; needed for every mode but stub",
        "    # timeout: 5s",
        "    # retries: 2",
        "    # state: true                  # stub answers remember what clients create (POST, GET, list, DELETE)",
        "    # chaos:                         # latency and faults on purpose, in every mode (`gw chaos` switches them live)",
        "    #   delay: 100ms..2s             # 300ms fixed | 100ms..2s uniform | {median: 200ms, sigma: 0.4} log-normal",
        "    #   fault: status                # status (a documented error) | connection_reset | empty_response |",
        "    #                                # malformed_chunk | random_data_then_close",
        "    #   rate: 0.05                   # the fault hits 5 % of requests; `Prefer: delay=800` per request too",
        "",
    ]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _yaml_scalar(text: str) -> str:
    """A path as YAML writes it (quoted only where it must be)."""
    return yaml.safe_dump(text, default_style=None).removesuffix("\n...\n").strip()


def _relative(path: Path, root: Path) -> str:
    """Paths in gateway.yaml are relative to it, so the folder can move (or be committed) as a whole."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def check_loads(text: str, target: Path) -> None:
    """The text must be a config the gateway accepts: a bad file written by init would be a bad first minute."""
    try:
        build_config(yaml.safe_load(text) or {}, str(target))
    except ConfigError as exc:
        raise InitError(f"would write an unusable config: {exc}") from None


def write(target: Path, text: str, force: bool) -> None:
    """Write gateway.yaml, never over an existing file unless forced."""
    if target.exists() and not force:
        raise InitError(f"{target.name} already exists; `gw init --force` overwrites it")
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InitError(f"{target}: {exc.strerror or exc}") from None


def init(specs: list[Path], root: Path, force: bool = False) -> tuple[Path, dict[str, SpecSummary], list[SpecSummary]]:
    """Everything `gw init` does: pick the specs, render, check, write. Returns (file, services by name, skipped)."""
    target = root / "gateway.yaml"
    if target.exists() and not force:  # say so before reading any spec
        raise InitError(f"{target.name} already exists; `gw init --force` overwrites it")
    explicit = bool(specs)
    found, skipped = choose(specs if explicit else discover(root / DEFAULT_FOLDER), explicit)
    services = named(found)
    text = render(services, skipped, root)
    check_loads(text, target)
    write(target, text, force)
    return target, services, skipped


STUB_TEMPLATES_AND_SCENARIOS = [
    "#",
    "# Stub files (stubs/<service>/*.yaml) can render answers per request and answer in turn:",
    "#   response:",
    "#     template: true               # Jinja2, sandboxed: {{ request.path.id }}, {{ request.query.q }},",
    "#     body:                        #   {{ request.headers.x_tenant }}, {{ request.body.name }}, {{ now('+1d') }},",
    "#       id: \"{{ request.path.order_id }}\"  #   {{ uuid() }}, {{ random_int(1, 9) }}, {{ fake.name() }}",
    "#   scenario: export-job           # answer only while the scenario is in `state` (all start in Started),",
    "#   state: Started                 #   then move it to `next_state`: 202, 202, then 200 for a polling client;",
    "#   next_state: running            #   per X-GW-Session; see and reset them at /_gw/api/scenarios",
    "# templates:                       # what rendering one templated answer may cost",
    "#   max_output: 1mb                # characters of body and headers",
    "#   max_iterations: 10000          # loop iterations and calls",
]

HEADER = """\
# gw gateway configuration, written by `gw init`. Edit freely: comments are yours to keep.
# Every setting can be overridden by an environment variable GW_... (GW_PORT=8080,
# GW_SERVICES__<NAME>__MODE=live); CLI flags win over both. See the README for all settings.
#
# Each entry under `services` mounts one OpenAPI spec:
#   spec       the service's OpenAPI document, relative to this file
#   base_path  URL prefix its paths are served under: GET /items in the spec is GET /<base_path>/items here
#   mode       stub: answer from the spec's examples and stubs/<service>/ files, or with data generated
#              from the response schemas; live / fallback / spy / record reach `upstream` (see README)
#   upstream   the real service's base URL (a list load-balances), unused in stub mode
#   state      true: stub mode remembers what clients create, per X-GW-Session (POST /things then GET,
#              list, PUT, PATCH, DELETE and the spec's 404), seeded from stubs/<service>/state/*.yaml;
#              where the paths are ambiguous name the collection:
#              state: {max_resources: 1000, collections: {orders: {path: /orders, item: /orders/{order_id}, id: id}}}
#
# Start it with `gw serve`; the dashboard is at /_gw/ui and each service's docs at /_gw/docs.
#"""
