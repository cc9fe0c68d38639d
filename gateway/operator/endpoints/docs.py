"""Swagger UI per service at `/_gw/docs/{service}/`, and an index of them at `/_gw/docs`.

The UI is Swagger UI 5.x, vendored in `gateway/operator/swagger_ui/` (it draws OpenAPI 3.0, 3.1 and Swagger
2.0; connexion's bundle is 4.x, which cannot draw 3.1). The spec it shows is the one the gateway serves: bundled
(cross-file `$ref`s brought in) and with `servers` replaced by the service's base path on this
gateway, so "Try it out" goes through the gateway (stubs or live, by the service's mode) and never
straight to an upstream the spec happens to name.

The docs are public, like the services themselves: anyone who can reach the gateway can already
call every operation and read its validation errors, and the docs show that same contract and
nothing of the gateway's state (modes, traffic, upstream addresses). The operator's pages (`/_gw/ui`,
`/_gw/ws`, `/_gw/api`) are the ones behind `admin.allow_from`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...core.exchange import Exchange, Response
from ...core.pipeline import Next
from ...core.problems import Problem
from ...settings.config import mount_prefix
from ...spec.load import Service
from ..dashboard import StaticFiles, read_only_page, render_page
from ..swagger_ui import FOLDER as SWAGGER_UI
from ..swagger_ui import VERSION as SWAGGER_UI_VERSION

PREFIX = "/_gw/docs"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class DocEntry:
    """One document the index lists: a service, or the gateway's own admin API."""

    name: str
    title: str
    version: str
    base_path: str
    operations: int
    spec: Callable[[], dict[str, Any]]  # the document as served (servers pointing at this gateway)


class ServiceDocs:
    """Answers `/_gw/docs...` (GET and HEAD); everything else walks on."""

    def __init__(self, services: dict[str, Service], extra: list[Service] | None = None) -> None:
        """`extra`: documents listed after the services (the admin API's); a service of the same name wins."""
        ordered = [*sorted(services.values(), key=lambda s: s.name), *(extra or [])]
        self.entries: dict[str, DocEntry] = {}
        for service in ordered:
            self.entries.setdefault(service.name, service_entry(service))
        self._specs: dict[str, bytes] = {}  # rendered once per assembly: a reload builds a new step
        self.static = StaticFiles(SWAGGER_UI, exclude=frozenset({"__init__.py", "VERSION"}))

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        if not read_only_page(exchange, PREFIX):
            return await call_next(exchange)
        path = exchange.path
        return self._answer(path[len(PREFIX):].strip("/"), path.endswith("/"))

    def _answer(self, rest: str, trailing_slash: bool) -> Response:
        if not rest:
            return render_page("docs_index.html", entries=list(self.entries.values()))
        name, _, file = rest.partition("/")
        entry = self.entries.get(name)
        if entry is None:
            raise Problem(404, detail=f"no service named {name!r}; {PREFIX} lists them", slug="not-found")
        if not file and not trailing_slash:  # the page's relative links need the slash
            return Response(308, [("location", f"{PREFIX}/{name}/")])
        if not file:
            return self._ui(entry)
        if file == "openapi.json":
            return Response.json_bytes(200, self._spec_json(entry))
        static = self.static.response(file)
        if static is None:
            raise Problem(404, detail=f"{PREFIX}/{name}/ has no file {file!r}", slug="not-found")
        return static

    def _ui(self, entry: DocEntry) -> Response:
        return render_page("swagger_ui.html", title=entry.title, ui_version=SWAGGER_UI_VERSION)

    def _spec_json(self, entry: DocEntry) -> bytes:
        if entry.name not in self._specs:
            self._specs[entry.name] = json.dumps(entry.spec(), default=str, separators=(",", ":")).encode()
        return self._specs[entry.name]


def service_entry(service: Service) -> DocEntry:
    info = service.specification.raw.get("info") or {}
    return DocEntry(service.name, service.title, str(info.get("version") or ""),
                    service.base_path, len(service.operations), lambda: served_spec(service))


def served_spec(service: Service) -> dict[str, Any]:
    """The service's bundled document, pointed at this gateway: try-it-out requests go through it."""
    spec = copy.deepcopy(service.specification.raw)
    base = mount_prefix(service.base_path)
    if str(spec.get("swagger", "")) == "2.0":
        spec["basePath"] = base or "/"
        spec.pop("host", None)  # the page's own host and scheme: this gateway
        spec.pop("schemes", None)
        return spec
    spec["servers"] = [{"url": base or "/", "description": f"gw: the {service.name} service on this gateway"}]
    for item in (spec.get("paths") or {}).values():
        if isinstance(item, dict):
            item.pop("servers", None)  # a path or operation server would bypass the gateway
            for method in HTTP_METHODS:
                if isinstance(item.get(method), dict):
                    item[method].pop("servers", None)
    return spec

