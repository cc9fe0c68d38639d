"""What the live hop works out once per service (forwarder/proxy.py's ServiceHop) and the path check's quick
way for plain paths: the same targets, refusals, attempts and Authorization handling as worked out per request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from gw.auth.upstream import UpstreamIdentity
from gw.core.exchange import Exchange
from gw.core.problems import Problem
from gw.forwarder.instances import Instance
from gw.forwarder.proxy import ServiceHop, request_target
from gw.forwarder.retry import RetryPolicy
from gw.forwarder.upstreams import UpstreamPool
from gw.settings.config import ServiceConfig
from gw.settings.origin import SettingsOrigin
from gw.settings.policy_settings import JwtSettings


def exchange(raw_path: bytes, query: bytes = b"") -> Exchange:
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": raw_path.decode("latin-1"), "raw_path": raw_path,
                             "query_string": query, "headers": []}
    return Exchange(scope, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "query", "prefix", "target"), [
    (b"/users/1", b"", "", "/users/1"),
    (b"/users/1", b"a=1&b=%20", "", "/users/1?a=1&b=%20"),
    (b"/api/users/1", b"", "/api", "/users/1"),
    (b"/api", b"", "/api", "/"),
    (b"/users/a%2Fb", b"", "", "/users/a%2Fb"),  # as the client encoded it
    (b"/files/report.v2.json", b"", "", "/files/report.v2.json"),  # dots inside a segment pass
    (b"/files/.hidden", b"", "", "/files/.hidden"),
])
def test_a_target_is_the_path_below_the_prefix_as_sent(raw: bytes, query: bytes, prefix: str, target: str) -> None:
    assert request_target(exchange(raw, query), prefix) == target


@pytest.mark.parametrize("raw", [b"/users/../admin", b"/users/./1", b"/users/%2e%2e/admin", b"/users/%2E/1",
                                 b"/users/a%5cb", b"/users/a\\b", b"/users/a%00b", b"/.."])
def test_unsafe_paths_are_refused_whether_encoded_or_not(raw: bytes) -> None:
    with pytest.raises(Problem) as refused:
        request_target(exchange(raw), "")
    assert refused.value.status == 400


def hop(retries: int = 2, upstream_auth: Any = "forward", identity: bool = True) -> ServiceHop:
    settings = ServiceConfig(name="users", spec="users.yaml", upstream=["http://127.0.0.1:9"], retries=retries,
                             upstream_auth=upstream_auth)
    pool = UpstreamPool("users", [Instance(URL("http://127.0.0.1:9"))])
    who = UpstreamIdentity({"users": settings}, JwtSettings(), SettingsOrigin("<test>", Path("."))) if identity else None
    return ServiceHop(settings, pool, RetryPolicy(settings.retries), who)


def test_attempts_follow_the_retry_policy_and_the_method() -> None:
    assert hop(retries=2).attempts("GET", False) == 3
    assert hop(retries=2).attempts("POST", False) == 1
    assert hop(retries=2).attempts("POST", True) == 3  # an operation marked idempotent
    assert hop(retries=0).attempts("GET", True) == 1


def test_the_upstream_identity_is_consulted_only_where_it_rewrites_authorization() -> None:
    assert hop(upstream_auth="forward").identity is None
    assert hop(identity=False).identity is None
    assert hop(upstream_auth="strip").identity is not None
    assert hop(upstream_auth={"bearer": "token"}).identity is not None


def test_an_instance_is_named_as_configured_or_as_parsed_with_or_without_a_trailing_slash() -> None:
    instance = Instance(URL("http://127.0.0.1:9/base/"))
    assert instance.named("http://127.0.0.1:9/base") and instance.named("http://127.0.0.1:9/base/")
    assert not instance.named("http://127.0.0.1:9/other")
