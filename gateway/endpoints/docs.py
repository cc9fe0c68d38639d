"""Swagger UI per service at `/_gw/docs/{service}/`, and an index of them at `/_gw/docs`.

The UI is connexion's (the `swagger_ui_bundle` files and connexion's `index.j2` page, found through
connexion's own Swagger UI options), but the spec it shows is the one the gateway serves: bundled
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
from pathlib import Path
from typing import Any

import jinja2
from connexion.options import SwaggerUIConfig, SwaggerUIOptions
from markupsafe import escape

from ..config import mount_prefix
from ..dashboard import StaticFiles, html_response, read_only_page, render_page
from ..exchange import Exchange, Response
from ..pipeline import Next
from ..problems import Problem
from ..specs import Service

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
        ui = SwaggerUIConfig(SwaggerUIOptions(), oas_version=(3, 0, 0))
        folder = Path(ui.swagger_ui_template_dir)
        self.static = StaticFiles(folder, exclude=frozenset({"index.j2", "index.html", "swagger-initializer.js"}))
        self.ui_page = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True).get_template("index.j2")

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
        body = self.ui_page.render(openapi_spec_url="./openapi.json").replace(
            "<title>Swagger UI</title>", f"<title>{escape(entry.title)} · gw docs</title>", 1)
        return html_response(body)

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

