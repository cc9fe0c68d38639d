"""Scrub secrets from an exchange before anything of it touches disk.

All the rules are in two tables below, so what is scrubbed can be read in one place:

- NAME_RULES: a header, query parameter, form field or JSON field whose *name* says it holds a secret.
  Names are compared normalised (lower case, letters and digits only), so `access_token`,
  `accessToken`, `AccessToken` and `Access-Token` are one name; each rule says where it applies.
  NOT_SECRET lists the few names those patterns would catch that are no secret (pagination tokens).
- VALUE_RULES: text that *looks* like a secret wherever it appears (a JWT, a bearer token, a card
  number that passes the Luhn check, provider keys), each with its own extra check.

On top of the tables, the secret values the request being recorded carried (its Authorization,
cookies, API keys, secret fields of its JSON or form body) are scrubbed wherever they reappear:
an echoing upstream, a Location header, a text or binary side file. `name=value` pairs,
`"name": "value"` pairs and `Name: value` lines inside any text are checked against NAME_RULES too.

A project extends the tables through gateway.yaml's `redact:` (`headers`, `query`, `fields`: more
names, compared normalised; `patterns`: more value regexes). Each redaction is listed in the stub's
`meta.redactions`, so the stub says what was taken out and where.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

PLACEHOLDER = "[REDACTED]"
PLACES = ("header", "query", "field")  # field: a JSON or form body field (request or answer)


@dataclass(frozen=True)
class NameRule:
    """Names (normalised) that hold a secret, and where the rule applies."""

    pattern: str  # matched in full against the normalised name
    places: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class ValueRule:
    """Text that looks like a secret, with an optional check on each match (e.g. Luhn for card numbers)."""

    kind: str
    pattern: str
    check: Callable[[str], bool] | None = None
    hints: tuple[str, ...] = ()  # lower-case text one of which every match holds: the regex is skipped without it


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0


NAME_RULES: tuple[NameRule, ...] = (
    NameRule(r".*(password|passwd|passphrase)|pwd", PLACES, "a password"),
    NameRule(r".*(secret|secretkey|privatekey|signingkey)", PLACES, "a secret or private key"),
    NameRule(r".*token", PLACES, "a token (access, refresh, id, session, csrf, ...)"),
    NameRule(r".*(apikey|accesskey)", PLACES, "an API key"),
    NameRule(r".*session(id)?", PLACES, "a session id"),
    NameRule(r"(proxy)?authorization|(set)?cookie|credentials?", PLACES, "credentials or cookies"),
    NameRule(r"otp|pin|cvc|cvv2?|cardnumber|ssn", ("query", "field"), "a one-time code, PIN or card data"),
    NameRule(r"key|sig|signature", ("query",), "a signed URL's key or signature"),
)

# names a NAME_RULES pattern would catch that hold no secret: pagination cursors must replay as recorded
NOT_SECRET = r".*pagetoken|continuationtoken|.*cursortoken"

VALUE_RULES: tuple[ValueRule, ...] = (
    ValueRule("a JWT", r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", hints=("eyj",)),
    ValueRule("a bearer token", r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}", hints=("bearer",)),
    ValueRule("a card number", r"(?a)\b(?:\d[ -]?){12,18}\d\b", _luhn),
    ValueRule("a Stripe key", r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}\b", hints=("_live_", "_test_")),
    ValueRule("an AWS access key id", r"\bAKIA[0-9A-Z]{16}\b", hints=("akia",)),
    ValueRule("credentials in a URL", r"(?<=://)[^/\s:@]{1,256}:[^/\s@]{1,256}(?=@)", hints=("://",)),
    ValueRule("a GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
)

# `name=value` (query strings, form bodies, URL fragments, cookies), `"name": "value"` (JSON in text)
# and `Name: value` lines (headers or YAML quoted in text): the value is scrubbed when the name is secret.
_PAIRS = (  # each with the character it cannot match without (a cheap test first)
    ("=", re.compile(r"(?P<name>[A-Za-z_][\w.\-\[\]]{0,63})=(?P<value>[^&#;\s\"'<>,]+)")),
    ('"', re.compile(r"\"(?P<name>[A-Za-z_][\w.\- ]{0,63})\"\s*:\s*\"(?P<value>(?:[^\"\\\r\n]|\\.){1,4096})\"")),
    (":", re.compile(r"(?m)^[ \t]*(?P<name>[A-Za-z_][\w-]{0,63}):[ \t]*(?P<value>[^\r\n]+?)[ \t]*$")),
)


_NOT_SECRET = re.compile(NOT_SECRET)


def normalised(name: str) -> str:
    """`access_token`, `accessToken` and `Access-Token` all become `accesstoken`."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _compile(rules: tuple[NameRule, ...], place: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{rule.pattern})" for rule in rules if place in rule.places))


