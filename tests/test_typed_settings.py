"""Typed settings (gw.settings): a value's type decides what it accepts, unknown keys are refused with
"did you mean", GW_ variables nest with `__`, settings are frozen, and runtime mode switches leave them alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from gw.settings.config import ConfigError, build_config, load_config
from gw.settings.env_refs import expand_env
from gw.settings.types import Block, ByteSize, Duration, read_block
from tests.conftest import ROOT, SPECS, GatewayThread, run_gw
from tests.test_cli import copy_samples

USERS = str(SPECS / "users.yaml")


class Probe(Block):
    """A block no name list ever knew: its fields' types alone decide."""

    timeout: int = 3  # named like a duration, a count here
    limit: ByteSize = 0  # a size in a new block
    pause: Duration = 0.0  # a duration under a new name


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return path


def test_a_fields_type_decides_what_it_accepts_not_its_name() -> None:
    probe = read_block(Probe, {"timeout": 7, "limit": "64kb", "pause": "250ms"}, "probe.yaml")
    assert (probe.timeout, probe.limit, probe.pause) == (7, 64_000, 0.25)
    assert read_block(Probe, {"limit": "1MiB", "pause": "1m"}, "probe.yaml").limit == 2**20
    with pytest.raises(ConfigError) as caught:
        read_block(Probe, {"timeout": "2s"}, "probe.yaml", "probe")
    assert str(caught.value) == "probe.yaml: probe.timeout: expected a whole number, got '2s'"


def test_sizes_and_durations_in_gateway_blocks_read_units() -> None:
    config = build_config({"server": {"body_min_rate": "1kb", "keep_alive": "1500ms"}, "streams": {"interval": "200ms"},
                           "services": {"u": {"spec": USERS, "circuit_breaker": {"open_seconds": "1m"}}}}, "test")
    assert (config.server.body_min_rate, config.server.keep_alive, config.streams.interval) == (1000, 1.5, 0.2)
    assert config.services["u"].circuit_breaker.open_seconds == 60.0


