"""What a stub file holds: a request matcher, a response, and where it came from.

```yaml
request:                      # every field but method is optional
  method: GET
  path: /users/1              # below the service's base path; or {regex: "^/users/[0-9]+$"}
  query: {verbose: "true"}    # each value exact, or {regex: ...}
  headers: {X-Tenant: acme}
  body:                       # JSON body fields, by RFC 9535 JSONPath ($.a.b[0], $..sku, $.items[?@.qty > 1].sku)
    $.customer_id: {regex: "^cus_"}
response:
  status: 200
  headers: {Content-Type: application/json}
  body: {id: 1, username: alice}   # JSON, or text; or body_file: a file beside this one
  template: false             # true: body and headers are Jinja2 templates (templates.py)
  delay: 100ms..2s            # optional chaos (gateway/settings/chaos.py): a delay before this answer,
  fault: {kind: connection_reset, rate: 0.1}   # and a fault in its place at a rate
scenario: job                 # optional (scenarios.py): answer only while scenario `job` is in
state: Started                #   this state, then move it to
next_state: done              #   this one
meta: {operation: getUser, recorded_at: ..., source: ..., redactions: [...]}
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from ..settings.chaos import ChaosSettings, check_chaos
from ..settings.policy_settings import SettingsError
from ..spec.safe_yaml import load_yaml
from .errors import StubError

STUB_CHAOS_KEYS = ("delay", "fault")
METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}


@dataclass
class Stub:
    """One saved exchange."""

    id: str  # the file's name without suffix: stable, says what it holds
    service: str
    file: Path
    method: str
    path: Any = None  # exact string, {"regex": ...}, or None for any path
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)  # JSONPath -> expected
    status: int = 200
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    meta: dict[str, Any] = field(default_factory=dict)
    chaos: ChaosSettings | None = None  # response.delay / response.fault
    order: int = 0  # position in the store, for a stable tie-break
    template: Any = None  # templates.AnswerTemplate: `response.template: true` renders the answer per request
    scenario: Any = None  # scenarios.ScenarioStep: answers only in its scenario's `state`, then moves it on

    @property
    def operation(self) -> str | None:
        return self.meta.get("operation")

    @cached_property
    def content_type(self) -> str | None:
        """The answer's Content-Type as the file gives it: looked up once, not on every answer."""
        return next((v for k, v in self.response_headers.items() if k.lower() == "content-type"), None)


def read_stub(file: Path, service: str) -> Stub:
    """Parse one stub file; a StubError names the file, the place and the reason."""
    try:
        text = file.read_text(encoding="utf-8")
        data = json.loads(text) if file.suffix == ".json" else load_yaml(text)  # dates as written; refuses alias bombs
    except OSError as exc:
        raise StubError(str(file), "", exc.strerror or str(exc)) from None
    except RecursionError:
        raise StubError(str(file), "", "nests too deeply to read") from None
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}" if mark else ""
        raise StubError(str(file), place, f"not valid {'JSON' if file.suffix == '.json' else 'YAML'}: "
                                          f"{getattr(exc, 'problem', None) or exc}") from None
    return stub_from_data(data, file, service)


