"""Scrub secrets from an exchange before anything of it touches disk.

Headers and query parameters are dropped by name (credentials, cookies, and the API keys the
spec's securitySchemes name); JSON fields are replaced by name (password, token, ...), and any
text anywhere that looks like a JWT, a bearer token or a card number is replaced too. Each
redaction is listed, so the stub says what was taken out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = "[REDACTED]"
HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "x-auth-token",
           "x-access-token", "x-csrf-token", "x-xsrf-token")
FIELDS = ("password", "passwd", "secret", "token", "access_token", "refresh_token", "id_token", "api_key", "apikey",
          "client_secret", "private_key", "authorization", "session", "cookie", "otp", "pin", "cvc", "cvv",
          "card_number", "ssn")
VALUE_PATTERNS = (
    r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",  # a JWT
    r"(?i)bearer\s+[A-Za-z0-9._~+/=-]{8,}",  # a bearer token in text
    r"\b(?:\d[ -]?){12,18}\d\b",  # a card number (13-19 digits); Luhn-checked below
    r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}\b",  # Stripe-style keys
    r"\bAKIA[0-9A-Z]{16}\b",  # AWS access key ids
    r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",  # GitHub tokens
)


@dataclass
class Redactor:
    headers: set[str] = field(default_factory=lambda: set(HEADERS))
    query: set[str] = field(default_factory=lambda: {"token", "access_token", "api_key", "apikey", "key", "sig",
                                                     "signature", "password", "secret", "client_secret"})
    fields: set[str] = field(default_factory=lambda: set(FIELDS))
    patterns: list[re.Pattern[str]] = field(default_factory=lambda: [re.compile(p) for p in VALUE_PATTERNS])
    known: list[str] = field(default_factory=list)  # secret values of the exchange being recorded

    @classmethod
    def for_spec(cls, security_schemes: dict[str, Any], extra: dict[str, list[str]] | None = None) -> Redactor:
        """Defaults, plus the API-key headers and query params the spec's securitySchemes name, plus
        the `redact` setting's own (`headers`, `query`, `fields`, `patterns`)."""
        redactor = cls()
        extra = extra or {}
        redactor.headers |= {h.lower() for h in extra.get("headers", [])}
        redactor.query |= set(extra.get("query", []))
        for scheme in (security_schemes or {}).values():
            if isinstance(scheme, dict) and scheme.get("type") == "apiKey" and scheme.get("name"):
                where = scheme.get("in")
                if where == "header":
                    redactor.headers.add(str(scheme["name"]).lower())
                elif where == "query":
                    redactor.query.add(str(scheme["name"]))
        redactor.fields |= {f.lower() for f in extra.get("fields", [])}
        redactor.patterns += [re.compile(p) for p in extra.get("patterns", [])]
        return redactor

    def secret_header(self, name: str) -> bool:
        return name.lower() in self.headers

    def secret_query(self, name: str) -> bool:
        return name in self.query or name.lower() in self.query

    def secret_field(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in self.fields or lowered.endswith(("_password", "_secret", "_token"))

    def secrets_in(self, headers: list[tuple[str, str]], query: list[tuple[str, str]], body: Any) -> Redactor:
        """This redactor, also knowing the secret values this request carried, so that they are
        scrubbed wherever they reappear (an echoing upstream, an error message quoting them)."""
        known: set[str] = set()
        for name, value in headers:
            if self.secret_header(name):
                known.add(value)
                known.update(part.strip() for chunk in value.split(";") for part in chunk.split("=", 1)[-1:])
                known.update(value.split(" ", 1)[-1:])
        known.update(value for name, value in query if self.secret_query(name))
        self._collect(body, known)
        return Redactor(self.headers, self.query, self.fields, self.patterns,
                        sorted((k for k in known if len(k) >= 4), key=len, reverse=True))

    def _collect(self, value: Any, known: set[str]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if self.secret_field(str(key)) and isinstance(item, (str, int)):
                    known.add(str(item))
                else:
                    self._collect(item, known)
        elif isinstance(value, list):
            for item in value:
                self._collect(item, known)

    def text(self, value: str, applied: list[str], where: str) -> str:
        """`value` with the request's known secrets, and anything that looks like a secret, replaced."""
        for secret in self.known:
            if secret in value:
                value = value.replace(secret, PLACEHOLDER)
                applied.append(f"{where}: a secret of the request")
        for pattern in self.patterns:
            def replace(match: re.Match[str], pattern: re.Pattern[str] = pattern) -> str:
                if pattern.pattern.startswith(r"\b(?:\d") and not _luhn(match.group(0)):
                    return match.group(0)
                applied.append(f"{where}: value like {_kind(pattern)}")
                return PLACEHOLDER
            value = pattern.sub(replace, value)
        return value

    def document(self, value: Any, applied: list[str], where: str = "body") -> Any:
        """A JSON document with secret fields and secret-looking strings replaced, at any depth."""
        if isinstance(value, dict):
            cleaned = {}
            for key, item in value.items():
                if self.secret_field(str(key)) and item not in (None, "", [], {}):
                    applied.append(f"{where}.{key}")
                    cleaned[key] = PLACEHOLDER
                else:
                    cleaned[key] = self.document(item, applied, f"{where}.{key}")
            return cleaned
        if isinstance(value, list):
            return [self.document(item, applied, f"{where}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, str):
            return self.text(value, applied, where)
        return value


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0


def _kind(pattern: re.Pattern[str]) -> str:
    source = pattern.pattern
    if source.startswith("eyJ"):
        return "a JWT"
    if "bearer" in source:
        return "a bearer token"
    if source.startswith(r"\b(?:\d"):
        return "a card number"
    return "a key"
