"""Which operation a request reaches, whatever shape its path takes: trailing and double slashes,
encoded slashes and colons, templates mixed with literals, most specific path first, HEAD and OPTIONS.
No shape of path is ever a 500, and no path is redirected."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gw.spec.load import Service, find_operation, load_service, path_specificity
from tests.conftest import TEST_SPECS, GatewayThread, gateway_config


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayThread]:
    config = gateway_config({
        "edges": {"spec": str(TEST_SPECS / "routing_edges.yaml"), "base_path": "/"},
        "mounted": {"spec": str(TEST_SPECS / "routing_mounted.yaml"), "base_path": "/api"},
    })
    with GatewayThread(config) as served:
        yield served


@pytest.fixture(scope="module")
def stubbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    stubs = tmp_path_factory.mktemp("stubs")
    (stubs / "edges").mkdir()
    (stubs / "edges" / "user.yaml").write_text(STUB)
    config = gateway_config({"edges": {"spec": str(TEST_SPECS / "routing_edges.yaml"), "base_path": "/"}},
                            stubs=str(stubs))
    with GatewayThread(config) as served:
        yield served


STUB = """
request: {method: GET, path: /users/7}
response: {status: 200, headers: {Content-Type: application/json, X-Stub: "yes"}, body: {op: stubbedUser}}
"""


@pytest.fixture
def client(gateway: GatewayThread) -> Iterator[httpx.Client]:
    with gateway.client() as http:
        yield http


def _op(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["op"]


def _raw_get(client: httpx.Client, raw_path: str, method: str = "GET") -> httpx.Response:
    """A request whose path goes out byte for byte (httpx would otherwise normalise `//` or `%2F`)."""
    request = client.build_request(method, "/")
    request.url = request.url.copy_with(raw_path=raw_path.encode())
    return client.send(request)


# -- trailing slashes --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "op"), [
    ("/users/1/", "getUser"), ("/users/me/", "getMe"), ("/report.csv/", "report"), ("/a/b/c/", "literalPrefix"),
    ("/api/things/", "things"),
])
def test_a_trailing_slash_reaches_the_operation_of_the_path_without_it(client: httpx.Client, path: str,
                                                                       op: str) -> None:
    response = client.get(path)
    assert _op(response) == op
    assert "location" not in response.headers


def test_a_path_declared_with_its_slash_is_routed_with_or_without_it(client: httpx.Client) -> None:
    assert _op(client.get("/slashed/")) == "slashed"
    assert _op(client.get("/slashed")) == "slashed"


def test_when_the_spec_declares_both_each_gets_its_own_operation(client: httpx.Client) -> None:
    assert _op(client.get("/both")) == "bothBare"
    assert _op(client.get("/both/")) == "bothSlashed"


def test_a_mount_prefix_without_its_slash_reaches_the_services_root(client: httpx.Client) -> None:
    assert _op(client.get("/api")) == "root"
    assert _op(client.get("/api/")) == "root"


def test_a_trailing_slash_keeps_the_methods_answers(client: httpx.Client) -> None:
    assert client.delete("/users/1/").status_code == 204
    refused = client.put("/users/1/")
    assert refused.status_code == 405
    assert set(refused.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "DELETE"}


def test_an_unknown_path_with_a_slash_is_a_404_problem_not_a_redirect(client: httpx.Client) -> None:
    response = client.get("/nowhere/")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_trailing_slash_on_every_sample_route_gives_the_same_answer(sample_client: httpx.Client) -> None:
    for path in ("/users/users", "/users/users/1", "/users/me", "/orders/orders", "/orders/orders/1", "/cameras/cameras",
                 "/cameras/cameras/1", "/cameras/cameras/1/events", "/cameras/alerts/count", "/cameras/health"):
        bare, slashed = sample_client.get(path), sample_client.get(path + "/")
        assert slashed.status_code != 500
        assert (slashed.status_code, slashed.headers["content-type"]) == (bare.status_code, bare.headers["content-type"])
        assert slashed.content == bare.content or bare.status_code >= 400, path


# -- double slashes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "op"), [("//users//1", "getUser"), ("/users//me", "getMe"),
                                         ("/a//b///c", "literalPrefix"), ("//api//things", "things")])
def test_double_slashes_collapse(client: httpx.Client, raw: str, op: str) -> None:
    assert _op(_raw_get(client, raw)) == op


# -- encoded slashes, colons, percent signs ----------------------------------------------------------------

@pytest.mark.parametrize("raw", ["/files/a%2Fb", "/files/a%2fb", "/files/x%3Ay", "/files/x:y", "/files/50%25"])
def test_an_encoded_path_parameter_reaches_its_operation_decoded(client: httpx.Client, raw: str) -> None:
    assert _op(_raw_get(client, raw)) == "getFile"  # the enum (a/b, x:y, 50%) is checked on the decoded value


def test_a_decoded_slash_is_a_separator(client: httpx.Client) -> None:
    assert _raw_get(client, "/files/a/b").status_code == 404


def test_a_parameter_that_is_not_the_decoded_value_is_refused_with_its_name(client: httpx.Client) -> None:
    response = _raw_get(client, "/files/a%252Fb")  # a percent sign, then 2F: the value is `a%2Fb`, not `a/b`
    assert response.status_code == 400
    assert response.json()["errors"][0]["name"] == "name"


def test_a_colon_verb_beats_the_bare_template_beside_it(client: httpx.Client) -> None:
    assert _op(client.post("/v1/models/gemini-pro:generate")) == "generate"
    assert _op(_raw_get(client, "/v1/models/gemini-pro%3Agenerate", "POST")) == "generate"
    assert _op(client.get("/v1/models/gemini-pro")) == "getModel"
    assert _op(client.post("/v1/models/gemini-pro")) == "updateModel"


# -- templates mixed with literals in one segment -----------------------------------------------------------

def test_template_with_a_literal_suffix(client: httpx.Client) -> None:
    assert _op(client.get("/report.csv")) == "report"
    assert client.get("/report.pdf").status_code == 400  # routed, and the parameter is refused by its enum
    assert client.get("/reports").status_code == 404


def test_two_templates_in_one_segment(client: httpx.Client) -> None:
    assert _op(client.get("/pairs/red-blue")) == "pair"
    assert client.get("/pairs/redblue").status_code == 404


def test_a_suffixed_template_beats_the_bare_one(client: httpx.Client) -> None:
    assert _op(client.get("/items/7.json")) == "getItemJson"
    assert _op(client.get("/items/7")) == "getItem"


# -- most specific path first ---------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "op"), [
    ("/users/me", "getMe"), ("/users/42", "getUser"),           # a literal beats a template
    ("/a/b/c", "literalPrefix"), ("/a/b/z", "literalPrefix"),   # a longer literal prefix beats a shorter one
    ("/a/z/c", "paramThenLiteral"), ("/a/z/q", "twoParams"),    # /a/{x}/c beats /a/{x}/{y}
])
def test_the_most_specific_path_wins(client: httpx.Client, path: str, op: str) -> None:
    assert _op(client.get(path)) == op


def test_specificity_orders_spec_paths_the_same_for_every_user_of_it() -> None:
    paths = ["/a/{x}/{y}", "/v1/models/{model}", "/a/{x}/c", "/a/b/{y}", "/v1/models/{model}:generate",
             "/items/{id}", "/items/{id}.json", "/users/{id}", "/users/me"]
    ordered = sorted(paths, key=path_specificity)
    assert ordered.index("/a/b/{y}") < ordered.index("/a/{x}/c") < ordered.index("/a/{x}/{y}")
    assert ordered.index("/v1/models/{model}:generate") < ordered.index("/v1/models/{model}")
    assert ordered.index("/items/{id}.json") < ordered.index("/items/{id}")
    assert ordered.index("/users/me") < ordered.index("/users/{id}")


# -- HEAD and OPTIONS -------------------------------------------------------------------------------------

def test_head_answers_every_get_with_its_headers_and_no_body(client: httpx.Client) -> None:
    for path in ("/users/1", "/users/1/", "/report.csv", "/api"):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-length"] == got.headers["content-length"]
    assert client.head("/users/1").headers["x-kind"] == "user"


def test_head_and_a_trailing_slash_get_the_stub_that_answers_the_get(stubbed: GatewayThread) -> None:
    with stubbed.client() as http:
        got = http.get("/users/7")
        assert got.json() == {"op": "stubbedUser"}
        assert _op(http.get("/users/7/")) == "stubbedUser"
        assert _op(_raw_get(http, "//users//7")) == "stubbedUser"
        head = http.head("/users/7")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["x-stub"] == "yes"
        assert head.headers["content-length"] == got.headers["content-length"]


def test_options_on_a_path_that_documents_it_is_that_operation(client: httpx.Client) -> None:
    assert _op(client.options("/options")) == "describeOptions"


def test_options_on_a_path_that_does_not_document_it_is_405_with_allow(client: httpx.Client) -> None:
    response = client.options("/users/1")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "DELETE"}
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 405


def test_routing_problems_say_the_status_they_are_sent_with(client: httpx.Client) -> None:
    for response in (client.get("/nowhere"), client.post("/users/1"), client.options("/users/me/"),
                     _raw_get(client, "//nowhere//"), _raw_get(client, "/files/%2F%2F")):
        assert response.status_code in (400, 404, 405)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == response.status_code


# -- one rule for the router and for HAR import, stub verify and prune (find_operation) -----------------------

@pytest.fixture(scope="module")
def edges() -> Service:
    return load_service("edges", TEST_SPECS / "routing_edges.yaml", "/")


@pytest.mark.parametrize(("method", "path", "op"), [
    ("GET", "/users/me", "getMe"), ("GET", "/users/me/", "getMe"), ("GET", "/users/42/", "getUser"),
    ("GET", "//users//42", "getUser"), ("POST", "/v1/models/gemini-pro:generate", "generate"),
    ("POST", "/v1/models/gemini-pro", "updateModel"), ("GET", "/items/7.json", "getItemJson"),
    ("GET", "/a/b/c", "literalPrefix"), ("GET", "/a/z/c", "paramThenLiteral"), ("GET", "/slashed", "slashed"),
    ("GET", "/both", "bothBare"), ("GET", "/both/", "bothSlashed"), ("GET", "/pairs/red-blue", "pair"),
])
def test_find_operation_picks_what_the_router_picks(client: httpx.Client, edges: Service, method: str, path: str,
                                                   op: str) -> None:
    found = find_operation({"edges": edges}, method, path)
    assert found is not None and found[1].key == op
    assert _op(_raw_get(client, path, method)) == op
