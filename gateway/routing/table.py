"""The route table: every service's path templates, matched per request.

Each service is a mount at its base path (the longest first); below it, one route per path template (and its
trailing-slash twin) in the router's order, most specific first (specs.route_order). A path parameter is one
segment (`[^/]+`: it never spans a slash), so a template only matches paths with its own count of slashes: the
routes are bucketed by that count, and within a bucket indexed by their first segment (literal text, or a
parameter that takes any), so a request tries only the routes that could match it, in the router's order (a spec
of 1,000 operations tries a handful of patterns, not 1,000). A route's pattern is compiled when a request first
tries it: Kubernetes' 856 routes cost 0.12 s of start-up compiled up front.

The answer: the first route whose pattern and method match; else the first whose pattern matches (405, with its
`Allow`); else no operation (404). HEAD is answered by GET.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import partial
from typing import Any, NamedTuple

from ..spec.load import path_template
from ..validation.serialization import route_key

_PARAMETER = re.compile(r"{([^{}]+)}")


class Routed(NamedTuple):
    """Where a path led: its operation id (None: no route of the mount), path parameters, the mount's prefix.
    A tuple: every routed request makes one (a frozen dataclass cost ~2 µs of a stub answer's ~250 to build)."""

    operation_id: str | None
    path_params: dict[str, Any]
    base_path: str


_routed = partial(tuple.__new__, Routed)  # Routed(...) as NamedTuple's own __new__ makes it, without its Python frame


class MethodNotAllowed(Exception):
    """The path matches a route that does not take this method; `allow` is the Allow header's text."""

    def __init__(self, allow: str) -> None:
        super().__init__(allow)
        self.allow = allow


class _Route:
    """One path template's route; its pattern is compiled on the first request that tries it (a spec of 1,000
    operations starts without compiling 2,000 patterns, most of which a session never tries)."""

    __slots__ = ("allow", "first", "names", "operations", "pattern", "template")

    def __init__(self, template: str, operations: dict[str, str]) -> None:
        self.template = template
        by_method = dict(operations)
        if "GET" in by_method:
            by_method.setdefault("HEAD", by_method["GET"])
        self.operations = by_method  # METHOD -> operation id; HEAD where the route has GET
        self.allow = ", ".join(by_method)
        self.names = tuple(route_key(name) for name in _PARAMETER.findall(template))  # the parameters' route keys
        first = template.split("/", 2)[1] if template.count("/") >= 1 else ""
        self.first = None if "{" in first else first  # the first segment when it is literal text
        self.pattern: re.Pattern[str] | None = None  # compiled by `compiled`, on first use

    def compiled(self) -> re.Pattern[str]:
        self.pattern = compile_template(self.template)[0]
        return self.pattern


def compile_template(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A path template (`/users/{user-id}`) as the pattern a path must `fullmatch` (spec/load.path_template: one
    group per parameter, one segment each), and the parameters' route keys (`user_id`)."""
    return path_template(template), tuple(route_key(name) for name in _PARAMETER.findall(template))


class _Bucket:
    """The routes of one slash count, in the router's order, indexed by their first segment: a path tries the
    routes whose first segment is its own literal text or a parameter, in that same order."""

    def __init__(self) -> None:
        self.all: list[_Route] = []
        self.by_first: dict[str, list[_Route]] = {}
        self.generic: list[_Route] = []  # routes whose first segment holds a parameter

    def add(self, entry: _Route) -> None:
        self.all.append(entry)
        if entry.first is None:
            self.generic.append(entry)
            for routes in self.by_first.values():
                routes.append(entry)
        else:
            self.by_first.setdefault(entry.first, list(self.generic)).append(entry)


class _Mount:
    """One service's routes, bucketed by slash count, each bucket in the router's order."""

    def __init__(self, routes: Iterable[tuple[str, dict[str, str]]]) -> None:
        self.buckets: dict[int, _Bucket] = {}
        for template, operations in routes:
            self.buckets.setdefault(template.count("/"), _Bucket()).add(_Route(template, operations))


class RouteTable:
    """Every service's mount (longest prefix first) and its routes."""

    def __init__(self, mounts: Iterable[tuple[str, Iterable[tuple[str, dict[str, str]]]]]) -> None:
        """`mounts`: (prefix, routes) per service, the prefix "" for the root (config.mount_prefix), the routes
        (template, {METHOD: operation id}) in the order they are tried."""
        compiled = [(prefix, _Mount(routes)) for prefix, routes in mounts]
        compiled.sort(key=lambda pair: -len(pair[0]))
        self.mounts = [(prefix + "/", prefix, mount) for prefix, mount in compiled]  # a mount holds what starts `prefix/`

    def find(self, path: str, method: str) -> Routed | None:
        """The operation for this routing path (see paths.py) and method; None when no service's mount holds the
        path. Raises MethodNotAllowed. One function for the mount and its routes: every request walks it."""
        for start, base_path, mount in self.mounts:
            if not path.startswith(start):
                continue
            below = path[len(base_path):]
            bucket = mount.buckets.get(below.count("/"))
            if bucket is None:
                return _routed((None, {}, base_path))
            partial: _Route | None = None
            for entry in bucket.by_first.get(below.split("/", 2)[1], bucket.generic):
                match = (entry.pattern or entry.compiled()).fullmatch(below)
                if match is None:
                    continue
                operation = entry.operations.get(method)
                if operation is not None:
                    params = dict(zip(entry.names, match.groups(), strict=True)) if entry.names else {}
                    return _routed((operation, params, base_path))
                partial = partial or entry
            if partial is not None:
                raise MethodNotAllowed(partial.allow)
            return _routed((None, {}, base_path))
        return None


def route_path(scope: dict[str, Any], path: str) -> str:
    """The path below the ASGI root path, as an ASGI router reads it."""
    root_path = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    return path[len(root_path):] if path[len(root_path)] == "/" else path
