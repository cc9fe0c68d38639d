"""pytest plugin (installed with gw): two fixtures for consumers' tests.

`gw_stubs`: recorded stubs as `responses` mocks, for offline unit tests of code that calls a
service with `requests` (no server at all):

    def test_profile_page(gw_stubs):
        gw_stubs("users", base_url="https://users.internal")   # every stub in stubs/users/
        assert fetch_profile(1)["username"] == "alice"          # your code, calling requests

Each stub becomes one `responses` registration with the stub's matcher (method, path, query,
headers, JSON body fields) and its response; the most specific stub is registered first.

`gw_gateway`: the whole gateway on a free loopback port, in a chosen mode, for end-to-end tests of
code that speaks HTTP with any client (or a browser):

    def test_checkout(gw_gateway):
        gateway = gw_gateway(mode="stub")                      # ./gateway.yaml, served in this process
        client = ShopClient(gateway.url + "/orders")           # your code, its real HTTP stack
        assert client.create_order(...).status == "pending"

    gw_gateway("specs/users.yaml")                             # one spec, mounted at /
    gw_gateway(mode="live", upstream="http://127.0.0.1:9001")  # live to an upstream you started
    gw_gateway(process=True)                                   # a real `gw serve` process
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from .stubs import Stub, StubStore
from .stubs.matchers import json_path, specificity, value_matches


def stub_response(stub: Stub, base_url: str) -> responses.BaseResponse:
    """One `responses` registration for a stub."""
    base = base_url.rstrip("/")
    if isinstance(stub.path, dict):
        url: Any = re.compile(re.escape(base) + "(" + stub.path["regex"].pattern.lstrip("^").rstrip("$") + r")(\?.*)?$")
    elif stub.path is None:
        url = re.compile(re.escape(base) + r"/.*")
    else:
        url = base + stub.path
    match = []
    exact_query = {k: v for k, v in stub.query.items() if not isinstance(v, dict)}
    if exact_query:
        match.append(matchers.query_param_matcher(exact_query, strict_match=False))
    exact_headers = {k: v for k, v in stub.headers.items() if not isinstance(v, dict)}
    if exact_headers:
        match.append(matchers.header_matcher(exact_headers))
    regexes = {**{("query", k): v for k, v in stub.query.items() if isinstance(v, dict)},
               **{("header", k): v for k, v in stub.headers.items() if isinstance(v, dict)}}
    if regexes or stub.body:
        match.append(_extra_matcher(stub, regexes))
    headers = {k: v for k, v in stub.response_headers.items() if k.lower() != "content-type"}
    content_type = next((v for k, v in stub.response_headers.items() if k.lower() == "content-type"), None)
    return responses.Response(stub.method, url, body=stub.response_body, status=stub.status, headers=headers,
                              content_type=content_type, match=match)


def _extra_matcher(stub: Stub, regexes: dict[tuple[str, str], Any]) -> Callable[[Any], tuple[bool, str]]:
    def match(request: Any) -> tuple[bool, str]:
        from urllib.parse import parse_qs, urlsplit

        query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
        for (where, name), matcher in regexes.items():
            values = query.get(name, []) if where == "query" else [request.headers.get(name, "")]
            if not any(matcher["regex"].search(v) for v in values):
                return False, f"{where} {name} does not match /{matcher['regex'].pattern}/"
        if stub.body:
            from .json_limits import parse_json

            try:
                document = parse_json(request.body or b"null")
            except ValueError:
                return False, "body is not JSON"
            for path, expected in stub.body.items():
                if not any(value_matches(expected, v) for v in json_path(document, path)):
                    return False, f"body {path} does not match"
        return True, ""

    return match


@pytest.fixture
def gw_stubs(request: pytest.FixtureRequest) -> Iterator[Callable[..., responses.RequestsMock]]:
    """Call with a service name and the base URL your code uses for it; returns the active mock."""
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.start()

    def load(service: str, base_url: str, stubs: str | Path | None = None) -> responses.RequestsMock:
        root = Path(stubs) if stubs else Path(request.config.rootpath) / "stubs"
        store = StubStore(root, [service])
        if store.errors:
            raise pytest.UsageError("; ".join(str(e) for e in store.errors))
        if not store.all(service):
            raise pytest.UsageError(f"no stubs for {service} in {root / service}")
        ranked = sorted(store.all(service), key=lambda s: (-specificity(s), s.order))
        for stub in ranked:
            mock.add(stub_response(stub, base_url))
        return mock

    yield load
    mock.stop()
    mock.reset()



@dataclass
class RunningGateway:
    """A gateway started for a test: its base URL, and (in process) the app itself."""

    url: str
    stop: Callable[[], None]
    app: Any = None

    def service_url(self, service: str) -> str:
        """The base URL of one service: the gateway's URL plus the service's base path."""
        if self.app is None:
            raise pytest.UsageError("service_url needs the in-process gateway (process=False)")
        base = self.app.config.services[service].base_path
        return self.url + ("" if base == "/" else base)


@pytest.fixture
def gw_gateway(request: pytest.FixtureRequest) -> Iterator[Callable[..., RunningGateway]]:
    """Call to start the gateway: `gw_gateway(*sources, mode=, upstream=, process=, env=)`.

    `sources` are what `gw serve` takes (spec files, or one gateway.yaml; default the project's
    gateway.yaml); `mode` and `upstream` apply to every service as the CLI flags do. In process
    (default) it starts in a fraction of a second; `process=True` runs `gw serve` as a real process.
    Every gateway started is stopped when the test ends.
    """
    started: list[RunningGateway] = []
    root = Path(request.config.rootpath)

    def start(*sources: str | Path, mode: str | None = None, upstream: str | list[str] | None = None,
              process: bool = False, env: dict[str, str] | None = None) -> RunningGateway:
        upstreams = [upstream] if isinstance(upstream, str) else list(upstream or [])
        paths = [Path(s) if Path(s).is_absolute() else root / s for s in sources] or [root / "gateway.yaml"]
        if process:
            gateway = _start_process(paths, mode, upstreams, env or {}, cwd=root)
        else:
            gateway = _start_in_process(paths, mode, upstreams, env or {})
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


def _start_in_process(paths: list[Path], mode: str | None, upstreams: list[str], env: dict[str, str]) -> RunningGateway:
    from .config import apply_overrides, config_for_specs, load_config
    from .conformance import InProcessGateway
    from .server import is_gateway_config

    configs = [path for path in paths if is_gateway_config(path)]
    if configs and len(paths) > 1:
        raise pytest.UsageError("gw_gateway: give either one gateway.yaml or spec files, not both")
    environment = {**os.environ, **env}
    config = load_config(configs[0], env=environment) if configs else config_for_specs(paths, env=environment)
    apply_overrides(config, mode, upstreams or None)
    gateway = InProcessGateway(config).__enter__()
    return RunningGateway(gateway.url, lambda: gateway.__exit__(None, None, None), gateway.app)


def _start_process(paths: list[Path], mode: str | None, upstreams: list[str], env: dict[str, str],
                   cwd: Path) -> RunningGateway:
    from .conformance.process import GatewayProcess

    args = [*map(str, paths), *(["--mode", mode] if mode else [])]
    for url in upstreams:
        args += ["--upstream", url]
    gateway = GatewayProcess(args, cwd=cwd, env=env)
    try:
        gateway.wait_ready()
    except RuntimeError as exc:
        raise pytest.UsageError(str(exc)) from None
    return RunningGateway(gateway.url, gateway.stop)
