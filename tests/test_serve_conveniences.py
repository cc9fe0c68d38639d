"""What Prism users reach for on the command line: `gw serve --strict` for CI, `gw lint` failing on
warnings, `gw serve URL`, `--dynamic`, and a banner that lists what can be called (`--quiet` hides it)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from gw.server.banner import operation_lines
from gw.spec.load import load_service
from tests.conftest import TEST_SPECS, GatewayProcess, GatewayThread, free_port, gateway_config, run_cli, run_gw

DRAFTS = TEST_SPECS / "draft"
ONE_BROKEN_REF = """openapi: 3.0.3
info: {title: Pets, version: "1"}
paths:
  /pets:
    get:
      responses: {"200": {description: ok, content: {application/json: {example: [{name: Rex}]}}}}
  /owners:
    get:
      responses: {"200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Owner"}}}}}
"""


def test_strict_refuses_a_spec_with_a_left_out_operation_in_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "pets.yaml"
    spec.write_text(ONE_BROKEN_REF)
    result = run_gw("serve", str(spec), "--strict", "--port", str(free_port()), env={"XDG_CACHE_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {spec}: paths./owners.get.responses.200.content.application/json.schema: "
        "$ref target #/components/schemas/Owner does not exist; GET /owners is left out"]


def test_without_strict_the_same_spec_serves_the_other_operations(tmp_path: Path,
                                                                  gw_process: Callable[..., GatewayProcess]) -> None:
    spec = tmp_path / "pets.yaml"
    spec.write_text(ONE_BROKEN_REF)
    gateway = gw_process(str(spec), env={"XDG_CACHE_HOME": str(tmp_path)}).wait_ready()
    assert httpx.get(f"{gateway.url}/pets", timeout=5).json() == [{"name": "Rex"}]
    assert httpx.get(f"{gateway.url}/owners", timeout=5).status_code == 404
    assert "GET /owners is left out" in gateway.stop()


def test_lint_lists_each_warning_as_file_place_reason_and_exits_1() -> None:
    result = run_cli("lint", str(DRAFTS / "no_description.yaml"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"warning: {DRAFTS / 'no_description.yaml'}: paths./pets.get.responses.200.description: is required but missing"]
    assert "ok no_description" in result.stdout and "1 warning)" in result.stdout


class SpecServer:
    """A static file server on loopback: the spec's home a `gw serve URL` fetches from."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def spec_server() -> Iterator[SpecServer]:
    server = SpecServer(DRAFTS / "remote")
    yield server
    server.stop()


def test_serve_a_spec_url_with_relative_refs_and_restart_offline_from_the_cache(
        spec_server: SpecServer, gw_process: Callable[..., GatewayProcess], tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    url = f"{spec_server.url}/api.yaml"
    online = gw_process(url, env=env).wait_ready()
    assert httpx.get(f"{online.url}/pets", timeout=5).json() == [{"name": "Fetched Rex"}]
    online.stop()
    spec_server.stop()
    offline = gw_process(url, env={**env, "GW_LOG_FORMAT": "text"}).wait_ready()  # the warning as people read it
    assert httpx.get(f"{offline.url}/pets", timeout=5).json() == [{"name": "Fetched Rex"}]
    assert f"warning: {url}: cannot fetch (cannot connect" in offline.stop()


def test_an_unreachable_spec_url_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/openapi.yaml"
    result = run_gw("serve", url, env={"XDG_CACHE_HOME": str(tmp_path)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {url}: cannot fetch the spec (cannot connect")
    assert lines[0].endswith("and no copy is cached")


def test_dynamic_flag_generates_bodies_and_the_banner_lists_operations(gw_process: Callable[..., GatewayProcess]) -> None:
    gateway = gw_process(str(DRAFTS / "dynamic.yaml"), "--dynamic", env={"GW_LOG_FORMAT": "text"}).wait_ready()
    answers = [httpx.get(f"{gateway.url}/pets/1", timeout=5) for _ in range(3)]
    asked = httpx.get(f"{gateway.url}/pets/1", headers={"Prefer": "dynamic=false"}, timeout=5)
    assert {a.headers["x-gw-source"] for a in answers} == {"generated"}
    assert len({a.text for a in answers}) == 3 and all(len(a.json()["name"]) >= 12 for a in answers)
    assert asked.json() == {"name": "Rex the example", "weight": 3.5}
    log = gateway.stop()
    assert f"  GET  {gateway.url}/pets/{{id}}  getPet" in log.splitlines()


def test_quiet_hides_the_banner(gw_process: Callable[..., GatewayProcess]) -> None:
    gateway = gw_process(str(DRAFTS / "dynamic.yaml"), "--quiet").wait_ready()
    assert httpx.get(f"{gateway.url}/pets/1", timeout=5).headers["x-gw-source"] == "example"
    log = gateway.stop()
    assert f"{gateway.url}/pets/{{id}}" not in log and "health:" not in log and "gw on" not in log


def test_dynamic_service_setting_generates_bodies_unless_a_request_names_an_example() -> None:
    config = gateway_config({"pets": {"spec": str(DRAFTS / "dynamic.yaml"), "base_path": "/", "dynamic": True}}, reload=False)
    with GatewayThread(config) as gateway, gateway.client() as client:
        first, second = client.get("/pets/1"), client.get("/pets/1")
        example = client.get("/pets/1", headers={"Prefer": "dynamic=false"})
    assert first.headers["x-gw-source"] == second.headers["x-gw-source"] == "generated"
    assert first.json() != second.json()
    assert example.headers["x-gw-source"] == "example"


def test_the_banner_counts_the_operations_of_a_large_service(tmp_path: Path) -> None:
    spec = tmp_path / "big.yaml"
    paths = "".join(f"  /r{i}:\n    get:\n      responses: {{'200': {{description: ok}}}}\n" for i in range(21))
    spec.write_text(f"openapi: 3.0.3\ninfo: {{title: big, version: '1'}}\npaths:\n{paths}")
    service = load_service("big", spec, "/api")
    assert operation_lines("http://127.0.0.1:8000", service) == ["  21 operations: `gw routes` lists them"]
    service.operations = dict(list(service.operations.items())[:2])
    assert operation_lines("http://127.0.0.1:8000", service) == ["  GET  http://127.0.0.1:8000/api/r0",
                                                                 "  GET  http://127.0.0.1:8000/api/r1"]


def test_a_spec_url_in_gateway_yaml_is_fetched_at_start(spec_server: SpecServer, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    config = gateway_config({"pets": {"spec": f"{spec_server.url}/api.yaml", "base_path": "/pets"}}, reload=False)
    with GatewayThread(config) as gateway, gateway.client() as client:
        assert client.get("/pets/pets").json() == [{"name": "Fetched Rex"}]
        assert gateway.app.services["pets"].title == "Remote pets"


def test_warnings_with_brackets_print_as_written(tmp_path: Path) -> None:
    spec = tmp_path / "brackets.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n"
                    "      '[bold]': 1\n      responses: {'200': {description: ok}}\n")
    result = run_cli("lint", str(spec))
    assert result.stderr.strip() == (
        f"warning: {spec}: paths./x.get.[bold]: unknown key (not part of OpenAPI; extensions start with x-)")
