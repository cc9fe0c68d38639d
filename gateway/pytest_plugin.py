"""pytest plugin (installed with gw): recorded stubs as `responses` mocks, for offline tests of
code that calls a service with `requests`.

    def test_profile_page(gw_stubs):
        gw_stubs("users", base_url="https://users.internal")   # every stub in stubs/users/
        assert fetch_profile(1)["username"] == "alice"          # your code, calling requests

Each stub becomes one `responses` registration with the stub's matcher (method, path, query,
headers, JSON body fields) and its response; the most specific stub is registered first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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
            import json

            try:
                document = json.loads(request.body or b"null")
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

