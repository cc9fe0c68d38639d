"""Gateway settings: `gateway.yaml`, then `GW_...` environment variables, then CLI flags.

Every setting has one dotted name used everywhere: `services.users.timeout` in YAML is
`GW_SERVICES__USERS__TIMEOUT` in the environment. A typo or a bad value is a `ConfigError`
naming the file, the key and the reason, never a traceback.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

MODES = ("stub", "live", "record", "fallback", "spy")
SPEC_SUFFIXES = (".yaml", ".yml", ".json")


class ConfigError(Exception):
    """A setting that cannot be used: one line, `file: key: reason`."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source, self.key, self.reason = source, key, reason
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {reason}")


@dataclass
class ServiceConfig:
    """One downstream service: its contract, where it lives, and how the gateway treats it."""

    name: str = ""
    spec: str = ""
    base_path: str = ""
    mode: str = "stub"
    upstream: list[str] = field(default_factory=list)
    timeout: float = 10.0
    connect_timeout: float = 2.0
    retries: int = 2
    backoff: float = 0.05
    backoff_max: float = 2.0
    idempotent: list[str] = field(default_factory=list)
    max_body: int = 0  # 0: the gateway-wide limit
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)

    def mode_for(self, operation_key: str) -> str:
        override = self.operations.get(operation_key, {})
        return override.get("mode", self.mode)


@dataclass
class GatewayConfig:
    """Gateway-wide settings plus the services."""

    services: dict[str, ServiceConfig] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body: int = 10 * 1024 * 1024
    log_format: str = "auto"  # auto: JSON lines unless stderr is a terminal
    log_level: str = "info"
    keep_going: bool = False
    stubs: str = "stubs"  # the stub store's folder, relative to gateway.yaml
    redact: dict[str, list[str]] = field(default_factory=dict)  # more to scrub when recording: headers, query, fields, patterns
    record_versions: bool = False  # keep an updated stub's previous content in stubs/<service>/.versions/
    reload: bool = True  # pick up edited or added stub files and specs while running
    reload_interval: float = 1.0
    source: str = field(default="<defaults>", metadata={"internal": True})
    root: str = field(default=".", metadata={"internal": True})

    def stubs_path(self) -> Path:
        path = Path(self.stubs)
        return path if path.is_absolute() else Path(self.root) / path

    def spec_path(self, service: ServiceConfig) -> Path:
        path = Path(service.spec)
        return path if path.is_absolute() else Path(self.root) / path


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.I)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}
_DURATION_KEYS = {"timeout", "connect_timeout", "backoff", "backoff_max", "reload_interval"}
_SIZE_KEYS = {"max_body"}


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None) -> GatewayConfig:
    """Read `gateway.yaml` (or the given file), then apply `GW_...` overrides from `env`."""
    env = dict(os.environ if env is None else env)
    data: dict[str, Any] = {}
    source = "<defaults>"
    root = Path.cwd()
    if path is not None:
        path = Path(path)
        source = str(path)
        root = path.resolve().parent
        data = _read_yaml(path)
    apply_env(data, env)
    config = build_config(data, source)
    config.root = str(root)
    return config


def config_for_specs(specs: list[str | Path], env: dict[str, str] | None = None) -> GatewayConfig:
    """A gateway for bare spec files, as `prism mock spec.yaml`: one service each, stub mode.

    A single spec is served at `/`; several are served under `/<name>`.
    """
    services: dict[str, Any] = {}
    for spec in specs:
        name = _service_name(Path(spec), services)
        base = "/" if len(specs) == 1 else f"/{name}"
        services[name] = {"spec": str(Path(spec).resolve()), "base_path": base}
    data: dict[str, Any] = {"services": services}
    apply_env(data, dict(os.environ if env is None else env))
    return build_config(data, " ".join(str(s) for s in specs))


def _service_name(spec: Path, taken: dict[str, Any]) -> str:
    base = re.sub(r"[^a-z0-9_-]+", "-", spec.stem.lower()).strip("-") or "api"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "", exc.strerror or str(exc)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), place, f"not valid YAML: {reason}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "must be a mapping of settings (services: ...)")
    return data


def apply_env(data: dict[str, Any], env: dict[str, str]) -> None:
    """`GW_A__B__C=value` sets data['a']['b']['c'] (value read as a YAML scalar; commas make lists)."""
    for name, raw in sorted(env.items()):
        if not name.startswith("GW_") or name in _NOT_SETTINGS:
            continue
        keys = [part.lower() for part in name[3:].split("__") if part]
        if not keys:
            continue
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise ConfigError(name, ".".join(keys), "conflicts with a non-mapping setting")
        target[keys[-1]] = _env_value(keys[-1], raw)


_NOT_SETTINGS = {"GW_URL", "GW_CONFIG", "GW_SERVE_ARGS"}


def _env_value(key: str, raw: str) -> Any:
    if key == "upstream" or key == "idempotent":
        return [part.strip() for part in raw.split(",") if part.strip()]
    try:
        return yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw


def build_config(data: dict[str, Any], source: str) -> GatewayConfig:
    services_raw = data.get("services", {}) or {}
    if not isinstance(services_raw, dict):
        raise ConfigError(source, "services", "must be a mapping of service names to settings")
    top = {k: v for k, v in data.items() if k != "services"}
    config = _fill(GatewayConfig, top, source, "")
    for name, raw in services_raw.items():
        key = f"services.{name}"
        if not re.fullmatch(r"[A-Za-z0-9_-]+", str(name)):
            raise ConfigError(source, key, "a service name may use letters, digits, '-' and '_' only")
        if raw is None or not isinstance(raw, dict):
            raise ConfigError(source, key, "must be a mapping with at least `spec`")
        service = _fill(ServiceConfig, raw, source, key)
        service.name = str(name)
        _check_service(service, source, key)
        config.services[service.name] = service
    _check_gateway(config, source)
    return config


