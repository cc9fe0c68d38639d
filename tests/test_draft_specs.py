"""Draft specs serve: what can be served is, each slip is a located warning, and only what cannot be
served (not YAML, no operations, an alias bomb; an operation whose `$ref` leads nowhere) is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gw.spec.load import SpecError, load_service
from tests.conftest import TEST_SPECS, GatewayThread, eventually, gateway_config

DRAFTS = TEST_SPECS / "draft"


@pytest.fixture(scope="module")
def drafts() -> Iterator[GatewayThread]:
    names = ("no_info", "no_description", "unknown_keys", "unresolved_ref", "sloppy_schemas")
    services = {name.replace("_", "-"): {"spec": str(DRAFTS / f"{name}.yaml"), "base_path": f"/{name}"} for name in names}
    with GatewayThread(gateway_config(services, reload=False)) as gateway:
        yield gateway


def warnings_of(gateway: GatewayThread, service: str) -> list[str]:
    return gateway.app.services[service].warnings


def test_a_spec_without_info_serves_with_a_warning_naming_info(drafts: GatewayThread) -> None:
    with drafts.client() as client:
        response = client.get("/no_info/pets")
    assert response.status_code == 200 and response.json() == [{"name": "Rex"}]
    assert f"{DRAFTS / 'no_info.yaml'}: info: is required but missing" in warnings_of(drafts, "no-info")
    assert drafts.app.services["no-info"].title == "no_info"  # the router and Swagger UI get a harmless default


def test_a_response_without_description_serves_with_a_warning_at_its_place(drafts: GatewayThread) -> None:
    with drafts.client() as client:
        response = client.get("/no_description/pets")
    assert response.status_code == 200 and response.json() == [{"name": "Rex"}]
    assert warnings_of(drafts, "no-description") == [
        f"{DRAFTS / 'no_description.yaml'}: paths./pets.get.responses.200.description: is required but missing"]


def test_an_unknown_key_serves_with_a_warning_naming_the_key(drafts: GatewayThread) -> None:
    with drafts.client() as client:
        assert client.get("/unknown_keys/pets").status_code == 200
    assert warnings_of(drafts, "unknown-keys") == [
        f"{DRAFTS / 'unknown_keys.yaml'}: paths./pets.get.summry: unknown key (not part of OpenAPI; extensions start with x-)"]


def test_an_operation_whose_ref_leads_nowhere_is_left_out_and_the_others_answer(drafts: GatewayThread) -> None:
    with drafts.client() as client:
        pets = client.get("/unresolved_ref/pets")
        owners = client.get("/unresolved_ref/owners")
        vets = client.get("/unresolved_ref/vets")
    assert pets.status_code == 200 and pets.json() == [{"name": "Rex"}]
    assert owners.status_code == 404 and owners.headers["content-type"] == "application/problem+json"
    assert vets.status_code == 404
    spec = DRAFTS / "unresolved_ref.yaml"
    assert warnings_of(drafts, "unresolved-ref") == [
        f"{spec}: components.schemas.Owners.items: $ref target #/components/schemas/Owner does not exist; "
        "GET /owners is left out",
        f"{spec}: paths./vets.get.responses.200.content.application/json.schema: $ref to vets.yaml: no such file; "
        "GET /vets is left out",
    ]
    assert set(drafts.app.services["unresolved-ref"].operations) == {"listPets"}


def test_schema_slips_are_warned_at_their_place_and_served(drafts: GatewayThread) -> None:
    with drafts.client() as client:
        listed = client.get("/sloppy_schemas/pets", params={"kind": "cat"})
        one = client.get("/sloppy_schemas/pets/1")
    assert listed.status_code == 200
    assert one.status_code == 200 and one.json() == {"id": 1}  # its operationId repeats the first one's
    spec = DRAFTS / "sloppy_schemas.yaml"
    warnings = warnings_of(drafts, "sloppy-schemas")
    assert f"{spec}: paths./pets.get.parameters[1].schema.pattern: '^\\\\p{{L}}+$' is not a regular expression Python " \
           "can compile (bad escape \\p at position 1)" in warnings
    duplicate = f"{spec}: paths./pets.get.parameters[0].schema.enum: ['cat', 'dog', 'cat'] has non-unique elements"
    assert eventually(lambda: duplicate in warnings)  # the deep check runs in the background at start
    assert f"{spec}: paths./pets/{{id}}.get.operationId: 'listPets' is used twice; this one is GET /pets/{{id}}" in warnings


def refusal(spec: Path) -> str:
    with pytest.raises(SpecError) as caught:
        load_service("refused", spec, "/")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(spec))
    return message


def test_a_spec_with_no_operations_at_all_is_refused_in_one_line() -> None:
    assert refusal(DRAFTS / "no_operations.yaml") == (
        f"{DRAFTS / 'no_operations.yaml'}: paths: no operations to serve: the document describes no path with a method")


def test_a_spec_whose_every_operation_needs_a_missing_ref_is_refused_naming_the_ref(tmp_path: Path) -> None:
    spec = tmp_path / "all_broken.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n"
                    "        '200': {$ref: '#/components/responses/Gone'}\n")
    assert refusal(spec) == (f"{spec}: paths: no operation can be served (paths./x.get.responses.200: "
                             "$ref target #/components/responses/Gone does not exist; GET /x is left out)")


def billion_laughs(levels: int = 9) -> str:
    lines = ["openapi: 3.0.3", "info: {title: lol, version: '1'}", "x-lol:", "  a: &a [" + ", ".join(["lol"] * 9) + "]"]
    previous = "a"
    for name in "bcdefghijk"[: levels - 1]:
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    lines.append("paths: {/x: {get: {responses: {'200': {description: ok}}}}}")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_at_once_in_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "lol.yaml"
    spec.write_text(billion_laughs())  # 9^9 strings once expanded
    started = time.monotonic()
    message = refusal(spec)
    assert time.monotonic() - started < 2
    assert message == f"{spec}: refused: its aliases expand it to more than 5,000,000 nodes (a YAML alias bomb?)"


def test_a_recursive_yaml_alias_is_refused_in_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "loop.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\nx-loop: &loop [*loop]\n"
                    "paths: {/x: {get: {responses: {'200': {description: ok}}}}}\n")
    assert refusal(spec) == f"{spec}: refused: an alias refers to a node that contains it (a recursive YAML alias)"


def test_modest_yaml_anchors_still_load(tmp_path: Path) -> None:
    spec = tmp_path / "anchors.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses: &ok\n"
                    "        '200': {description: ok, content: {application/json: {example: {a: 1}}}}\n"
                    "  /b:\n    get:\n      responses: *ok\n")
    service = load_service("anchors", spec, "/")
    assert set(service.operations) == {"GET /a", "GET /b"} and service.warnings == []


def test_values_of_the_wrong_shape_are_warned_and_served_as_if_not_written(tmp_path: Path) -> None:
    spec = DRAFTS / "wrong_shapes.yaml"
    config = gateway_config({"pets": {"spec": str(spec), "base_path": "/"}}, reload=False)
    with GatewayThread(config) as gateway, gateway.client() as client:
        listed = client.get("/pets", params={"limit": "0", "kind": "cat"})
        owners = client.get("/owners")
        service = gateway.app.services["pets"]
    assert listed.status_code == 200 and listed.json() == [{"name": "Rex"}]
    assert owners.status_code == 404
    assert set(service.operations) == {"listPets"}
    lines = "\n".join(service.warnings)
    for place in ("tags", "paths./pets.get.parameters[0].required", "paths./pets.get.parameters[0].schema.minimum",
                  "paths./pets.get.parameters[1].in", "paths./pets.get.responses.200.headers",
                  "paths./pets.get.responses.200.content.application/json.schema.items.properties.name.type",
                  "paths./pets.get.responses.200.content.text/plain", "paths./owners", "paths./vets.get"):
        assert f"{spec}: {place}: " in lines, place


def test_operations_behind_a_path_item_ref_count_as_operations(tmp_path: Path) -> None:
    spec = tmp_path / "path_item_ref.yaml"
    spec.write_text("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /x: {$ref: '#/components/pathItems/X'}\n"
                    "components:\n  pathItems:\n    X:\n      get:\n        responses: {'200': {description: ok}}\n")
    service = load_service("refs", spec, "/")
    assert list(service.operations) == ["GET /x"] and service.warnings == []


def test_one_malformed_slip_per_operation_is_served_as_if_not_written() -> None:
    spec = DRAFTS / "malformed_operations.yaml"
    config = gateway_config({"slips": {"spec": str(spec), "base_path": "/"}}, reload=False)
    with GatewayThread(config) as gateway, gateway.client() as client:
        paths = list(yaml.safe_load(spec.read_text())["paths"].items())
        answers = {path: client.request(next(iter(item)).upper(), path, params={"q": "2"}, json={"name": "n"})
                   for path, item in paths}
        warned = "\n".join(gateway.app.services["slips"].warnings)
    assert answers["/good"].json() == {"ok": True}
    assert {path: a.status_code for path, a in answers.items() if a.status_code != 200} == {}  # never a 500
    assert all(f"paths.{path}." in warned or f"paths.{path}:" in warned for path, _item in paths if path != "/good")


def test_a_broken_ref_no_operation_reaches_is_still_warned(tmp_path: Path) -> None:
    spec = tmp_path / "unused.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x: {$ref: '#/nope'}\n"
                    "  /y:\n    get:\n      responses: {'200': {description: ok}}\n"
                    "components:\n  securitySchemes:\n    key: {$ref: '#/components/securitySchemes/gone'}\n")
    service = load_service("unused", spec, "/")
    assert list(service.operations) == ["GET /y"]
    assert service.warnings == [
        f"{spec}: components.securitySchemes.key: $ref target #/components/securitySchemes/gone does not exist",
        f"{spec}: paths./x: $ref target #/nope does not exist"]


def test_a_value_that_picks_no_alternative_lists_every_allowed_one(tmp_path: Path) -> None:
    spec = tmp_path / "scheme.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n"
                    "      responses: {'200': {description: ok}}\ncomponents:\n  securitySchemes:\n    key: {type: apikey}\n")
    assert load_service("scheme", spec, "/").warnings == [
        f"{spec}: components.securitySchemes.key.type: 'apikey' is not one of ['apiKey', 'http', 'oauth2', 'openIdConnect']"]


def test_a_setting_for_a_left_out_operation_does_not_refuse_the_service() -> None:
    services = {"pets": {"spec": str(DRAFTS / "unresolved_ref.yaml"), "base_path": "/",
                         "operations": {"listOwners": {"mode": "live"}}}}
    with GatewayThread(gateway_config(services, reload=False)) as gateway, gateway.client() as client:
        assert client.get("/pets").status_code == 200
        assert gateway.app.services["pets"].left_out == {"listOwners", "listVets"}


def test_a_path_without_its_leading_slash_is_served_with_it(tmp_path: Path) -> None:
    spec = tmp_path / "no_slash.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  pets:\n    get:\n"
                    "      responses: {'200': {description: ok, content: {application/json: {example: [1]}}}}\n")
    config = gateway_config({"pets": {"spec": str(spec), "base_path": "/"}}, reload=False)
    with GatewayThread(config) as gateway, gateway.client() as client:
        assert client.get("/pets").json() == [1]
        assert gateway.app.services["pets"].warnings == [f"{spec}: paths.pets: a path must start with / (served as /pets)"]
