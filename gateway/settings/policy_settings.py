"""Settings of the gateway's policies (auth, CORS, rate limits, circuit breakers, health checks).

Each is a frozen `Block` (settings/types.py): its fields' types say what they accept (`Duration`, `ByteSize`),
unknown keys are refused, and a block's `check()` adds the rules a type cannot say. A bad value is one
`ConfigError` line naming file and key (settings/errors.py).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from .types import Block, ByteSize, Duration, SettingsError, Strings, Text, one_of, string_list

LOCAL_ORIGINS = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]
LOAD_BALANCING = ("round_robin", "weighted_round_robin", "least_connections", "random")
AUTH_REQUIRE = ("always", "spec", "none")
HALF_CLOSE = ("close", "answer")  # server.half_close: what a client's FIN after its request means
HalfClose = one_of(*HALF_CLOSE)
# scheme://host[:port], where host may start with `*.` (any subdomain) and port may be `*` (any); or `*`, `null`
ORIGIN_PATTERN = re.compile(r"\*|null|[a-z][a-z0-9+.-]*://(\*\.)?([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:(\d{1,5}|\*))?",
                            re.IGNORECASE)



class JwtSettings(Block):
    """How access tokens are verified (and, for the built-in login, signed)."""

    secret: Text = ""  # HS256 shared secret
    public_key: Text = ""  # PEM text or a file path: RS256 / ES256 verification
    private_key: Text = ""  # PEM text or a file path: lets the gateway sign RS256/ES256 (login, mint)
    jwks_url: Text = ""
    algorithms: Strings = Field(default_factory=list)  # default: HS256 with a secret, RS256 and ES256 with keys
    issuer: Text = ""
    audience: Text = ""
    leeway: Duration = 0.0
    access_ttl: Duration = 900.0
    refresh_ttl: Duration = 7 * 24 * 3600.0

    @property
    def can_sign(self) -> bool:
        return bool(self.secret or self.private_key)

    def rules(self) -> None:
        if sum(bool(x) for x in (self.secret, self.public_key, self.jwks_url)) > 1:
            raise SettingsError("secret", "give one of secret, public_key or jwks_url")
        if self.secret and self.private_key:
            raise SettingsError("private_key", "give either secret (HS256) or keys (RS256/ES256), not both")
        hmac = [a for a in self.algorithms if a.upper().startswith("HS")]
        if hmac and not self.secret:
            raise SettingsError("algorithms", f"{hmac[0]} needs a secret; with keys it would allow algorithm confusion")
        if self.secret and len(hmac) != len(self.algorithms):
            raise SettingsError("algorithms", "with a secret only HS256, HS384 or HS512 can be used")
        if self.jwks_url and not re.match(r"^https?://", self.jwks_url):
            raise SettingsError("jwks_url", f"expected an http(s) URL, got {self.jwks_url!r}")
        if "none" in [a.lower() for a in self.algorithms]:
            raise SettingsError("algorithms", "`none` is never accepted")


class AuthUser(Block):
    """One account of the built-in login."""

    username: Text = ""
    password_hash: Text = ""  # bcrypt ($2b$...) or argon2id ($argon2id$...): `gw auth hash-password`
    roles: Strings = Field(default_factory=list)

    def rules(self) -> None:
        if not self.username:
            raise SettingsError("username", "is required")
        if not self.password_hash.startswith(("$2b$", "$2a$", "$2y$", "$argon2id$")):
            raise SettingsError("password_hash",
                                "expected a bcrypt ($2b$) or argon2id hash: make one with `gw auth hash-password`")


class RateLimitSettings(Block):
    """At most `limit` requests per `window` per key (GCRA: smooth, no fixed-bucket edges); `burst` extra."""

    limit: int = 0  # 0: no limit
    window: Duration = 60.0
    key: Text = "ip"  # user | ip | header:NAME
    burst: int = 0
    fail_closed: bool = False  # when the shared store (Redis) is unreachable: refuse instead of letting through

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def describe(self) -> str:
        """For `gw routes` and `gw lint`: `10/60s per ip (+5 burst)`, or `-` when off."""
        if not self.enabled:
            return "-"
        burst = f" (+{self.burst} burst)" if self.burst else ""
        return f"{self.limit}/{self.window:g}s per {self.key}{burst}"

    def rules(self) -> None:
        if self.limit < 0 or self.burst < 0:
            raise SettingsError("limit", "must be 0 or more")
        if self.window <= 0:
            raise SettingsError("window", "must be more than 0")
        if self.key not in ("user", "ip") and not re.fullmatch(r"header:[A-Za-z0-9-]+", self.key):
            raise SettingsError("key", f"must be user, ip or header:NAME, got {self.key!r}")


class LoginSettings(Block):
    """Failed logins allowed per username and per client address, per window."""

    attempts: int = 5
    window: Duration = 300.0


Keys = string_list(reason="expected a list of keys")


class AuthSettings(Block):
    """Who may call what: tokens, API keys, the built-in login."""

    require: Text = "spec"  # always | spec (the spec's `security`) | none
    jwt: JwtSettings = Field(default_factory=JwtSettings)
    users: list[AuthUser] = Field(default_factory=list)
    api_keys: dict[str, Keys] = Field(default_factory=dict)  # security scheme name -> accepted keys
    login: LoginSettings = Field(default_factory=LoginSettings)
    fail_closed: bool = False  # shared state (Redis) unreachable: refuse tokens instead of skipping revocation checks

    def rules(self) -> None:
        if self.require not in AUTH_REQUIRE:
            raise SettingsError("require", f"must be one of {', '.join(AUTH_REQUIRE)}, got {self.require!r}")
        if self.users and not self.jwt.can_sign:
            raise SettingsError("users", "the built-in login signs tokens: set auth.jwt.secret (or jwt.private_key) too")


class CorsSettings(Block):
    """Which browser origins may call the gateway; preflights are answered by the gateway itself."""

    enabled: bool = True
    origins: Strings = Field(default_factory=lambda: list(LOCAL_ORIGINS))  # exact, `*`, or with a `*` port/subdomain
    methods: Strings = Field(default_factory=lambda: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    headers: Strings = Field(default_factory=lambda: ["*"])  # `*`: whatever the preflight asks for
    expose: Strings = Field(default_factory=lambda: [
        "X-Request-ID", "X-GW-Source", "X-GW-Stub", "X-GW-Near-Miss", "X-GW-Contract", "X-GW-Contract-Reason",
        "X-GW-Fallback-Reason", "X-GW-Problem", "X-GW-Chaos",
        "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After", "Location"])
    credentials: bool = False
    max_age: Duration = 600.0

    def rules(self) -> None:
        if self.credentials and "*" in self.origins:
            raise SettingsError("origins", "`*` cannot be used with credentials: true (browsers refuse it); list the origins")
        for origin in self.origins:
            if not isinstance(origin, str) or not ORIGIN_PATTERN.fullmatch(origin):
                raise SettingsError("origins", f"{origin!r} is not an origin: scheme://host[:port] (no path), "
                                               "`*` for any subdomain or port, e.g. https://*.example.com, http://localhost:*")


class CircuitBreakerSettings(Block):
    """Per upstream instance: `failures` within `window` open it for `open_seconds`; then probes."""

    failures: int = 5  # 0: no breaker
    window: Duration = 30.0
    open_seconds: Duration = 5.0  # short: a developer restarting their one backend waits seconds, not half a minute
    half_open_requests: int = 1

    def rules(self) -> None:
        if self.failures < 0 or self.half_open_requests < 1:
            raise SettingsError("failures", "failures must be 0 or more, half_open_requests 1 or more")
        if self.failures and self.window <= 0:
            raise SettingsError("window", "must be more than 0 (failures are counted within it)")


class HealthCheckSettings(Block):
    """Active health checks of each upstream instance (off without a path)."""

    path: Text = ""
    interval: Duration = 10.0
    timeout: Duration = 2.0

    def rules(self) -> None:
        if self.path and not self.path.startswith("/"):
            raise SettingsError("path", "must start with /")
        if self.path and (self.interval <= 0 or self.timeout <= 0):
            raise SettingsError("interval" if self.interval <= 0 else "timeout", "must be more than 0")


class ContractSettings(Block):
    """The validation proxy: upstream answers checked against the spec in live, record, fallback and spy."""

    check: bool = True
    strict: bool = False  # a violating answer becomes a 502 problem+json


class AdminSettings(Block):
    """Who may use the operator surface (/_gw/api, /_gw/ui, /_gw/ws): these networks, an `admin` token, or the key."""

    allow_from: Strings = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    key: Text = ""  # sent as `X-GW-Admin-Key`; `${ENV}` is expanded
    journal_size: int = 500  # exchanges kept in the request journal (memory, per process); 0: off
    journal_max_body: ByteSize = 64 * 1024  # request body bytes an entry keeps (for body matchers in counts); larger: none

    def rules(self) -> None:
        import ipaddress

        for index, network in enumerate(self.allow_from):
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise SettingsError(f"allow_from[{index}]", f"{network!r} is not an address or CIDR network") from None
        if self.journal_size < 0:
            raise SettingsError("journal_size", "must be 0 or more")
        if self.journal_max_body < 0:
            raise SettingsError("journal_max_body", "must be 0 or more")


def check_upstream_auth(value: Any) -> Any:
    """forward | strip | mint | {bearer: TOKEN} (TOKEN may be `${ENV_NAME}`)."""
    if value in ("forward", "strip", "mint"):
        return value
    if isinstance(value, dict) and set(value) == {"bearer"} and isinstance(value["bearer"], str) and value["bearer"]:
        return value
    raise SettingsError("", "must be forward, strip, mint or {bearer: TOKEN}")


def check_roles(value: Any) -> dict[str, list[str]]:
    """A list (every operation of the service) or {operation: [roles]}; `*` is the key for all."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {"*": value} if value else {}
    if isinstance(value, dict):
        roles = {}
        for op, names in value.items():
            names = [names] if isinstance(names, str) else names
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise SettingsError(str(op), "expected a list of role names")
            roles[str(op)] = names
        return roles
    raise SettingsError("", "expected a list of role names, or {operation: [roles]}")