@pytest.mark.parametrize(("data", "key", "hint"), [
    ({"cors": {"origns": ["http://a.test"]}}, "cors.origns", "origins"),
    ({"services": {"u": {"spec": USERS, "circuit_breaker": {"failure": 3}}}}, "services.u.circuit_breaker.failure",
     "failures"),
    ({"services": {"u": {"spec": USERS, "operations": {"getUser": {"mdoe": "live"}}}}}, "services.u.operations.getUser.mdoe",
     "mode"),
    ({"services": {"u": {"spec": USERS, "upstream": [{"url": "http://a.test", "wieght": 2}]}}}, "services.u.upstream[0].wieght",
     "weight"),
    ({"auth": {"jwt": {"secrett": "x"}}}, "auth.jwt.secrett", "secret"),
    ({"chaos": {"max_dealy": "1s"}}, "chaos.max_dealy", "max_delay"),
])
def test_an_unknown_key_anywhere_is_refused_with_did_you_mean(data: dict, key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config(data, "gateway.yaml")
    assert str(caught.value) == f"gateway.yaml: {key}: unknown setting (did you mean `{hint}`?)"


@pytest.mark.parametrize(("text", "line"), [
    ("cors:\n  origns: [http://a.test]\n", "error: gateway.yaml: cors.origns: unknown setting (did you mean `origins`?)"),
    ("port: abc\n", "error: gateway.yaml: port: expected a whole number, got 'abc'"),
    ("services:\n  users:\n    spec: specs/users.yaml\n    operations: {getUser: {mode: turbo}}\n",
     "error: gateway.yaml: services.users.operations.getUser.mode: must be one of stub, live, record, fallback, spy, "
     "got 'turbo'"),
])
def test_the_cli_says_a_bad_setting_in_one_line_without_pydantic_text(tmp_path: Path, text: str, line: str) -> None:
    copy_samples(tmp_path)
    (tmp_path / "gateway.yaml").write_text(text)
    for command, code in ((["serve"], 2), (["lint"], 1)):  # as before: serve's usage error, lint's finding
        result = run_gw(*command, cwd=tmp_path)
        assert result.returncode == code, result.stderr
        assert result.stderr.strip() == line
        assert "pydantic" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_environment_variables_nest_with_double_underscores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_ADMIN_KEY", "s3cret")
    path = write(tmp_path, "services:\n  users: {spec: u.yaml}\n")
    config = load_config(path, env={
        "GW_SERVICES__USERS__CIRCUIT_BREAKER__OPEN_SECONDS": "1m",
        "GW_SERVICES__USERS__HEALTH_CHECK__PATH": "/health",
        "GW_ALLOWED_HOSTS": "api.test, *.example.test",
        "GW_CALLBACKS__ALLOW": "127.0.0.0/8,10.0.0.0/8",
        "GW_ADMIN__KEY": "${GW_TEST_ADMIN_KEY}",
        "GW_STREAMS__EVENTS": "5",
        "GW_URL": "http://ignored.test",
    })
    users = config.services["users"]
    assert (users.circuit_breaker.open_seconds, users.health_check.path) == (60.0, "/health")
    assert config.allowed_hosts == ["api.test", "*.example.test"]
    assert config.callbacks.allow == ["127.0.0.0/8", "10.0.0.0/8"]
    assert config.streams.events == 5
    assert config.admin.key == "${GW_TEST_ADMIN_KEY}"  # a reference, expanded where it is used
    assert expand_env(config.admin.key, config.source, "admin.key") == "s3cret"


def test_an_environment_variable_with_a_bad_value_or_shape_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  users: {spec: u.yaml}\n")
    with pytest.raises(ConfigError, match=r"^.*gateway.yaml: services.users.circuit_breaker.window: expected a duration"):
        load_config(path, env={"GW_SERVICES__USERS__CIRCUIT_BREAKER__WINDOW": "soon"})
    with pytest.raises(ConfigError, match=r"^GW_PORT__X: port.x: conflicts with a non-mapping setting$"):
        load_config(path, env={"GW_PORT": "9000", "GW_PORT__X": "1"})
    with pytest.raises(ConfigError, match=r"gateway.yaml: services.users.timout: unknown setting \(did you mean `timeout`\?\)$"):
        load_config(path, env={"GW_SERVICES__USERS__TIMOUT": "1s"})


def test_settings_are_frozen_once_loaded() -> None:
    config = load_config(ROOT / "gateway.yaml", env={})
    with pytest.raises(ValidationError):
        config.port = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.services["users"].mode = "live"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.cors.enabled = False  # type: ignore[misc]
    flagged = config.with_flags(port=9100)
    assert (flagged.port, config.port) == (9100, 8000)  # a flag makes new settings, the old ones stay


def test_a_runtime_mode_switch_leaves_the_settings_untouched(start_gateway: Callable[..., GatewayThread],
                                                             make_upstream: Callable[[str], object]) -> None:
    upstream = make_upstream("real")
    gateway = start_gateway({"users": {"spec": USERS, "upstream": [upstream.url]}}, reload=False)  # type: ignore[attr-defined]
    settings = gateway.app.config.services["users"]
    before = settings.model_dump()
    with gateway.client() as client:
        assert client.put("/_gw/api/services/users/mode", json={"mode": "live"}).status_code == 200
        assert client.put("/_gw/api/services/users/operations/getUser/mode", json={"mode": "spy"}).status_code == 200
        assert client.get("/_gw/api/services/users").json()["mode"] == "live"
        answer = httpx.get(f"{gateway.url}/users/users", timeout=5)
    assert answer.headers["x-gw-source"] == "live"
    assert gateway.app.config.services["users"] is settings and settings.model_dump() == before
    assert settings.mode == "stub" and settings.operations == {}
    assert gateway.app.modes.mode_for("users", "getUser") == "spy"
