"""Which credentials an operation needs, worked out once per operation from the spec and settings.

The spec's `security` is a list of alternatives (any one may be met); each alternative names
schemes that must all be met, each with scopes the token must grant. `security: []` (or none)
means public. `auth.require` overrides: `none` checks nothing, `always` asks every operation for a
bearer token (keeping the spec's token requirements and their scopes where it has them). Roles in
the service's config come on top of the scopes, and make an otherwise public operation ask for a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..core.exchange import Exchange, Identity
from ..core.problems import Problem
from .problems import insufficient_scope, missing_credentials
from .schemes import Missing, SchemeCheck, TokenScheme


@dataclass(frozen=True)
class Requirement:
    """Schemes that must all be met, and the scopes or roles the caller must hold."""

    schemes: tuple[SchemeCheck, ...]
    needs: frozenset[str]


@dataclass(frozen=True)
class Plan:
    """An operation's alternatives: the first one met admits the caller."""

    alternatives: tuple[Requirement, ...]

    def describe(self) -> str:
        """For `gw routes`: each alternative's schemes and what they need, `|` between alternatives."""
        return " | ".join("+".join(s.name for s in r.schemes) + (f" [{' '.join(sorted(r.needs))}]" if r.needs else "")
                          for r in self.alternatives)

    async def admit(self, exchange: Exchange) -> Identity | None:
        """The caller's identity (None when only presence could be checked), or a 401/403/503 Problem."""
        missing: list[Missing] = []
        refused: Problem | None = None
        for requirement in self.alternatives:
            try:
                identity = await _meet(requirement, exchange)
            except Missing as exc:
                missing.append(exc)
                continue
            except Problem as problem:
                if refused is None or problem.status > refused.status:
                    refused = problem  # 503 over 403 over 401: the most telling answer
                continue
            return identity
        if refused is not None:
            raise refused
        challenges = dict.fromkeys(m.challenge for m in missing if m.challenge)
        wanted = " or ".join(dict.fromkeys(m.where for m in missing))
        raise missing_credentials(f"this operation needs {wanted}", challenges)


async def _meet(requirement: Requirement, exchange: Exchange) -> Identity | None:
    identity: Identity | None = None
    for scheme in requirement.schemes:
        found = await scheme.admit(exchange)
        identity = identity or found
    if requirement.needs and identity is not None:
        lacking = requirement.needs - identity.scopes - identity.roles
        if lacking:
            raise insufficient_scope(lacking)
    return identity


def plan(spec_security: Sequence[dict[str, Sequence[str]]] | None, schemes: dict[str, SchemeCheck],
         bearer: SchemeCheck, require: str, roles: Sequence[str]) -> Plan | None:
    """The operation's plan; None when it is public."""
    if require == "none":
        return None
    alternatives: list[Requirement] = []
    public = not spec_security or any(not alternative for alternative in spec_security)
    for alternative in spec_security or []:
        checks = tuple(schemes[name] for name in alternative if name in schemes)
        if not checks or len(checks) < len(alternative):
            continue  # names a scheme the spec does not define: `gw lint` reports it
        if require == "always" and not all(isinstance(c, TokenScheme) for c in checks):
            continue
        needs = frozenset(s for name in alternative for s in alternative[name]) | frozenset(roles)
        alternatives.append(Requirement(checks, needs))
    if not alternatives and (require == "always" or roles or not public):
        alternatives.append(Requirement((bearer,), frozenset(roles)))
    if public and require != "always" and not roles:
        return None
    return Plan(tuple(alternatives))