def stub_from_data(data: Any, file: Path, service: str) -> Stub:
    """A stub from its parsed document (a file's, or one sent to the admin API); `file` names it in errors
    and is where `body_file` is looked for."""
    if not isinstance(data, dict):
        raise StubError(str(file), "", "a stub is a mapping with `request` and `response`")
    request = _section(data, "request", file)
    response = _section(data, "response", file)
    unknown = set(data) - {"request", "response", "meta", "scenario", "state", "next_state"}
    if unknown:
        raise StubError(str(file), sorted(unknown)[0], "unknown section (a stub has request, response, meta; "
                                                       "scenario, state, next_state)")
    method = str(request.get("method", "")).upper()
    if method not in METHODS:
        raise StubError(str(file), "request.method", f"expected an HTTP method, got {request.get('method')!r}")
    _check_keys(request, {"method", "path", "query", "headers", "body"}, "request", file)
    _check_keys(response, {"status", "headers", "body", "body_file", "template", "delay", "fault"}, "response", file)
    status = response.get("status", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise StubError(str(file), "response.status", f"expected an HTTP status code, got {status!r}")
    headers = {str(k): str(v) for k, v in (_mapping(response, "headers", file, "response") or {}).items()}
    body = _response_body(response, headers, file)
    stub = Stub(
        id=file.stem,
        service=service,
        file=file,
        method=method,
        path=_matcher(request.get("path"), file, "request.path"),
        query={str(k): _matcher(v, file, f"request.query.{k}") for k, v in _mapping(request, "query", file).items()},
        headers={str(k).lower(): _matcher(v, file, f"request.headers.{k}")
                 for k, v in _mapping(request, "headers", file).items()},
        body={str(k): _body_matcher(k, v, file) for k, v in _mapping(request, "body", file).items()},
        status=status,
        response_headers=headers,
        response_body=body,
        meta=data.get("meta") or {},
        chaos=_chaos(response, file),
    )
    if "template" in response:  # templates and scenarios: their modules only load for stubs that use them
        from .templates import compile_answer

        stub.template = compile_answer(response, headers, body, file)
    if data.keys() & {"scenario", "state", "next_state"}:
        from .scenarios import scenario_step

        stub.scenario = scenario_step(data, file)
    return stub


def _chaos(response: dict[str, Any], file: Path) -> ChaosSettings | None:
    """`response.delay` and `response.fault` (a kind, or {kind, rate, status}), read as a chaos block is."""
    given = {k: response[k] for k in STUB_CHAOS_KEYS if k in response}  # `status` is the answer's own
    if not given:
        return None
    try:
        return check_chaos(given)
    except SettingsError as exc:
        place = exc.key if exc.key.startswith(("delay", "fault")) else f"fault.{exc.key}"
        raise StubError(str(file), f"response.{place}", exc.reason) from None


def _section(data: dict[str, Any], name: str, file: Path) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise StubError(str(file), name, "missing, or not a mapping")
    return value


def _mapping(data: dict[str, Any], key: str, file: Path, prefix: str = "request") -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise StubError(str(file), f"{prefix}.{key}", "expected a mapping")
    return value


def _check_keys(data: dict[str, Any], allowed: set[str], prefix: str, file: Path) -> None:
    unknown = set(data) - allowed
    if unknown:
        key = sorted(unknown)[0]
        raise StubError(str(file), f"{prefix}.{key}", f"unknown field (expected one of {', '.join(sorted(allowed))})")


def _matcher(value: Any, file: Path, place: str) -> Any:
    """Exact values become strings (query and header values arrive as text); {regex} is compiled."""
    if isinstance(value, dict):
        if set(value) != {"regex"} or not isinstance(value["regex"], str):
            raise StubError(str(file), place, "a matcher is a value, or {regex: PATTERN}")
        import re

        try:
            return {"regex": re.compile(value["regex"])}
        except re.error as exc:
            raise StubError(str(file), place, f"bad regex: {exc}") from None
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _body_matcher(path: Any, value: Any, file: Path) -> Any:
    """{equals} or {regex}, with `query`: the path compiled (RFC 9535, stubs/json_paths.py); a bad path fails the load."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise StubError(str(file), f"request.body.{path}", "body fields are JSONPaths such as $.items[0].sku")
    from .json_paths import JsonPathError, compile_path  # loaded only for stubs that match bodies

    try:
        query = compile_path(path)
    except JsonPathError as exc:
        raise StubError(str(file), f"request.body.{path}", f"not a JSONPath (RFC 9535): {exc}") from None
    if isinstance(value, dict) and set(value) == {"regex"}:
        return {**_matcher(value, file, f"request.body.{path}"), "query": query}
    _json_value(value, file, f"request.body.{path}")
    return {"equals": value, "query": query}


def _json_value(value: Any, file: Path, place: str) -> str:
    """`value` as JSON text; a value JSON cannot hold (YAML's !!binary or !!set) fails the load where it is written."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise StubError(str(file), place, f"not a JSON value: {exc}") from None


def body_file_path(file: Path, response: dict[str, Any]) -> Path:
    """Where a stub's `response.body_file` is: relative to the stub file's folder (the one rule, for reading and deleting)."""
    return file.parent / str(response["body_file"])


def _response_body(response: dict[str, Any], headers: dict[str, str], file: Path) -> bytes:
    if "body_file" in response:
        side = body_file_path(file, response)
        try:
            return side.read_bytes()
        except OSError as exc:
            raise StubError(str(file), "response.body_file", f"{side.name}: {exc.strerror or exc}") from None
    body = response.get("body")
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "application/json")
    if "json" not in content_type and "*" not in content_type:
        raise StubError(str(file), "response.body", f"structured body for {content_type}: write it as text")
    return _json_value(body, file, "response.body").encode()
