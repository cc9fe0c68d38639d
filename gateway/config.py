"""Gateway settings: `gateway.yaml`, then `GW_...` environment variables, then CLI flags.

Every setting has one dotted name used everywhere: `services.users.timeout` in YAML is
`GW_SERVICES__USERS__TIMEOUT` in the environment. A typo or a bad value is a `ConfigError`
naming the file, the key and the reason, never a traceback.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from .callbacks.settings import CallbackSettings, check_delay
from .chaos.settings import ChaosLimits, ChaosSettings, check_chaos
from .json_limits import JsonSettings
from .policy_settings import (
    LOAD_BALANCING,
    AdminSettings,
    AuthSettings,
    CircuitBreakerSettings,
    ContractSettings,
    CorsSettings,
    HealthCheckSettings,
    RateLimitSettings,
    RecordSettings,
    ServerSettings,
    SettingsError,
    StreamSettings,
    TemplateSettings,
    check_roles,
    check_upstream_auth,
)
from .simulation.settings import StateSettings, check_state

MODES = ("stub", "live", "record", "fallback", "spy")
PROXIED_MODES = frozenset({"live", "record", "fallback", "spy"})  # the modes that reach the upstream
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
    dynamic: bool = False  # stub answers generated from schemas, never examples (as `Prefer: dynamic=true`)
    upstream: list[str] = field(default_factory=list)
    timeout: float = 10.0
    connect_timeout: float = 2.0
    retries: int = 2
    backoff: float = 0.05
    backoff_max: float = 2.0
    idempotent: list[str] = field(default_factory=list)
    max_body: int = 0  # 0: the gateway-wide limit
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)  # {opKey: {mode, rate_limit, roles}}
    load_balancing: str = "round_robin"
    circuit_breaker: CircuitBreakerSettings = field(default_factory=CircuitBreakerSettings)
    health_check: HealthCheckSettings = field(default_factory=HealthCheckSettings)
    rate_limit: RateLimitSettings | None = None  # None: the gateway-wide limit
    upstream_auth: Any = "forward"  # forward | strip | mint | {bearer: TOKEN}
    roles: dict[str, list[str]] = field(default_factory=dict)  # {"*" or opKey: [roles]}
    websockets: list[str] = field(default_factory=list)  # paths (below base_path) passed through as WebSockets
    contract: ContractSettings | None = None  # None: the gateway-wide setting
    state: StateSettings | None = None  # stateful resources from the spec's paths (gateway/simulation/); None: off
    chaos: ChaosSettings | None = None  # delay and faults on purpose (gateway/chaos/settings.py)
    brackets: bool = False  # read `a[b][0]=x`, `a[]=x` as nested in queries and forms where the spec does not say deepObject
    weights: dict[str, int] = field(default_factory=dict, metadata={"internal": True})  # upstream URL -> weight

    def mode_for(self, operation_key: str) -> str:
        override = self.operations.get(operation_key, {})
        return override.get("mode", self.mode)

    def set_upstreams(self, weighted: dict[str, int]) -> None:
        """The instances and their weights, always set together (the balancer reads both)."""
        self.weights, self.upstream = weighted, list(weighted)

    def roles_for(self, operation_key: str) -> list[str]:
        """Roles a caller needs for the operation (config's `roles`; the spec's scopes come on top)."""
        override = self.operations.get(operation_key, {})
        if "roles" in override:
            return override["roles"]
        return self.roles.get(operation_key, self.roles.get("*", []))


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
    record: RecordSettings = field(default_factory=RecordSettings)  # record.max_body: larger bodies are not kept
    reload: bool = True  # pick up edited or added stub files and specs while running
    reload_interval: float = 1.0
    reload_timeout: float = 10.0  # a spec reload taking longer (a hostile or pathological file) is refused
    reload_max_spec_size: int = 50 * 1024 * 1024  # bytes per spec file read on reload; larger ones are refused
    reload_max_memory: int = 2 * 1024 * 1024 * 1024  # bytes the reload's worker process may add while loading
    auth: AuthSettings = field(default_factory=AuthSettings)
    cors: CorsSettings = field(default_factory=CorsSettings)
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    contract: ContractSettings = field(default_factory=ContractSettings)
    redis_url: str = ""  # shared state (modes, limits, revocations, circuits) for several gateway processes
    allowed_hosts: list[str] = field(default_factory=list)  # empty: any Host; else exact names or *.suffix
    admin: AdminSettings = field(default_factory=AdminSettings)
    metrics: bool = True  # /_gw/metrics in Prometheus text format
    trusted_proxies: list[str] = field(default_factory=list)  # CIDRs whose X-Forwarded-For names the real client
    security_headers: bool = True  # nosniff, no-referrer, frame deny on the gateway's own answers
    streams: StreamSettings = field(default_factory=StreamSettings)  # mocked SSE / JSON Lines: events, pacing
    templates: TemplateSettings = field(default_factory=TemplateSettings)  # stub templates: output and loop bounds
    json: JsonSettings = field(default_factory=JsonSettings)  # bounds on JSON bodies: max_depth, max_number_digits
    server: ServerSettings = field(default_factory=ServerSettings)  # connection timeouts and limits (per process)
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)  # OpenAPI callbacks: delay, allow-list, limits
    chaos: ChaosLimits = field(default_factory=ChaosLimits)  # max_delay, Prefer: delay/fault, seed
    source: str = field(default="<defaults>", metadata={"internal": True})
    root: str = field(default=".", metadata={"internal": True})

    def rate_limit_for(self, service: str, operation_key: str) -> RateLimitSettings:
        """The most specific limit configured: operation, then service, then gateway-wide."""
        settings = self.services[service]
        override = settings.operations.get(operation_key, {})
        if "rate_limit" in override:
            return override["rate_limit"]
        return settings.rate_limit or self.rate_limit

    def contract_for(self, service: str) -> ContractSettings:
        return self.services[service].contract or self.contract

    def stubs_path(self) -> Path:
        path = Path(self.stubs)
        return path if path.is_absolute() else Path(self.root) / path

    def spec_path(self, service: ServiceConfig) -> Path:
        """The spec's file; for a spec URL, its cached copy (the loader fetches it: `gateway/spec_fetch.py`)."""
        if service.spec.startswith(("http://", "https://")):
            from .spec_fetch import cached_path  # spec_fetch imports this module: imported where needed
            return cached_path(service.spec)
        path = Path(service.spec)
        return path if path.is_absolute() else Path(self.root) / path


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.I)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}
_DURATION_KEYS = {"timeout", "connect_timeout", "backoff", "backoff_max", "reload_interval", "reload_timeout", "window",
                  "open_seconds", "interval", "leeway", "access_ttl", "refresh_ttl", "max_age", "keep_alive",
                  "header_timeout", "body_timeout", "drain_timeout", "max_delay"}
