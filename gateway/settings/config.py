"""Gateway settings: `gateway.yaml`, then `GW_...` environment variables, then CLI flags, into frozen models.

Every setting has one dotted name used everywhere: `services.users.timeout` in YAML is
`GW_SERVICES__USERS__TIMEOUT` in the environment. What a value may be is its field's type (`Duration`,
`ByteSize`, a block); a typo or a bad value is a `ConfigError` naming the file, the key and the reason,
never a traceback. Settings never change once loaded: what changes while running (modes switched through
the admin API, chaos switches, circuits) lives in runtime objects (gateway/runtime/, chaos/switches.py,
forwarder/breaker.py). A flag applied later builds a new config (`apply_overrides`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ..core.json_limits import JsonSettings
from .callbacks import CallbackSettings
from .chaos import ChaosLimits, ChaosSettings, check_chaos
from .errors import ConfigError, SettingsError, config_error, unknown
from .operations import MODES, PROXIED_MODES, OperationOverride
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
    StreamSettings,
    TemplateSettings,
    check_roles,
    check_upstream_auth,
)
from .simulation import StateSettings, check_state
from .sources import EnvironmentSource, FileSource, Inputs, environment_settings, loading, read_yaml
from .spec_cache import cached_path
from .types import (
    BLOCK_CONFIG,
    Block,
    ByteSize,
    Duration,
    Strings,
    Text,
    at_least,
    comma_separated,
    one_of,
    parsed_by,
    string_list,
)

__all__ = ["MODES", "PROXIED_MODES", "SPEC_SUFFIXES", "ConfigError", "GatewayConfig", "ServiceConfig", "apply_overrides",
           "build_config", "config_for_specs", "load_config", "load_config_here", "mount_prefix",
           "parse_weighted_upstreams", "service_name"]

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
Mode = one_of(*MODES)
LoadBalancing = one_of(*LOAD_BALANCING)
LogFormat = one_of("auto", "json", "text")
Count = at_least(0)
Workers = at_least(1)
_INTERNAL = {"internal": True}  # a field the loader fills, never a key of gateway.yaml


def mount_prefix(base_path: str) -> str:
    """What a service's paths are prefixed with: its base path, or nothing when it is mounted at `/`."""
    return "" if base_path == "/" else base_path


def parse_weighted_upstreams(value: Any, source: str, dotted: str = "") -> dict[str, int]:
    """Each upstream URL with its weight (1 unless given as {url, weight})."""
    try:
        return weighted_upstreams(value)
    except SettingsError as exc:
        raise ConfigError(source, f"{dotted}{exc.key}", exc.reason) from None


def weighted_upstreams(value: Any) -> dict[str, int]:
    """`upstream:` read: URL -> weight; a SettingsError keyed below `upstream` (`[1].weight`) when wrong."""
    items = value if isinstance(value, list) else [value]
    items = [part.strip() if isinstance(part, str) else part for item in items
             for part in (item.split(",") if isinstance(item, str) else [item])
             if not isinstance(part, str) or part.strip()]  # `--upstream a,b` as `--upstream a --upstream b`
    weighted: dict[str, int] = {}
    for index, item in enumerate(items):
        url = item.get("url") if isinstance(item, dict) else item
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
            raise SettingsError("", f"expected an http(s) URL, got {url!r}")
        weight = item.get("weight", 1) if isinstance(item, dict) else 1
        extra = set(item) - {"url", "weight"} if isinstance(item, dict) else set()
        if extra:
            raise SettingsError(f"[{index}].{sorted(extra)[0]}", unknown(sorted(extra)[0], {"url", "weight"}))
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
            raise SettingsError(f"[{index}].weight", f"expected a whole number of 1 or more, got {weight!r}")
        weighted[url.rstrip("/")] = weight
    return weighted


