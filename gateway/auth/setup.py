"""Everything auth needs, built once from the settings at start-up (never per request)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..runtime.shared_state import SharedState
from ..settings.config import ConfigError, GatewayConfig, ServiceConfig
from ..settings.origin import SettingsOrigin
from ..settings.policy_settings import AuthSettings
from ..spec.load import Operation, Service, SpecError
from .jwks import JwksKeys
from .keys import KeyMaterialError, jwks_algorithms, signing_key, verifying_key
from .requirements import Plan, plan
from .revocations import Revocations
from .schemes import ApiKeyScheme, BasicScheme, PresenceScheme, SchemeCheck, TokenScheme, scheme_kind
from .sessions import Sessions
from .tokens import TokenIssuer, TokenVerifier
from .upstream import UpstreamIdentity

GENERIC_BEARER = "bearer"  # the scheme name given to the token `require: always` and config roles ask for


@dataclass
class Auth:
    """The verifier, the issuer, the login sessions and the per-operation plans."""

    settings: AuthSettings
    services: Mapping[str, ServiceConfig]  # each service's `roles`
    verifier: TokenVerifier | None
    issuer: TokenIssuer | None
    sessions: Sessions | None
    revocations: Revocations

    @classmethod
    def build(cls, settings: AuthSettings, services: Mapping[str, ServiceConfig], origin: SettingsOrigin,
              state: SharedState) -> Auth:
        """Raises ConfigError for key material that cannot be used (key files are read from `origin.root`)."""
        root = origin.root
        try:
            static = verifying_key(settings.jwt, root)
            jwks = JwksKeys(settings.jwt.jwks_url, jwks_algorithms(settings.jwt)) if settings.jwt.jwks_url else None
            signer = signing_key(settings.jwt, root)
        except KeyMaterialError as exc:
            raise ConfigError(origin.source, f"auth.jwt.{exc.key}", exc.reason) from None
        verifier = TokenVerifier(settings.jwt, static, jwks) if static or jwks else None
        issuer = TokenIssuer(settings.jwt, signer) if signer else None
        revocations = Revocations(state, settings.fail_closed)
        sessions = (Sessions(settings.users, settings.login, issuer, verifier, state)
                    if settings.users and issuer and verifier else None)
        return cls(settings, services, verifier, issuer, sessions, revocations)

    def __post_init__(self) -> None:
        self.bearer = TokenScheme(GENERIC_BEARER, self.verifier, self.revocations)
        users = {u.username: u for u in self.settings.users}
        self._users = users or None
        self._digests = {name: frozenset(hashlib.sha256(k.encode()).hexdigest() for k in keys)
                         for name, keys in self.settings.api_keys.items()}
        self._basic: dict[str, BasicScheme] = {}

    def plan_for(self, service: Service, operation: Operation) -> Plan | None:
        """What the operation asks of a caller; None when it is public."""
        roles = self.services[service.name].roles_for(operation.key)
        return plan(operation.security, self._checks(service), self.bearer, self.settings.require, roles)

    def plan_for_socket(self, service: Service) -> Plan | None:
        """A WebSocket handshake (no operation in the spec) meets the service's global security and roles."""
        roles = self.services[service.name].roles_for("*")
        return plan(service.specification.spec.get("security"), self._checks(service), self.bearer,
                    self.settings.require, roles)

    def _checks(self, service: Service) -> dict[str, SchemeCheck]:
        defined = service.specification.security_schemes or {}
        checks = {name: self._check(name, d) for name, d in defined.items() if isinstance(d, dict)}
        return {n: c for n, c in checks.items() if c is not None}

    def _check(self, name: str, definition: dict[str, Any]) -> SchemeCheck | None:
        kind = scheme_kind(definition)
        if kind == "token":
            return TokenScheme(name, self.verifier, self.revocations)
        if kind == "basic":
            return self._basic.setdefault(name, BasicScheme(name, self._users))
        if kind == "apikey":
            return ApiKeyScheme(name, str(definition.get("in", "header")), str(definition.get("name", "")),
                                self._digests.get(name))
        if kind == "http":
            return PresenceScheme(name, str(definition.get("scheme", "")))
        return None  # mutualTLS and the like: nothing the gateway can see


def auth_errors(config: GatewayConfig) -> list[SpecError]:
    """What would stop the auth pieces from being built, as load errors (`gw serve` and `gw lint` show them)."""
    errors, origin = [], SettingsOrigin.of(config)
    for build in (lambda: Auth.build(config.auth, config.services, origin, SharedState()),
                  lambda: UpstreamIdentity(config.services, config.auth.jwt, origin)):
        try:
            build()
        except ConfigError as exc:
            errors.append(SpecError(exc.source, exc.key, exc.reason))
    return errors