_SIZE_KEYS = {"max_body", "journal_max_body", "body_min_rate", "max_request_line", "max_header_size", "reload_max_spec_size",
              "reload_max_memory"}
_SIZE_KEYS |= {"max_output"}  # templates.max_output: characters a rendered stub answer may hold


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


def load_config_here(path: str | Path | None = None, env: dict[str, str] | None = None) -> GatewayConfig:
    """The given file, else ./gateway.yaml when there is one, else the defaults; GW_ variables apply to all three.
    For commands that talk to a gateway or sign for it rather than serve one (gw token, gw mode, gw journal)."""
    here = Path("gateway.yaml")
    return load_config(path if path is not None else (here if here.exists() else None), env)


def config_for_specs(specs: list[str | Path], env: dict[str, str] | None = None) -> GatewayConfig:
    """A gateway for bare spec files, as `prism mock spec.yaml`: one service each, stub mode.

    A single spec is served at `/`; several are served under `/<name>`.
    """
    services: dict[str, Any] = {}
    for spec in specs:
        name = service_name(Path(spec), services)
        base = "/" if len(specs) == 1 else f"/{name}"
        services[name] = {"spec": str(Path(spec).resolve()), "base_path": base}
    data: dict[str, Any] = {"services": services}
    apply_env(data, dict(os.environ if env is None else env))
    return build_config(data, " ".join(str(s) for s in specs))


def service_name(spec: Path, taken: Collection[str]) -> str:
    """The file's stem as a service name (letters, digits, '-', '_'), made unique with -2, -3, ..."""
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
        if not name.startswith("GW_") or name in _NOT_SETTINGS or _foreign(name):
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


_NOT_SETTINGS = {"GW_URL", "GW_CONFIG", "GW_SERVE_ARGS", "GW_JUDGE_CROSSCHECK"}  # the last: judge.py's debugging switch


_ENV_LIST_KEYS = {"upstream", "idempotent", "origins", "methods", "headers", "expose", "allowed_hosts", "trusted_proxies",
                  "allow_from", "websockets", "algorithms", "allow"}


