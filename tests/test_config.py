"""gateway.yaml, GW_... overrides and CLI flags; every bad setting is one line naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gw.settings.config import ConfigError, apply_overrides, config_for_specs, load_config
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return path


def test_sample_config_wires_three_services() -> None:
    config = load_config(ROOT / "gateway.yaml", env={})
    assert set(config.services) == {"users", "orders", "cameras"}
    assert config.services["users"].base_path == "/users"
    assert config.spec_path(config.services["orders"]).exists()


def test_environment_overrides_any_setting(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  users: {spec: u.yaml, timeout: 5}\n")
    config = load_config(path, env={
        "GW_PORT": "9100",
        "GW_SERVICES__USERS__TIMEOUT": "250ms",
        "GW_SERVICES__USERS__MODE": "live",
        "GW_SERVICES__USERS__UPSTREAM": "http://a:1, http://b:2",
        "GW_MAX_BODY": "2MiB",
        "HOME": "/ignored",
    })
    users = config.services["users"]
    assert config.port == 9100
    assert users.timeout == 0.25
    assert users.mode == "live"
    assert users.upstream == ["http://a:1", "http://b:2"]
    assert config.max_body == 2 * 1024 * 1024


def test_environment_can_add_a_service(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "services: {}\n"), env={"GW_SERVICES__PETS__SPEC": "pets.yaml"})
    assert config.services["pets"].base_path == "/pets"


@pytest.mark.parametrize(("text", "key", "reason"), [
    ("services:\n  users: {spec: u.yaml, timout: 5}\n", "services.users.timout", "did you mean `timeout`"),
    ("services:\n  users: {spec: u.yaml, mode: mock}\n", "services.users.mode", "must be one of stub, live"),
    ("services:\n  users: {spec: u.yaml, timeout: soon}\n", "services.users.timeout", "expected a duration"),
    ("services:\n  users: {spec: u.yaml, upstream: ftp://x}\n", "services.users.upstream", "expected an http(s) URL"),
    ("services:\n  users: {mode: stub}\n", "services.users.spec", "is required"),
    ("services:\n  users: {spec: u.yaml, retries: lots}\n", "services.users.retries", "expected a whole number"),
    ("services:\n  users: {spec: u.yaml, base_path: /_gw/x}\n", "services.users.base_path", "reserved"),
    ("port: 99999\n", "port", "between 1 and 65535"),
    ("prot: 8000\n", "prot", "did you mean `port`"),
    ("services:\n  a: {spec: a.yaml, base_path: /x}\n  b: {spec: b.yaml, base_path: /x}\n", "services.b.base_path",
     "already used by service a"),
])
def test_bad_settings_are_one_line_naming_file_and_key(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}: ")
    assert reason in message


def test_bad_environment_value_names_the_variable_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"services.users.timeout: expected a duration"):
        load_config(write(tmp_path, "services:\n  users: {spec: u.yaml}\n"), env={"GW_SERVICES__USERS__TIMEOUT": "x"})


def test_broken_yaml_names_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gateway.yaml: line 3, column 1: not valid YAML"):
        load_config(write(tmp_path, "services:\n  users: {spec: [\n"), env={})


def test_bare_spec_is_served_at_root_in_stub_mode() -> None:
    config = config_for_specs([ROOT / "specs" / "users.yaml"], env={})
    service = config.services["users"]
    assert (service.base_path, service.mode) == ("/", "stub")


def test_several_bare_specs_get_a_base_path_each() -> None:
    config = config_for_specs([ROOT / "specs" / "users.yaml", ROOT / "specs" / "orders.yaml"], env={})
    assert [s.base_path for s in config.services.values()] == ["/users", "/orders"]


def test_cli_flags_win_over_file_and_environment() -> None:
    config = load_config(ROOT / "gateway.yaml", env={"GW_SERVICES__USERS__TIMEOUT": "9"})
    config = apply_overrides(config, mode="live", upstream=["http://127.0.0.1:7000/"], timeout=1.5, retries=0)
    users = config.services["users"]
    assert (users.mode, users.upstream, users.timeout, users.retries) == ("live", ["http://127.0.0.1:7000"], 1.5, 0)