@dataclass
class Redactor:
    headers: set[str] = field(default_factory=set)  # extra names (normalised), beyond NAME_RULES
    query: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    patterns: list[tuple[str, re.Pattern[str], Callable[[str], bool] | None, tuple[str, ...]]] = field(
        default_factory=lambda: [(rule.kind, re.compile(rule.pattern), rule.check, rule.hints) for rule in VALUE_RULES])
    known: list[str] = field(default_factory=list)  # secret values of the exchange being recorded, longest first
    rules: dict[str, re.Pattern[str]] = field(default_factory=lambda: {p: _compile(NAME_RULES, p) for p in PLACES})
    decided: dict[tuple[str, str], bool] = field(default_factory=dict, repr=False)

    @classmethod
    def for_spec(cls, security_schemes: dict[str, Any], extra: dict[str, list[str]] | None = None) -> Redactor:
        """The tables, plus the API-key headers and query params the spec's securitySchemes name, plus
        the `redact` setting's own (`headers`, `query`, `fields`, `patterns`)."""
        redactor = cls()
        extra = extra or {}
        redactor.headers |= {normalised(h) for h in extra.get("headers", [])}
        redactor.query |= {normalised(q) for q in extra.get("query", [])}
        redactor.fields |= {normalised(f) for f in extra.get("fields", [])}
        for scheme in (security_schemes or {}).values():
            if isinstance(scheme, dict) and scheme.get("type") == "apiKey" and scheme.get("name"):
                where = scheme.get("in")
                if where == "header":
                    redactor.headers.add(normalised(str(scheme["name"])))
                elif where == "query":
                    redactor.query.add(normalised(str(scheme["name"])))
                elif where == "cookie":
                    redactor.fields.add(normalised(str(scheme["name"])))
        redactor.patterns += [("a configured pattern", re.compile(p), None, ()) for p in extra.get("patterns", [])]
        return redactor

    def _secret(self, name: str, place: str, extra: set[str]) -> bool:
        found = self.decided.get((name, place))
        if found is None:
            key = normalised(name)
            found = bool(key) and (key in extra or (self.rules[place].fullmatch(key) is not None
                                                    and _NOT_SECRET.fullmatch(key) is None))
            if len(self.decided) < 10_000:  # names repeat (every item of a list): decide each once
                self.decided[(name, place)] = found
        return found

    def secret_header(self, name: str) -> bool:
        return self._secret(name, "header", self.headers)

    def secret_query(self, name: str) -> bool:
        return self._secret(name, "query", self.query)

    def secret_field(self, name: str) -> bool:
        return self._secret(name, "field", self.fields)

    def secret_name(self, name: str) -> bool:
        """A name secret in any place: for pairs found inside text, where the place is unknown."""
        return self.secret_field(name) or self.secret_query(name) or self.secret_header(name)

    def secrets_in(self, headers: list[tuple[str, str]], query: list[tuple[str, str]], body: Any,
                   form: list[tuple[str, str]] | None = None) -> Redactor:
        """This redactor, also knowing the secret values this request carried (headers, query, JSON or
        form body), so that they are scrubbed wherever they reappear (an echoing upstream, a Location
        header, an error message quoting them, a binary side file)."""
        known: set[str] = set()
        for name, value in headers:
            if self.secret_header(name):
                known.add(value)
                known.update(part.strip() for chunk in value.split(";") for part in chunk.split("=", 1)[-1:])
                known.update(value.split(" ", 1)[-1:])
        known.update(value for name, value in query if self.secret_query(name))
        known.update(value for name, value in form or [] if self.secret_field(name))
        self._collect(body, known)
        variants: set[str] = set()
        for secret in (k.strip() for k in known):
            if len(secret) < 4:
                continue
            variants.update({secret, quote(secret, safe=""), quote_plus(secret, safe="")})
            raw = secret.encode("utf-8").decode("latin-1")  # as it shows in a binary file read byte for byte
            variants.add(raw)
        return Redactor(self.headers, self.query, self.fields, self.patterns, sorted(variants, key=len, reverse=True),
                        self.rules, self.decided)

    def _collect(self, value: Any, known: set[str]) -> None:
        stack = [value]
        while stack:  # iterative: a deeply nested body cannot exhaust the stack
            current = stack.pop()
            if isinstance(current, dict):
                for key, item in current.items():
                    if self.secret_field(str(key)) and isinstance(item, (str, int)) and not isinstance(item, bool):
                        known.add(str(item))
                    else:
                        stack.append(item)
            elif isinstance(current, list):
                stack.extend(current)

    def text(self, value: str, applied: list[str], where: str, binary: bool = False) -> str:
        """`value` with the request's known secrets, secret `name=value` pairs, and anything that looks
        like a secret replaced. In `binary` data only the known secrets and the value rules with hints
        (JWTs, bearer tokens, provider keys) are looked for: pairs and digit runs there are noise, and
        rewriting them would corrupt the file."""
        for secret in self.known:
            if secret in value:
                value = value.replace(secret, PLACEHOLDER)
                applied.append(f"{where}: a secret of the request")
        for needed, pairs in () if binary else _PAIRS:
            if needed not in value:
                continue

            def pair(match: re.Match[str]) -> str:
                if match.group("value") == PLACEHOLDER or not self.secret_name(match.group("name")):
                    return match.group(0)
                applied.append(f"{where}: {match.group('name')}")
                start, end = match.span("value")
                text = match.group(0)
                offset = match.start()
                return text[:start - offset] + PLACEHOLDER + text[end - offset:]
            value = pairs.sub(pair, value)
        lowered = value.lower() if any(hints for *_, hints in self.patterns) else value
        for kind, pattern, check, hints in self.patterns:
            if (hints and not any(hint in lowered for hint in hints)) or (binary and not hints):
                continue

            def replace(match: re.Match[str], kind: str = kind, check: Callable[[str], bool] | None = check) -> str:
                if check is not None and not check(match.group(0)):
                    return match.group(0)
                applied.append(f"{where}: value like {kind}")
                return PLACEHOLDER
            value = pattern.sub(replace, value)
        return value

    def binary(self, value: bytes, applied: list[str], where: str) -> bytes:
        """A body that is not text, scanned byte for byte (latin-1 maps each byte to one character)."""
        return self.text(value.decode("latin-1"), applied, where, binary=True).encode("latin-1")

    def document(self, value: Any, applied: list[str], where: str = "body") -> Any:
        """A JSON document with secret fields and secret-looking strings replaced, at any depth."""
        if isinstance(value, dict):
            cleaned = {}
            for key, item in value.items():
                if self.secret_field(str(key)) and item not in (None, "", [], {}) and not isinstance(item, bool):
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
