"""Components are handed the part of the settings they read (#17 item 2), not the whole GatewayConfig: what each
gets is in its signature, and where a file the settings point at is read from is the origin it is given."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gw.auth.setup import Auth
from gw.auth.upstream import UpstreamIdentity
from gw.contract.step import ResponseContract
from gw.operator.endpoints.health_detailed import DetailedHealth
from gw.policies.rate_limit import RateLimit, RateLimitLevels, any_rate_limit, limit_for
from gw.runtime.reload import Reloader
from gw.runtime.shared_state import SharedState
from gw.settings.config import ConfigError
from gw.settings.origin import SettingsOrigin
from gw.simulation.simulator import Simulation
from tests.conftest import TEST_SPECS, gateway_config

SECURED = str(TEST_SPECS / "secured.yaml")
SLICED = [Auth.build, UpstreamIdentity, RateLimit, any_rate_limit, limit_for, ResponseContract, Simulation.build,
          DetailedHealth, Reloader]


@pytest.mark.parametrize("component", SLICED, ids=lambda c: c.__qualname__)
def test_a_component_is_handed_its_slice_of_the_settings_not_the_whole(component: object) -> None:
    annotations = [str(p.annotation) for p in inspect.signature(component).parameters.values()]  # type: ignore[arg-type]
    assert not [a for a in annotations if "GatewayConfig" in a]


def _signing_key_file(folder: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (folder / "keys").mkdir()
    (folder / "keys" / "signing.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def test_key_files_are_read_from_the_origins_folder_and_errors_name_its_source(tmp_path: Path) -> None:
    _signing_key_file(tmp_path)
    config = gateway_config({"secured": {"spec": SECURED, "upstream_auth": "mint"}},
                            auth={"jwt": {"private_key": "keys/signing.pem"}})
    found = SettingsOrigin("gw.yaml", tmp_path)
    assert Auth.build(config.auth, config.services, found, SharedState()).issuer is not None
    assert UpstreamIdentity(config.services, config.auth.jwt, found).issuer is not None
    elsewhere = SettingsOrigin("gw.yaml", tmp_path / "elsewhere")
    with pytest.raises(ConfigError) as error:
        Auth.build(config.auth, config.services, elsewhere, SharedState())
    assert str(error.value).startswith("gw.yaml: auth.jwt.private_key: ")
    with pytest.raises(ConfigError) as error:
        UpstreamIdentity(config.services, config.auth.jwt, elsewhere)
    assert str(error.value).startswith("gw.yaml: auth.jwt.private_key: ")


def test_rate_limit_levels_answer_as_the_settings_do() -> None:
    config = gateway_config({"users": {"spec": str(TEST_SPECS / "secured.yaml"), "rate_limit": {"limit": 3}}},
                            rate_limit={"limit": 9})
    levels = RateLimitLevels.of(config)
    assert any_rate_limit(levels)
    limit = limit_for(levels, "users", "anything")
    assert limit is not None and limit.scope == "service:users"
    assert limit.settings == config.rate_limit_for("users", "anything")
    assert not any_rate_limit(RateLimitLevels.of(gateway_config({"users": {"spec": SECURED}})))