class ServiceConfig(Block):
    """One downstream service: its contract, where it lives, and how the gateway treats it."""

    name: str = Field("", json_schema_extra=_INTERNAL)  # the key under `services:`
    spec: Text = ""
    base_path: Text = ""  # default: /<name>
    mode: Mode = "stub"  # as configured; the mode now: gateway/runtime/modes.py
    dynamic: bool = False  # stub answers generated from schemas, never examples (as `Prefer: dynamic=true`)
    instances: Annotated[dict[str, int], BeforeValidator(weighted_upstreams)] = Field(
        default_factory=dict, validation_alias="upstream")  # `upstream:` URL -> weight: see `upstream`, `weights`
    timeout: Duration = 10.0
    connect_timeout: Duration = 2.0
    retries: Count = 2
    backoff: Duration = 0.05
    backoff_max: Duration = 2.0
    idempotent: Strings = Field(default_factory=list)
    max_body: ByteSize = 0  # 0: the gateway-wide limit
    operations: dict[str, OperationOverride] = Field(default_factory=dict)  # {opKey: {mode, rate_limit, roles, chaos}}
    load_balancing: LoadBalancing = "round_robin"
    circuit_breaker: CircuitBreakerSettings = Field(default_factory=CircuitBreakerSettings)
    health_check: HealthCheckSettings = Field(default_factory=HealthCheckSettings)
    rate_limit: RateLimitSettings | None = None  # None: the gateway-wide limit
    upstream_auth: Annotated[Any, parsed_by(check_upstream_auth)] = "forward"  # forward | strip | mint | {bearer: TOKEN}
    roles: Annotated[dict[str, list[str]], parsed_by(check_roles)] = Field(default_factory=dict)  # {"*" or opKey: [roles]}
    websockets: Strings = Field(default_factory=list)  # paths (below base_path) passed through as WebSockets
    contract: ContractSettings | None = None  # None: the gateway-wide setting
    state: Annotated[StateSettings | None, parsed_by(check_state)] = None  # stateful resources (gateway/simulation/)
    chaos: Annotated[ChaosSettings | None, parsed_by(check_chaos)] = None  # delay and faults on purpose (chaos/settings.py)
    brackets: bool = False  # read `a[b][0]=x`, `a[]=x` as nested in queries and forms where the spec does not say deepObject

    @model_validator(mode="before")
    @classmethod
    def _base_path(cls, data: Any) -> Any:
        """A service without `base_path` is served under /<name>; a trailing slash is dropped."""
        if isinstance(data, dict):
            base = data.get("base_path") or (f"/{data['name']}" if data.get("name") else "")
            if isinstance(base, str) and base != "/":
                base = base.rstrip("/")
            data = {**data, "base_path": base} if base or "base_path" in data else data
        return data

    def rules(self) -> None:
        if self.base_path and not self.base_path.startswith("/"):
            raise SettingsError("base_path", "must start with /")
        if self.base_path.startswith("/_gw"):
            raise SettingsError("base_path", "/_gw is reserved for the gateway's own endpoints")

    @property
    def upstream(self) -> list[str]:
        """The upstream instances' URLs, in the order given."""
        return list(self.instances)

    @property
    def weights(self) -> dict[str, int]:
        """URL -> weight (1 unless `{url, weight}` said otherwise); the balancer reads it."""
        return self.instances

    def mode_for(self, operation_key: str) -> str:
        """The configured mode of an operation (runtime switches: gateway/runtime/modes.py)."""
        override = self.operations.get(operation_key)
        return override.mode if override is not None and override.mode is not None else self.mode

    def roles_for(self, operation_key: str) -> list[str]:
        """Roles a caller needs for the operation (config's `roles`; the spec's scopes come on top)."""
        override = self.operations.get(operation_key)
        if override is not None and override.roles is not None:
            return override.roles
        return self.roles.get(operation_key, self.roles.get("*", []))


RedactList = string_list(comma_separated)  # `headers: a, b` as `[a, b]` (the redact lists always read commas)


