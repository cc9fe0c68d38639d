"""The admin API from the command line's side: `gw mode` and `gw journal` talk to a running gateway.

Which gateway: `--url`, else `GW_URL`, else the host and port `./gateway.yaml` says (0.0.0.0 is
reached on loopback). The admin key, when gateway.yaml (or GW_ADMIN__KEY) sets one, is sent along,
so an operator on another machine needs nothing more. Every failure is one readable line.

`save_mode` writes a switch into gateway.yaml with ruamel.yaml's round trip, so the file's
comments, key order and quoting stay as the person who wrote it left them.
"""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from ...core.admin_headers import ADMIN_HEADER, KEY_HEADER
from ...settings.config import ConfigError, load_config_here
from ...settings.env_refs import expand_env

DEFAULT_CONFIG = Path("gateway.yaml")
TIMEOUT = 5.0


class AdminError(Exception):
    """Something the operator must hear about in one line (unreachable gateway, 403, bad input)."""


def connection(url: str | None, config_path: Path = DEFAULT_CONFIG, port: int | None = None) -> tuple[str, str]:
    """Where the gateway is and the admin key to present, from one read of the config.

    The URL: --url, else GW_URL, else http://host:port of gateway.yaml (or the defaults), `port` (--port,
    as `gw serve` takes it) replacing the port. The key: admin.key (GW_ADMIN__KEY applies), `${ENV}`
    expanded, "" when none or unset.
    """
    chosen = url or (None if port else os.environ.get("GW_URL"))  # an explicit --port outranks GW_URL
    try:
        config = load_config_here(config_path if config_path.exists() else None)
    except ConfigError as exc:
        if chosen:  # the URL is given: a broken gateway.yaml only costs the key
            return chosen.rstrip("/"), ""
        if port:
            return f"http://127.0.0.1:{port}", ""
        raise AdminError(f"{exc} (or give --url)") from None
    try:
        key = expand_env(config.admin.key, config.source, "admin.key") if config.admin.key else ""
    except ConfigError:
        key = ""
    if chosen:
        return chosen.rstrip("/"), key
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
    port = port or config.port
    return (f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"), key


def segment(value: str) -> str:
    """A path segment as the admin API wants it: everything encoded, slashes too (`GET /me` -> `GET%20%2Fme`)."""
    return quote(value, safe="")


class AdminClient:
    def __init__(self, url: str, key: str = "") -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers[ADMIN_HEADER] = "1"  # the gateway refuses state changes without it (cross-site forms)
        if key:
            self.session.headers[KEY_HEADER] = key

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """JSON from the admin API, or an AdminError that says in one line what went wrong."""
        target = f"{self.url}/_gw/api{path}"
        try:
            response = self.session.request(method, target, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise AdminError(f"no gateway answers at {self.url} ({_reason(exc)}); start one with `gw serve` "
                             "or point --url / GW_URL at it") from None
        if response.status_code >= 400:
            raise AdminError(_problem_line(response, self.url))
        return response.json() if response.content else None

    def services(self) -> list[dict[str, Any]]:
        return self.call("GET", "/services")["services"]

    def service(self, name: str) -> dict[str, Any]:
        return self.call("GET", f"/services/{segment(name)}")

    def set_mode(self, service: str, mode: str, operation: str | None = None) -> dict[str, Any]:
        path = f"/services/{segment(service)}"
        if operation:
            path += f"/operations/{segment(operation)}"
        return self.call("PUT", path + "/mode", json={"mode": mode})

    # -- stubs and verification (the pytest plugin's `gw` fixture) ----------------------------------

    def create_stub(self, stub: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/stubs", json=stub)

    def remove_stub(self, stub_id: str) -> None:
        self.call("DELETE", f"/stubs/{segment(stub_id)}")

    def remove_api_stubs(self) -> int:
        return self.call("DELETE", "/stubs")["removed"]

    def count(self, query: dict[str, Any]) -> int:
        return self.call("POST", "/requests/count", json=query)["count"]

    def find(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        return self.call("POST", "/requests/find", json=query)["requests"]

    def clear_requests(self) -> None:
        self.call("DELETE", "/requests")

    def journal(self, limit: int, since: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if since is not None:
            params["since"] = since
        return self.call("GET", "/journal", params=params)


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectionError):
        return "connection refused" if "refused" in str(exc).lower() else "cannot connect"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {TIMEOUT:g}s"
    return type(exc).__name__


def _problem_line(response: requests.Response, url: str) -> str:
    try:
        problem = response.json()
        detail = problem.get("detail") or problem.get("title") or response.reason
    except ValueError:
        detail = response.text.strip()[:200] or response.reason
    if response.status_code == 403:
        return f"{url} refused: {detail}"
    if response.status_code == 404 and "/_gw/api" in detail and "no endpoint" in detail:
        return f"{url} has no admin API (is it a gw gateway of this version?)"
    return f"{response.status_code}: {detail}"


# -- writing a mode into gateway.yaml ------------------------------------------------------------

def save_mode(config_path: Path, service: str, mode: str, operation: str | None = None) -> None:
    """Set services.SERVICE.mode (or .operations.OP.mode) in gateway.yaml, keeping comments and order."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AdminError(f"{config_path}: {exc.strerror or exc}") from None
    yaml = YAML()
    yaml.preserve_quotes = True
    mapping, sequence, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    yaml.width = 4096  # never re-wrap long lines
    document = yaml.load(text)
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict) or not isinstance(services.get(service), dict):
        raise AdminError(f"{config_path}: services.{service}: no such service to save the mode into")
    entry = services[service]
    if operation:
        operations = entry.setdefault("operations", CommentedMap())
        if not isinstance(operations.get(operation), dict):
            operations[operation] = CommentedMap()
        operations[operation]["mode"] = mode
    else:
        entry["mode"] = mode
    out = io.StringIO()
    yaml.dump(document, out)
    from ...stubs.persister import write_atomic  # the stub store's atomic write: only `--save` needs it

    write_atomic(config_path, out.getvalue().encode("utf-8"))


def _indentation(text: str) -> tuple[int, int, int]:
    """The file's own mapping indent and block-sequence offset, so a dump does not re-indent it."""
    mapping, offset = 2, 0
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for before, line in itertools.pairwise(lines):
        if not before.rstrip().endswith(":"):
            continue
        step = _indent(line) - _indent(before)
        if line.lstrip().startswith("- "):
            offset = max(0, step)
            break
    for before, line in itertools.pairwise(lines):
        if before.rstrip().endswith(":") and not line.lstrip().startswith("- ") and _indent(line) > _indent(before):
            mapping = _indent(line) - _indent(before)
            break
    return mapping, max(mapping, offset + 2), offset


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))
