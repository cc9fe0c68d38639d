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

`gw`: stubs and verification through the admin API, as tests in any language do it over HTTP (the
project's gateway, served once per session, or the one GW_URL names):

    def test_profile_page_calls_the_api_once(gw):
        gw.stub({"service": "users", "request": {"method": "GET", "path": "/users/7"},
                 "response": {"status": 200, "body": {"id": 7, "username": "ada"}}})
        assert render_profile(gw.url + "/users", 7).title == "ada"
        assert gw.count({"service": "users", "request": {"method": "GET", "path": "/users/7"}}) == 1
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported when used: loading the plugin (every pytest run where gw is installed) stays cheap
    import responses

    from .operator.admin.client import AdminClient
    from .stubs import Stub

RESET_HOOKS: list[Callable[[Gw], None]] = []  # what else `gw.reset()` resets (features with state of their own add theirs)


def stub_response(stub: Stub, base_url: str) -> responses.BaseResponse:
    """One `responses` registration for a stub."""
    import responses
    from responses import matchers

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

        from .stubs.json_paths import values as selected
        from .stubs.matchers import value_matches

        query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
        for (where, name), matcher in regexes.items():
            values = query.get(name, []) if where == "query" else [request.headers.get(name, "")]
            if not any(matcher["regex"].search(v) for v in values):
                return False, f"{where} {name} does not match /{matcher['regex'].pattern}/"
        if stub.body:
            from .core.json_limits import parse_json

            try:
                document = parse_json(request.body or b"null")
            except ValueError:
                return False, "body is not JSON"
            for path, expected in stub.body.items():
                if not any(value_matches(expected, v) for v in selected(expected["query"], document)):
                    return False, f"body {path} does not match"
        return True, ""

    return match


@pytest.fixture
def gw_stubs(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Call with a service name and the base URL your code uses for it; returns the active mock."""
    import responses

    from .stubs import StubStore
    from .stubs.matchers import specificity

    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.start()

    def load(service: str, base_url: str, stubs: str | Path | None = None) -> Any:
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
    _gw: Gw | None = None

    @property
    def gw(self) -> Gw:
        """Stubs and verification through this gateway's admin API (see `Gw`); its stubs go when the test ends."""
        if self._gw is None:
            self._gw = Gw(self.url)
        return self._gw

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
        if gateway._gw is not None:
            gateway._gw.cleanup()  # persisted stubs are files that would outlive the gateway
        gateway.stop()


def _start_in_process(paths: list[Path], mode: str | None, upstreams: list[str], env: dict[str, str]) -> RunningGateway:
    from .contract.conformance import InProcessGateway
    from .server.runner import is_gateway_config
    from .settings.config import apply_overrides, config_for_specs, load_config

    configs = [path for path in paths if is_gateway_config(path)]
    if configs and len(paths) > 1:
        raise pytest.UsageError("gw_gateway: give either one gateway.yaml or spec files, not both")
    environment = {**os.environ, **env}
    config = load_config(configs[0], env=environment) if configs else config_for_specs(paths, env=environment)
    config = apply_overrides(config, mode, upstreams or None)
    gateway = InProcessGateway(config).__enter__()
    return RunningGateway(gateway.url, lambda: gateway.__exit__(None, None, None), gateway.app)


def _start_process(paths: list[Path], mode: str | None, upstreams: list[str], env: dict[str, str],
                   cwd: Path) -> RunningGateway:
    from .contract.conformance.process import GatewayProcess

    args = [*map(str, paths), *(["--mode", mode] if mode else [])]
    for url in upstreams:
        args += ["--upstream", url]
    gateway = GatewayProcess(args, cwd=cwd, env=env)
    try:
        gateway.wait_ready()
    except RuntimeError as exc:
        raise pytest.UsageError(str(exc)) from None
    return RunningGateway(gateway.url, gateway.stop)


@dataclass
class Gw:
    """A running gateway as a test drives it through its admin API: stubs in, counts out.

        stub_id = gw.stub({"service": "users", "request": {"method": "GET", "path": "/users/7"},
                           "response": {"status": 200, "body": {"id": 7, "username": "ada"}}})
        ...                                                      # the code under test calls the gateway
        assert gw.count({"service": "users", "request": {"method": "GET", "path": "/users/7"}}) == 1
        gw.find({...})                                            # the matching exchanges themselves
        gw.reset()                                                # API stubs, the journal (and RESET_HOOKS)

    A stub the service's contract does not allow fails the call with the gateway's reasons. Every stub a
    test created is removed when the test ends. `service=` names the service once for every call.
    """

    url: str
    key: str = ""
    service: str | None = None
    created: list[str] = field(default_factory=list)
    _client: AdminClient | None = None

    @property
    def client(self) -> AdminClient:
        if self._client is None:
            from .operator.admin.client import AdminClient

            self._client = AdminClient(self.url, self.key)
        return self._client

    def service_url(self, service: str) -> str:
        """The gateway's URL plus the service's base path: where the code under test sends its calls."""
        from .operator.admin.client import segment

        base = self._call(self.client.call, "GET", f"/services/{segment(service)}")["base_path"]
        return self.url + ("" if base == "/" else base)

    def stub(self, stub: dict[str, Any], persist: bool = False) -> str:
        """Create a stub (the stub file format as a dict, plus `service`); returns its id."""
        body = self._with_service(stub)
        if persist:
            body["persist"] = True
        stub_id = self._call(self.client.create_stub, body)["id"]
        self.created.append(stub_id)
        return stub_id

    def remove(self, stub_id: str) -> None:
        self._call(self.client.remove_stub, stub_id)
        if stub_id in self.created:
            self.created.remove(stub_id)

    def count(self, query: dict[str, Any]) -> int:
        """How many requests the gateway (every process) received that match `request` (a stub file's block)."""
        return self._call(self.client.count, self._query(query))

    def find(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """The matching exchanges, oldest first, credentials redacted."""
        return self._call(self.client.find, self._query(query))

    def reset(self) -> None:
        """Remove every stub created over the API (kept in memory), clear the journal, then run RESET_HOOKS."""
        self._call(self.client.remove_api_stubs)
        self._call(self.client.clear_requests)
        self.created.clear()
        for hook in RESET_HOOKS:
            hook(self)

    def cleanup(self) -> None:
        """The test is over: the stubs it created go (persisted ones' files too)."""
        from .operator.admin.client import AdminError

        for stub_id in reversed(self.created):
            try:
                self.client.remove_stub(stub_id)
            except AdminError:  # removed already, or the gateway is gone with its stubs
                pass
        self.created.clear()

    def _query(self, query: dict[str, Any]) -> dict[str, Any]:
        """`{"service", "request"}`, or a bare request block (`{"method", "path", ...}`) for `service=`."""
        if "request" not in query and "method" in query:
            query = {"request": query}
        return self._with_service(query)

    def _with_service(self, body: dict[str, Any]) -> dict[str, Any]:
        body = dict(body)
        if "service" not in body:
            if self.service is None:
                raise pytest.UsageError("gw: say which service (`\"service\": NAME`, or gw.service = NAME)")
            body["service"] = self.service
        return body

    @staticmethod
    def _call(method: Callable[..., Any], *args: Any) -> Any:
        from .operator.admin.client import AdminError

        try:
            return method(*args)
        except AdminError as exc:
            raise AssertionError(f"gw: {exc}") from None


@pytest.fixture(scope="session")
def gw_session_gateway(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """The gateway `gw` drives: GW_URL's (one already running, with GW_ADMIN_KEY if it wants one), else the
    project's ./gateway.yaml served in this process for the whole session."""
    url = os.environ.get("GW_URL")
    if url:
        yield url.rstrip("/"), os.environ.get("GW_ADMIN_KEY", "")
        return
    root = Path(request.config.rootpath)
    gateway = _start_in_process([root / "gateway.yaml"], None, [], {})
    try:
        yield gateway.url, ""
    finally:
        gateway.stop()


@pytest.fixture
def gw(gw_session_gateway: tuple[str, str]) -> Iterator[Gw]:
    """A gateway to stub and verify through its admin API (see `Gw`); a test's stubs go when it ends."""
    url, key = gw_session_gateway
    control = Gw(url, key)
    yield control
    control.cleanup()