def _foreign(name: str) -> bool:
    """`GW_CONTRACT_TARGET` and friends configure contracts/ (one underscore); `GW_CONTRACT__STRICT` is a setting."""
    return name.startswith("GW_CONTRACT_") and not name.startswith("GW_CONTRACT__")


def _env_value(key: str, raw: str) -> Any:
    if key in _ENV_LIST_KEYS and not raw.lstrip().startswith("["):
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
    config.source = source
    for name, raw in services_raw.items():
        key = f"services.{name}"
        if not re.fullmatch(r"[A-Za-z0-9_-]+", str(name)):
            raise ConfigError(source, key, "a service name may use letters, digits, '-' and '_' only")
        if raw is None or not isinstance(raw, dict):
            raise ConfigError(source, key, "must be a mapping with at least `spec`")
        service = _fill(ServiceConfig, raw, source, key)
        service.name = str(name)
        service.set_upstreams(parse_weighted_upstreams(raw["upstream"], source, f"{key}.upstream") if raw.get("upstream") else {})
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
        checked = _CHECKED.get((cls.__name__, key))
        values[key] = _checked(checked, value, source, dotted) if checked else _coerce(key, value, hints[key], source, dotted)
    instance = cls(**values)
    check = getattr(instance, "check", None)
    if callable(check):
        try:
            check()
        except SettingsError as exc:
            raise ConfigError(source, f"{prefix}.{exc.key}".strip(".") if exc.key else prefix, exc.reason) from None
    return instance


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
    nested = _settings_class(hint)
    if nested is not None:
        if value is None and _optional(hint):
            return None
        if isinstance(value, nested):
            return value
        if not isinstance(value, dict):
            raise ConfigError(source, dotted, "expected a mapping of settings")
        return _fill(nested, value, source, dotted)
    item = _list_of_settings(hint)
    if item is not None:
        if not isinstance(value, list):
            raise ConfigError(source, dotted, "expected a list")
        return [_coerce_item(item, entry, source, f"{dotted}[{i}]") for i, entry in enumerate(value)]
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


# Settings whose shape a type hint cannot say, by (owning class, key).
_CHECKED = {("ServiceConfig", "upstream_auth"): check_upstream_auth, ("ServiceConfig", "roles"): check_roles,
            ("CallbackSettings", "delay"): check_delay, ("ServiceConfig", "state"): check_state,
            ("ServiceConfig", "chaos"): check_chaos}


def _checked(check: Any, value: Any, source: str, dotted: str) -> Any:
    try:
        return check(value)
    except SettingsError as exc:
        raise ConfigError(source, f"{dotted}.{exc.key}" if exc.key else dotted, exc.reason) from None


def _settings_class(hint: Any) -> type | None:
    """The settings dataclass a field holds (also `X | None`), else None."""
    if dataclasses.is_dataclass(hint):
        return hint  # type: ignore[return-value]
    if get_origin(hint) in (Union, type(int | None)):
        inner = [a for a in get_args(hint) if a is not type(None)]
        if len(inner) == 1 and dataclasses.is_dataclass(inner[0]):
            return inner[0]
    return None


def _optional(hint: Any) -> bool:
    return type(None) in get_args(hint)


def _list_of_settings(hint: Any) -> type | None:
    if get_origin(hint) is list:
        (item,) = get_args(hint) or (None,)
        if dataclasses.is_dataclass(item):
            return item  # type: ignore[return-value]
    return None


def _coerce_item(cls: type, entry: Any, source: str, dotted: str) -> Any:
    if not isinstance(entry, dict):
        raise ConfigError(source, dotted, "expected a mapping of settings")
    return _fill(cls, entry, source, dotted)


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


def mount_prefix(base_path: str) -> str:
    """What a service's paths are prefixed with: its base path, or nothing when it is mounted at `/`."""
    return "" if base_path == "/" else base_path


def parse_upstreams(value: Any, source: str, dotted: str = "") -> list[str]:
    """One URL, a list, or a list of {url, weight}: the http(s) URLs, without trailing slashes."""
    return list(parse_weighted_upstreams(value, source, dotted))