class TemplateSettings(Block):
    """Templated stub answers (`response.template: true`): what rendering one answer may cost, so a template
    (or a request feeding it) can never hold a worker or its memory."""

    max_output: ByteSize = 1024 * 1024  # characters one answer's rendered body and headers may hold (e.g. 256kb)
    max_iterations: int = 10_000  # loop iterations and calls one answer's rendering may make

    def rules(self) -> None:
        if self.max_output < 1:
            raise SettingsError("max_output", "must be at least 1")
        if self.max_iterations < 1:
            raise SettingsError("max_iterations", "must be at least 1")


class StreamSettings(Block):
    """Mocked streams (SSE, JSON Lines, json-seq): events in a generated answer, and the pause before each."""

    events: int = 3  # `Prefer: count=N` asks for another number per request
    interval: Duration = 0.0  # e.g. 200ms, to watch tokens arrive; `Prefer: delay=MS` per request

    def rules(self) -> None:
        if not 0 <= self.events <= 1000:
            raise SettingsError("events", "must be between 0 and 1000")
        if not 0 <= self.interval <= 10:
            raise SettingsError("interval", "must be between 0s and 10s")


class RecordSettings(Block):
    """Record mode: how much of an answer a stub keeps. A larger body passes through to the client
    untouched but is not written (the stub's `meta.not_recorded` says so); recording never holds more."""

    max_body: ByteSize = 10 * 1024 * 1024  # e.g. 10MiB; GW_RECORD__MAX_BODY

    def rules(self) -> None:
        if not 1024 <= self.max_body <= 1024**3:
            raise SettingsError("max_body", "must be between 1KiB and 1GiB")