def _fill(cls: type, raw: dict[str, Any], source: str, prefix: str) -> Any:
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    settable = set(fields) - {"services", "name"}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in settable:
            raise ConfigError(source, dotted, _unknown(str(key), settable))
        values[key] = _coerce(key, value, hints[key], source, dotted)
    return cls(**values)


def _unknown(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    return f"unknown setting{hint}"


def _coerce(key: str, value: Any, hint: Any, source: str, dotted: str) -> Any:
    if key in _DURATION_KEYS:
        return _duration(value, source, dotted)
    if key in _SIZE_KEYS:
        return _size(value, source, dotted)
    if key == "upstream":
        return parse_upstreams(value, source, dotted)
    text = str(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(source, dotted, f"expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(source, dotted, f"expected a whole number, got {value!r}")
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(source, dotted, f"expected a string, got {value!r}")
    if text.startswith("list"):
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise ConfigError(source, dotted, "expected a list of strings")
    if text.startswith("dict"):
        if isinstance(value, dict):
            return value
        raise ConfigError(source, dotted, "expected a mapping")
    return value


def _duration(value: Any, source: str, dotted: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ConfigError(source, dotted, f"expected a duration such as 5, 2.5s or 300ms, got {value!r}")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def _size(value: Any, source: str, dotted: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ConfigError(source, dotted, f"expected a size such as 1048576, 512KiB or 10MB, got {value!r}")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def parse_upstreams(value: Any, source: str, dotted: str = "") -> list[str]:
    """One URL, a list, or a list of {url, weight}: the http(s) URLs, without trailing slashes."""
    items = value if isinstance(value, list) else [value]
    urls = []
    for item in items:
        url = item.get("url") if isinstance(item, dict) else item
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(source, dotted, f"expected an http(s) URL, got {url!r}")
        urls.append(url.rstrip("/"))
    return urls


def _check_service(service: ServiceConfig, source: str, key: str) -> None:
    if not service.spec:
        raise ConfigError(source, f"{key}.spec", "is required: the path of the service's OpenAPI document")
    if service.mode not in MODES:
        raise ConfigError(source, f"{key}.mode", f"must be one of {', '.join(MODES)}, got {service.mode!r}")
    if service.retries < 0:
        raise ConfigError(source, f"{key}.retries", "must be 0 or more")
    for op, override in service.operations.items():
        if not isinstance(override, dict):
            raise ConfigError(source, f"{key}.operations.{op}", "expected a mapping such as {mode: live}")
        unknown = set(override) - {"mode"}
        if unknown:
            raise ConfigError(source, f"{key}.operations.{op}.{sorted(unknown)[0]}", _unknown(sorted(unknown)[0], {"mode"}))
        if override.get("mode", "stub") not in MODES:
            raise ConfigError(source, f"{key}.operations.{op}.mode", f"must be one of {', '.join(MODES)}")
    if not service.base_path:
        service.base_path = f"/{service.name}"
    if not service.base_path.startswith("/"):
        raise ConfigError(source, f"{key}.base_path", "must start with /")
    if service.base_path != "/":
        service.base_path = service.base_path.rstrip("/")
    if service.base_path.startswith("/_gw"):
        raise ConfigError(source, f"{key}.base_path", "/_gw is reserved for the gateway's own endpoints")


def _check_redact(config: GatewayConfig, source: str) -> None:
    for key, values in config.redact.items():
        if key not in ("headers", "query", "fields", "patterns"):
            raise ConfigError(source, f"redact.{key}", _unknown(str(key), {"headers", "query", "fields", "patterns"}))
        if isinstance(values, str):
            values = config.redact[key] = [v.strip() for v in values.split(",") if v.strip()]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ConfigError(source, f"redact.{key}", "expected a list of strings")
        if key == "patterns":
            for index, pattern in enumerate(values):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ConfigError(source, f"redact.patterns[{index}]", f"bad regex: {exc}") from None


def _check_gateway(config: GatewayConfig, source: str) -> None:
    _check_redact(config, source)
    if not 0 < config.port < 65536:
        raise ConfigError(source, "port", f"must be between 1 and 65535, got {config.port}")
    if config.workers < 1:
        raise ConfigError(source, "workers", "must be 1 or more")
    if config.log_format not in ("auto", "json", "text"):
        raise ConfigError(source, "log_format", "must be auto, json or text")
    seen: dict[str, str] = {}
    for service in config.services.values():
        if service.base_path in seen:
            raise ConfigError(source, f"services.{service.name}.base_path",
                              f"{service.base_path} is already used by service {seen[service.base_path]}")
        seen[service.base_path] = service.name


def apply_overrides(config: GatewayConfig, mode: str | None = None, upstream: list[str] | None = None,
                    timeout: float | None = None, retries: int | None = None) -> None:
    """CLI flags win over file and environment; they apply to every service."""
    for service in config.services.values():
        if mode is not None:
            if mode not in MODES:
                raise ConfigError("--mode", "", f"must be one of {', '.join(MODES)}, got {mode!r}")
            service.mode = mode
        if upstream:
            service.upstream = parse_upstreams(upstream, "--upstream")
        if timeout is not None:
            service.timeout = timeout
        if retries is not None:
            service.retries = retries
