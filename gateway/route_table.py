"""Routing at request time: the routes connexion's router was built with, matched without walking its stack.

connexion builds a Starlette router (one mount per service, one route per path template, most specific
first: routing.py). Walking it per request cost a middleware, a context variable, two routers, a mount and
a `matches` call per route tried (a spec of 1,000 operations tried up to 1,000 patterns). This table holds
the same compiled patterns in the same order, bucketed by how many slashes a path has (a path parameter is
one segment, so a template only matches paths with its own count), and answers as Starlette would: the
first route whose pattern and method match; else the first whose pattern matches (405, with its `Allow`);
else no operation (404).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.routing import Mount, Route

SEGMENT = "[^/]+"  # Starlette's `str` convertor: a parameter never spans a slash


@dataclass(frozen=True)
class Routed:
    """Where a path led: its operation id (None: no route of the mount), path parameters, the mount's prefix."""

    operation_id: str | None
    path_params: dict[str, Any]
    base_path: str


class MethodNotAllowed(Exception):
    """The path matches a route that does not take this method; `allow` is Starlette's Allow header text."""

    def __init__(self, allow: str) -> None:
        super().__init__(allow)
        self.allow = allow


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    methods: frozenset[str] | None
    convertors: dict[str, Any]
    operations: dict[str, str | None]  # method -> operation id (HEAD answered by GET)
    allow: str


class _Mount:
    """One service's routes, bucketed by slash count, each bucket in the router's order."""

    def __init__(self, routes: list[Any], operation_of: Any) -> None:
        compiled = [_compile(route, operation_of) for route in routes]
        self.bucketed = all(isinstance(route, Route) and all(c.regex == SEGMENT for c in route.param_convertors.values())
                            for route in routes)
        self.all = compiled
        self.buckets: dict[int, list[_Route]] = {}
        if self.bucketed:
            for route, entry in zip(routes, compiled, strict=True):
                self.buckets.setdefault(route.path.count("/"), []).append(entry)

    def find(self, path: str, method: str, base_path: str) -> Routed:
        partial: _Route | None = None
        for route in self.buckets.get(path.count("/"), ()) if self.bucketed else self.all:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.methods is None or method in route.methods:
                params = {key: route.convertors[key].convert(value) for key, value in match.groupdict().items()}
                operation = route.operations.get(method) or route.operations.get("GET" if method == "HEAD" else "")
                return Routed(operation, params, base_path)
            partial = partial or route
        if partial is not None:
            raise MethodNotAllowed(partial.allow)
        return Routed(None, {}, base_path)


def _compile(route: Any, operation_of: Any) -> _Route:
    if not isinstance(route, Route):
        raise TypeError(f"gw routes every path itself; unexpected route {route!r}")
    methods = route.methods
    return _Route(route.path_regex, frozenset(methods) if methods is not None else None, dict(route.param_convertors),
                  operation_of(route.endpoint), ", ".join(methods or ()))


class RouteTable:
    """Every service's mount (longest prefix first, as the router has them) and its routes."""

    def __init__(self, mounts: list[Any], operation_of: Any) -> None:
        """`mounts`: the top router's routes (Starlette Mounts); `operation_of(endpoint)`: a route's
        endpoint as {method: operation id}."""
        self.mounts: list[tuple[re.Pattern[str], _Mount]] = []
        for mount in mounts:
            if not isinstance(mount, Mount):
                raise TypeError(f"gw mounts every service itself; unexpected route {mount!r}")
            self.mounts.append((mount.path_regex, _Mount(list(mount.routes), operation_of)))

    def find(self, path: str, method: str) -> Routed | None:
        """The operation for this routing path (see request_path.py) and method; None when no service's
        mount holds the path. Raises MethodNotAllowed."""
        for pattern, mount in self.mounts:
            match = pattern.match(path)
            if match is not None:
                rest = "/" + match.group("path")
                return mount.find(rest, method, path[: -len(rest)])
        return None


def route_path(scope: dict[str, Any], path: str) -> str:
    """The path below the ASGI root path, as Starlette's router reads it."""
    root_path = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    return path[len(root_path):] if path[len(root_path)] == "/" else path