class ServerSettings(Block):
    """How long and how much one client connection may hold the server (gateway/server/connections.py applies them).

    Without them an idle, half-sent or dribbling connection stays open forever and a huge header costs
    seconds of CPU: a few hundred such sockets exhaust the process's file descriptors."""

    keep_alive: Duration = 5.0  # an idle keep-alive connection is closed after this
    header_timeout: Duration = 10.0  # the request head (line and headers) must arrive within this; else 408 and close
    body_timeout: Duration = 30.0  # the longest pause between two pieces of a request body; else 408 and close
    body_min_rate: ByteSize = 240  # bytes per second a body must average once it has had `body_timeout`; 0: no minimum
    max_connections: int = 1000  # open connections per process; one more gets 503 and is closed
    max_request_line: ByteSize = 16 * 1024  # the request target (path and query); longer: 414
    max_header_size: ByteSize = 64 * 1024  # all header lines together; larger: 431
    drain_timeout: Duration = 20.0  # on SIGTERM: in-flight requests get this long to finish before the process ends
    # a client that takes none of its answer for this long (gw's write buffer full, nothing acknowledged) is cut and
    # the app hears it has gone. 30 s, as nginx's send_timeout and body_timeout here: far beyond any real client's
    # stall (a phone switching networks), short enough that a stalled reader soon frees its upstream connection
    send_timeout: Duration = 30.0
    # `close`: a client that shuts its sending side (FIN) has gone, as nginx and uvicorn see it; `answer`: the
    # request already received is still answered, then the connection closes (`nc -q`, some HTTP/1.0 tools)
    half_close: HalfClose = "close"

    def rules(self) -> None:
        for name in ("keep_alive", "header_timeout", "body_timeout", "send_timeout", "drain_timeout"):
            if getattr(self, name) <= 0:
                raise SettingsError(name, "must be more than 0s")
        if self.max_connections < 1:
            raise SettingsError("max_connections", "must be 1 or more")
        for name in ("max_request_line", "max_header_size"):
            if getattr(self, name) < 1024:
                raise SettingsError(name, "must be at least 1KiB")