def parse_weighted_upstreams(value: Any, source: str, dotted: str = "") -> dict[str, int]:
    """Each upstream URL with its weight (1 unless given as {url, weight})."""
    items = value if isinstance(value, list) else [value]
    items = [part.strip() if isinstance(part, str) else part for item in items
             for part in (item.split(",") if isinstance(item, str) else [item])
             if not isinstance(part, str) or part.strip()]  # `--upstream a,b` as `--upstream a --upstream b`
    weighted: dict[str, int] = {}
    for index, item in enumerate(items):
        url = item.get("url") if isinstance(item, dict) else item
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(source, dotted, f"expected an http(s) URL, got {url!r}")
        weight = item.get("weight", 1) if isinstance(item, dict) else 1
        extra = set(item) - {"url", "weight"} if isinstance(item, dict) else set()
        if extra:
            raise ConfigError(source, f"{dotted}[{index}].{sorted(extra)[0]}", _unknown(sorted(extra)[0], {"url", "weight"}))
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
            raise ConfigError(source, f"{dotted}[{index}].weight", f"expected a whole number of 1 or more, got {weight!r}")
        weighted[url.rstrip("/")] = weight
    return weighted


def _check_service(service: ServiceConfig, source: str, key: str) -> None:
    if not service.spec:
        raise ConfigError(source, f"{key}.spec", "is required: the path of the service's OpenAPI document")
    if service.mode not in MODES:
        raise ConfigError(source, f"{key}.mode", f"must be one of {', '.join(MODES)}, got {service.mode!r}")
    if service.retries < 0:
        raise ConfigError(source, f"{key}.retries", "must be 0 or more")
    if service.load_balancing not in LOAD_BALANCING:
        raise ConfigError(source, f"{key}.load_balancing",
                          f"must be one of {', '.join(LOAD_BALANCING)}, got {service.load_balancing!r}")
    for op, override in service.operations.items():
        service.operations[op] = _operation_override(override, source, f"{key}.operations.{op}")
    if not service.base_path:
        service.base_path = f"/{service.name}"
    if not service.base_path.startswith("/"):
        raise ConfigError(source, f"{key}.base_path", "must start with /")
    if service.base_path != "/":
        service.base_path = service.base_path.rstrip("/")
    if service.base_path.startswith("/_gw"):
        raise ConfigError(source, f"{key}.base_path", "/_gw is reserved for the gateway's own endpoints")


_OPERATION_KEYS = {"mode", "rate_limit", "roles", "chaos"}


def _operation_override(override: Any, source: str, key: str) -> dict[str, Any]:
    """{mode, rate_limit, roles, chaos} for one operation, each checked as at service level."""
    if not isinstance(override, dict):
        raise ConfigError(source, key, "expected a mapping such as {mode: live}")
    checked: dict[str, Any] = {}
    for name, value in override.items():
        if name not in _OPERATION_KEYS:
            raise ConfigError(source, f"{key}.{name}", _unknown(str(name), _OPERATION_KEYS))
        if name == "mode" and value not in MODES:
            raise ConfigError(source, f"{key}.mode", f"must be one of {', '.join(MODES)}")
        if name == "rate_limit":
            value = _coerce(name, value, RateLimitSettings, source, f"{key}.rate_limit")
        if name == "roles":
            value = _checked(check_roles, value, source, f"{key}.roles").get("*", [])
        if name == "chaos":
            value = _checked(check_chaos, value, source, f"{key}.chaos")
        checked[name] = value
    return checked


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


_ALLOWED_HOST = re.compile(r"\*|(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?|\[?[0-9A-Fa-f:.]+\]?")


def _check_gateway(config: GatewayConfig, source: str) -> None:
    _check_redact(config, source)
    if not 0 < config.port < 65536:
        raise ConfigError(source, "port", f"must be between 1 and 65535, got {config.port}")
    if config.workers < 1:
        raise ConfigError(source, "workers", "must be 1 or more")
    if config.log_format not in ("auto", "json", "text"):
        raise ConfigError(source, "log_format", "must be auto, json or text")
    for index, host in enumerate(config.allowed_hosts):
        if not _ALLOWED_HOST.fullmatch(host):
            raise ConfigError(source, f"allowed_hosts[{index}]",
                              f"{host!r} is not a host name: give `api.example.com`, `*.example.com` or `*` (no scheme or port)")
    for index, cidr in enumerate(config.trusted_proxies):
        try:
            ipaddress.ip_network(str(cidr).strip(), strict=False)
        except ValueError:
            raise ConfigError(source, f"trusted_proxies[{index}]",
                              f"{cidr!r} is not a network: give a CIDR such as `10.0.0.0/8` or one address") from None
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
            service.set_upstreams(parse_weighted_upstreams(upstream, "--upstream"))
        if timeout is not None:
            service.timeout = timeout
        if retries is not None:
            service.retries = retries
