"""The routes every server in bench/run.py is loaded with, and the check each must pass first.

A server answering 404 quickly is not fast, it is wrong. So before any load each route is
requested once and its status, media type and body shape checked, for gw and its peers alike
(and, for gw, the `x-gw-source` that says which code path answered). The body shapes come from
specs/users.yaml itself: the required properties of `User` and `UserPage`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
SPEC = "specs/users.yaml"

REGISTER_BODY = {"username": "alice_1", "email": "alice@example.com", "password": "s3cretpass"}
INVALID_REGISTER_BODY = {"username": "A"}  # bad pattern, missing email and password


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load((REPO / SPEC).read_text(encoding="utf-8"))


def schema(name: str) -> dict[str, Any]:
    return spec()["components"]["schemas"][name]


def example_user() -> dict[str, Any]:
    """The example GET /users/{user_id} answers first (alice): the stub body and the live upstream's answer."""
    examples = spec()["paths"]["/users/{user_id}"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    return next(iter(examples.values()))["value"]


def registered_user() -> dict[str, Any]:
    return spec()["paths"]["/register"]["post"]["responses"]["201"]["content"]["application/json"]["example"]


# ---------------------------------------------------------------------------------------------
# Body shapes


def user_shape(body: Any) -> str:
    """'' when `body` is a User object (every required property present), else what is wrong."""
    if not isinstance(body, dict):
        return f"expected a User object, got {type(body).__name__}"
    missing = [key for key in schema("User")["required"] if key not in body]
    return f"User without {', '.join(missing)}" if missing else ""


def the_example_user(body: Any) -> str:
    wrong = user_shape(body)
    if wrong:
        return wrong
    expected = example_user()["id"]
    return "" if body.get("id") == expected else f"expected the example user (id {expected}), got id {body.get('id')!r}"


def page_shape(body: Any) -> str:
    """'' when `body` is a UserPage: its required properties, and `items` a list of Users."""
    if not isinstance(body, dict):
        return f"expected a UserPage object, got {type(body).__name__}"
    missing = [key for key in schema("UserPage")["required"] if key not in body]
    if missing:
        return f"UserPage without {', '.join(missing)}"
    if not isinstance(body["items"], list):
        return "UserPage items is not a list"
    return next((f"items[{n}]: {wrong}" for n, item in enumerate(body["items"]) if (wrong := user_shape(item))), "")


# ---------------------------------------------------------------------------------------------
# Routes


@dataclass(frozen=True)
class Route:
    """One request shape wrk repeats, the answer it must get, and a request the spec forbids.

    `source` is the `x-gw-source` gw must answer with (peers send none). `invalid` is a request to
    the same operation that breaks the spec (for POST: the same path with an invalid body): a
    server answering it 2xx is not validating requests, so its figures leave out that cost.
    """

    scenario: str
    method: str
    path: str
    status: int
    shape: Callable[[Any], str]
    source: str | None = None
    invalid: str | None = None

    def body(self, valid: bool = True) -> bytes | None:
        if self.method != "POST":
            return None
        return json.dumps(REGISTER_BODY if valid else INVALID_REGISTER_BODY).encode()


EXAMPLE = Route("example", "GET", "/users/1", 200, the_example_user, "example", invalid="/users/abc")
# A stub file's answer (stubs/users/getUser-42.yaml): what WireMock's own stub match does, like for like.
STUB_MATCH = Route("stub", "GET", "/users/42", 200, user_shape, "recorded", invalid="/users/abc")
GENERATED = Route("generated", "GET", "/users?limit=5", 200, page_shape, "generated", invalid="/users?limit=abc")
REGISTER = Route("register", "POST", "/register", 201, user_shape, "example", invalid="/register")
STUB_ROUTES = (EXAMPLE, STUB_MATCH, GENERATED, REGISTER)
LIVE = Route("live", "GET", "/users/1", 200, the_example_user, "live", invalid="/users/abc")


# ---------------------------------------------------------------------------------------------
# Checks


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def request(method: str, url: str, body: bytes | None = None, timeout: float = 10) -> Answer:
    """One request; HTTP errors are answers, not exceptions (OSError when nothing answered)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"} if body is not None else {
        "Accept": "application/json"}
    sent = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as response:
            return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


def summary(answer: Answer) -> str:
    media = answer.headers.get("content-type", "-").split(";")[0]
    source = answer.headers.get("x-gw-source")
    return f"{answer.status} {media}" + (f" x-gw-source={source}" if source else "")


def answer_problem(route: Route, answer: Answer) -> str:
    """'' when `answer` is what `route` must get: status, JSON media type, body shape, gw's code path."""
    if answer.status != route.status:
        return f"status {answer.status}, expected {route.status}: {answer.body[:200]!r}"
    media = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        return f"media type {media or 'missing'}, expected application/json"
    try:
        body = json.loads(answer.body)
    except ValueError:
        return f"body is not JSON: {answer.body[:200]!r}"
    wrong = route.shape(body)
    if wrong:
        return f"body: {wrong}"
    source = answer.headers.get("x-gw-source")
    if route.source and source != route.source:
        return f"x-gw-source {source or 'missing'}, expected {route.source} (another code path answered)"
    return ""


def check_route(route: Route, base: str) -> tuple[str, str]:
    """Request the route once: (what was seen, the problem or '')."""
    try:
        answer = request(route.method, base + route.path, route.body())
    except OSError as exc:
        return "no answer", f"{route.method} {route.path}: {exc}"
    problem = answer_problem(route, answer)
    return summary(answer), f"{route.method} {route.path}: {problem}" if problem else ""


def refuses_invalid(route: Route, base: str) -> tuple[bool | None, str]:
    """Does the server itself refuse the route's invalid twin with a 4xx? (None: nothing to check.)

    A 4xx carrying x-gw-source came from the mocker or the upstream (which 404s /users/abc),
    not from gw's validator, so it does not count.
    """
    if route.invalid is None:
        return None, ""
    try:
        answer = request(route.method, base + route.invalid, route.body(valid=False))
    except OSError as exc:
        return None, f"invalid-request check got no answer: {exc}"
    if 400 <= answer.status < 500 and "x-gw-source" not in answer.headers:
        return True, ""
    what = "an invalid body" if route.method == "POST" else f"GET {route.invalid}"
    return False, f"answered {what} with {answer.status}: requests are NOT validated, figures skip validation"


VIOLATION_PROBE = "/users/2"  # bench/upstream_app.py answers it with a User missing its required fields


def validation_proxy_problem(base: str, expect_on: bool) -> str:
    """'' when gw live at `base` checks upstream answers exactly when `expect_on` says it should.

    A row labelled "validation on" measured with the check off (or the reverse) would judge the
    wrong target, so the probe's answer must carry `X-GW-Contract: violation` iff the check is on.
    """
    try:
        answer = request("GET", base + VIOLATION_PROBE)
    except OSError as exc:
        return f"validation-proxy probe GET {VIOLATION_PROBE} got no answer: {exc}"
    marked = answer.headers.get("x-gw-contract") == "violation"
    if marked == expect_on:
        return ""
    state = "on" if expect_on else "off"
    return (f"validation proxy should be {state}, but GET {VIOLATION_PROBE} (an answer breaking the contract) came back "
            f"{answer.status} {'with' if marked else 'without'} X-GW-Contract: violation")