class RedactSettings(Block):
    """More to scrub when recording, beyond the built-in tables (gateway/stubs/redaction.py)."""

    headers: RedactList = Field(default_factory=list)
    query: RedactList = Field(default_factory=list)
    fields: RedactList = Field(default_factory=list)
    patterns: RedactList = Field(default_factory=list)  # regular expressions over recorded text

    def rules(self) -> None:
        for index, pattern in enumerate(self.patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise SettingsError(f"patterns[{index}]", f"bad regex: {exc}") from None

    def as_tables(self) -> dict[str, list[str]]:
        """What Redactor.for_spec takes."""
        return {"headers": self.headers, "query": self.query, "fields": self.fields, "patterns": self.patterns}


_ALLOWED_HOST = re.compile(r"\*|(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?|\[?[0-9A-Fa-f:.]+\]?")
_SERVICE_NAME = re.compile(r"[A-Za-z0-9_-]+")


class GatewayConfig(BaseSettings):
    """Gateway-wide settings plus the services: file < GW_ environment < flags, merged by pydantic-settings."""

    model_config = SettingsConfigDict(**BLOCK_CONFIG)  # `GW_` + `__` nesting: sources.EnvironmentSource

    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    host: Text = "127.0.0.1"
    port: int = 8000
    workers: Workers = 1
    max_body: ByteSize = 10 * 1024 * 1024
    log_format: LogFormat = "auto"  # auto: JSON lines unless stderr is a terminal
    log_level: Text = "info"
    keep_going: bool = False
    stubs: Text = "stubs"  # the stub store's folder, relative to gateway.yaml
    redact: RedactSettings = Field(default_factory=RedactSettings)  # more to scrub when recording
    record_versions: bool = False  # keep an updated stub's previous content in stubs/<service>/.versions/
    record: RecordSettings = Field(default_factory=RecordSettings)  # record.max_body: larger bodies are not kept
    reload: bool = True  # pick up edited or added stub files and specs while running
    reload_interval: Duration = 1.0
    reload_timeout: Duration = 10.0  # a spec reload taking longer (a hostile or pathological file) is refused
    reload_max_spec_size: ByteSize = 50 * 1024 * 1024  # bytes per spec file read on reload; larger ones are refused
    reload_max_memory: ByteSize = 2 * 1024 * 1024 * 1024  # bytes the reload's worker process may add while loading
    auth: AuthSettings = Field(default_factory=AuthSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    contract: ContractSettings = Field(default_factory=ContractSettings)
    redis_url: Text = ""  # shared state (modes, limits, revocations, circuits) for several gateway processes
    allowed_hosts: Strings = Field(default_factory=list)  # empty: any Host; else exact names or *.suffix
    admin: AdminSettings = Field(default_factory=AdminSettings)
    metrics: bool = True  # /_gw/metrics in Prometheus text format
    trusted_proxies: Strings = Field(default_factory=list)  # CIDRs whose X-Forwarded-For names the real client
    security_headers: bool = True  # nosniff, no-referrer, frame deny on the gateway's own answers
    streams: StreamSettings = Field(default_factory=StreamSettings)  # mocked SSE / JSON Lines: events, pacing
    templates: TemplateSettings = Field(default_factory=TemplateSettings)  # stub templates: output and loop bounds
    json_bounds: JsonSettings = Field(default_factory=JsonSettings, validation_alias="json")  # `json:` max_depth, digits
    server: ServerSettings = Field(default_factory=ServerSettings)  # connection timeouts and limits (per process)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)  # OpenAPI callbacks: delay, allow-list, limits
    chaos: ChaosLimits = Field(default_factory=ChaosLimits)  # max_delay, Prefer: delay/fault, seed

    _inputs: Inputs = PrivateAttr(default_factory=Inputs)
    _root: str = PrivateAttr(default=".")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (init arguments) over the `GW_` environment over the file; no .env or secrets directory."""
        return init_settings, EnvironmentSource(settings_cls), FileSource(settings_cls)

    @field_validator("services", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        """Each service's key becomes its name; a service needs a mapping with `spec`."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise SettingsError("", "must be a mapping of service names to settings")
        named = {}
        for name, raw in value.items():
            if not _SERVICE_NAME.fullmatch(str(name)):
                raise SettingsError(str(name), "a service name may use letters, digits, '-' and '_' only")
            if isinstance(raw, ServiceConfig):
                named[str(name)] = raw
                continue
            if raw is None or not isinstance(raw, dict):
                raise SettingsError(str(name), "must be a mapping with at least `spec`")
            if "name" in raw:
                raise SettingsError(f"{name}.name", unknown("name", set()))
            if not raw.get("spec"):
                raise SettingsError(f"{name}.spec", "is required: the path of the service's OpenAPI document")
            named[str(name)] = {**raw, "name": str(name)}
        return named

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 < value < 65536:
            raise SettingsError("", f"must be between 1 and 65535, got {value}")
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for index, host in enumerate(value):
            if not _ALLOWED_HOST.fullmatch(host):
                raise SettingsError(f"[{index}]", f"{host!r} is not a host name: give `api.example.com`, "
                                                  "`*.example.com` or `*` (no scheme or port)")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for index, cidr in enumerate(value):
            try:
                ipaddress.ip_network(str(cidr).strip(), strict=False)
            except ValueError:
                raise SettingsError(f"[{index}]", f"{cidr!r} is not a network: give a CIDR such as `10.0.0.0/8` "
                                                  "or one address") from None
        return value

    @model_validator(mode="after")
    def _distinct_base_paths(self) -> GatewayConfig:
        seen: dict[str, str] = {}
        for service in self.services.values():
            if service.base_path in seen:
                raise SettingsError(f"services.{service.name}.base_path",
                                    f"{service.base_path} is already used by service {seen[service.base_path]}")
            seen[service.base_path] = service.name
        return self

    # -- where it was read from --------------------------------------------------------------------

    @property
    def source(self) -> str:
        """The file (or `<defaults>`, or the bare specs) these settings were read from: errors name it."""
        return self._inputs.source

    @property
    def json(self) -> JsonSettings:  # type: ignore[override]  # `json:` (BaseModel's deprecated json() is not used)
        """Bounds on JSON bodies: max_depth, max_number_digits."""
        return self.json_bounds

    @property
    def root(self) -> str:
        """The folder relative paths (specs, stubs, keys) are read from: gateway.yaml's."""
        return self._root

    # -- questions over the settings ---------------------------------------------------------------

    def rate_limit_for(self, service: str, operation_key: str) -> RateLimitSettings:
        """The most specific limit configured: operation, then service, then gateway-wide."""
        settings = self.services[service]
        override = settings.operations.get(operation_key)
        if override is not None and override.rate_limit is not None:
            return override.rate_limit
        return settings.rate_limit or self.rate_limit

    def contract_for(self, service: str) -> ContractSettings:
        return self.services[service].contract or self.contract

    def stubs_path(self) -> Path:
        path = Path(self.stubs)
        return path if path.is_absolute() else Path(self.root) / path

    def spec_path(self, service: ServiceConfig) -> Path:
        """The spec's file; for a spec URL, its cached copy (the loader fetches it: `gateway/spec/fetch.py`)."""
        if service.spec.startswith(("http://", "https://")):
            return cached_path(service.spec)
        path = Path(service.spec)
        return path if path.is_absolute() else Path(self.root) / path

    # -- new settings from these ---------------------------------------------------------------------

    def with_flags(self, flags: dict[str, Any] | None = None, **top: Any) -> GatewayConfig:
        """These settings read again with `flags` (shaped like gateway.yaml) over file and environment: flags win."""
        return _build(self._inputs, {**(flags or {}), **top}, self._root)

    def with_root(self, root: str | Path) -> GatewayConfig:
        """The same settings, relative paths read from `root`."""
        return _build(self._inputs, {}, str(root))


def _build(inputs: Inputs, flags: dict[str, Any], root: str) -> GatewayConfig:
    inputs = Inputs(inputs.data, inputs.env, inputs.source, _merged(inputs.flags, flags)) if flags else inputs
    try:
        with loading(inputs):
            config = GatewayConfig(**inputs.flags)
    except ValidationError as exc:
        raise config_error(exc, inputs.source, GatewayConfig) from None
    config._inputs, config._root = inputs, root  # private: where the settings came from, never a setting
    return config


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merged(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read `gateway.yaml` (or the given file), then apply `GW_...` overrides from `env`."""
    env = dict(os.environ if env is None else env)
    if path is None:
        return _build(Inputs({}, env, "<defaults>"), {}, str(Path.cwd()))
    path = Path(path)
    return _build(Inputs(read_yaml(path), env, str(path)), {}, str(path.resolve().parent))


def load_config_here(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """The given file, else ./gateway.yaml when there is one, else the defaults; GW_ variables apply to all three.
    For commands that talk to a gateway or sign for it rather than serve one (gw token, gw mode, gw journal)."""
    here = Path("gateway.yaml")
    return load_config(path if path is not None else (here if here.exists() else None), env)


def config_for_specs(specs: list[str | Path], env: Mapping[str, str] | None = None) -> GatewayConfig:
    """A gateway for bare spec files, as `prism mock spec.yaml`: one service each, stub mode.

    A single spec is served at `/`; several are served under `/<name>`.
    """
    services: dict[str, Any] = {}
    for spec in specs:
        name = service_name(Path(spec), services)
        base = "/" if len(specs) == 1 else f"/{name}"
        services[name] = {"spec": str(Path(spec).resolve()), "base_path": base}
    inputs = Inputs({"services": services}, dict(os.environ if env is None else env), " ".join(str(s) for s in specs))
    return _build(inputs, {}, ".")


def build_config(data: dict[str, Any], source: str, root: str | Path = ".") -> GatewayConfig:
    """Settings from a mapping shaped like gateway.yaml (no environment): tests, `gw init`'s check, bench."""
    if not isinstance(data.get("services", {}) or {}, dict):
        raise ConfigError(source, "services", "must be a mapping of service names to settings")
    return _build(Inputs(data, {}, source), {}, str(root))


def apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """`GW_A__B__C=value` sets data['a']['b']['c'] in place, as loading does (for a mapping given to build_config)."""
    data.update(_merged(data, environment_settings(env, GatewayConfig)))


def service_name(spec: Path, taken: Collection[str]) -> str:
    """The file's stem as a service name (letters, digits, '-', '_'), made unique with -2, -3, ..."""
    base = re.sub(r"[^a-z0-9_-]+", "-", spec.stem.lower()).strip("-") or "api"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def record_flags(config: GatewayConfig, service: str, upstream: list[str] | None) -> GatewayConfig:
    """`gw record SERVICE [--upstream URL]`: that service in record mode (from that upstream), one worker."""
    flags: dict[str, Any] = {"mode": "record"}
    if upstream:
        flags["upstream"] = _upstream_flag(upstream)
    return config.with_flags({"services": {service: flags}}, workers=1)


def _upstream_flag(upstream: list[str]) -> list[dict[str, Any]]:
    """`--upstream` values checked as `--upstream` (the error names the flag), as `upstream:` entries."""
    weighted = parse_weighted_upstreams(upstream, "--upstream")
    return [{"url": url, "weight": weight} for url, weight in weighted.items()]


def apply_overrides(config: GatewayConfig, mode: str | None = None, upstream: list[str] | None = None,
                    timeout: float | None = None, retries: int | None = None) -> GatewayConfig:
    """CLI flags win over file and environment; they apply to every service. Returns the new settings."""
    flags: dict[str, Any] = {}
    if mode is not None:
        if mode not in MODES:
            raise ConfigError("--mode", "", f"must be one of {', '.join(MODES)}, got {mode!r}")
        flags["mode"] = mode
    if upstream:
        flags["upstream"] = _upstream_flag(upstream)
    if timeout is not None:
        flags["timeout"] = timeout
    if retries is not None:
        flags["retries"] = retries
    if not flags:
        return config
    return config.with_flags({"services": {name: dict(flags) for name in config.services}})
