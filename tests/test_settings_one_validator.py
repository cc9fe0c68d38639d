"""One validator of each kind serves every setting of that kind (settings/types.py, settings/errors.type_at):
the same values accepted, the same one-line refusals, wherever the setting sits."""

from __future__ import annotations

import pytest

from gw.settings.config import ConfigError, GatewayConfig, build_config
from gw.settings.errors import block_at
from gw.settings.policy_settings import AuthUser, CircuitBreakerSettings
from gw.settings.sources import environment_settings, is_list


def refusal(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        build_config(data, "gateway.yaml")
    return str(caught.value)


def service(**settings: object) -> dict:
    return {"services": {"users": {"spec": "users.yaml", **settings}}}


def test_a_mode_is_checked_alike_for_a_service_and_for_one_operation() -> None:
    reason = "must be one of stub, live, record, fallback, spy, got 'lve'"
    assert refusal(service(mode="lve")) == f"gateway.yaml: services.users.mode: {reason}"
    assert refusal(service(operations={"getUser": {"mode": "lve"}})) == \
        f"gateway.yaml: services.users.operations.getUser.mode: {reason}"
    config = build_config(service(operations={"getUser": {"mode": "live"}, "listUsers": {"mode": None}}), "t")
    assert config.services["users"].mode_for("getUser") == "live"
    assert config.services["users"].mode_for("listUsers") == "stub"  # null: follows the service


def test_chaos_reads_the_same_for_a_service_and_an_operation_and_null_follows_the_service() -> None:
    block = {"delay": "300ms", "fault": "connection_reset", "rate": 0.5}
    config = build_config(service(chaos=block, operations={"getUser": {"chaos": block}, "listUsers": {"chaos": None}}), "t")
    users = config.services["users"]
    assert users.chaos == users.operations["getUser"].chaos
    assert users.operations["listUsers"].chaos is None
    again = config.with_flags(workers=2)  # settings built again from settings: the read blocks are taken as they are
    assert again.services["users"].chaos == users.chaos
    assert "services.users.chaos: expected a mapping" in refusal(service(chaos=None))
    assert "services.users.operations.getUser.chaos.speed: unknown setting" in \
        refusal(service(operations={"getUser": {"chaos": {"speed": 1}}}))


def test_lists_of_strings_one_reader_three_ways_with_a_single_string() -> None:
    config = build_config({"cors": {"origins": "http://a"}, "redact": {"headers": "x-a, x-b"},
                           "auth": {"api_keys": {"apiKey": ["k1"]}}}, "t")
    assert config.cors.origins == ["http://a"]  # one string: a list of it
    assert config.redact.headers == ["x-a", "x-b"]  # the redact lists read commas
    assert config.auth.api_keys == {"apiKey": ["k1"]}
    assert refusal({"auth": {"api_keys": {"apiKey": "k1"}}}) == "gateway.yaml: auth.api_keys.apiKey: expected a list of keys"
    assert refusal({"redact": {"query": 5}}) == "gateway.yaml: redact.query: expected a list of strings"
    assert refusal({"cors": {"origins": [1]}}) == "gateway.yaml: cors.origins: expected a list of strings"


def test_the_place_walk_answers_both_the_environment_and_the_error_reader() -> None:
    assert is_list(GatewayConfig, ["cors", "origins"]) and is_list(GatewayConfig, ["services", "users", "idempotent"])
    assert not is_list(GatewayConfig, ["port"]) and not is_list(GatewayConfig, ["no", "such"])
    assert not is_list(GatewayConfig, ["auth", "users", "roles"])  # the environment does not step into list items
    assert block_at(GatewayConfig, ["services", "users", "circuit_breaker"]) is CircuitBreakerSettings
    assert block_at(GatewayConfig, ["auth", "users", 0]) is AuthUser  # errors do
    assert block_at(GatewayConfig, ["port"]) is None
    assert environment_settings({"GW_CORS__ORIGINS": "http://a,http://b", "GW_PORT": "9000"}, GatewayConfig) == \
        {"cors": {"origins": ["http://a", "http://b"]}, "port": 9000}
    assert "did you mean `origins`" in refusal({"cors": {"origin": ["http://a"]}})
