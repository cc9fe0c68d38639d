"""`/_gw/ui`: the operator's dashboard, one server-rendered page plus a little vanilla JS.

The page is drawn on the server with the services and their modes as they are now, so it is
useful before any script runs; `static/dashboard.js` then follows `/_gw/ws` for the live feed
and the charts, and switches modes through the admin API (`PUT /_gw/api/services/{name}/mode`).
Nothing is built or fetched from a CDN: the files ship inside the package.

The page is for operators only (the admin API's check: `admin.allow_from`, `X-GW-Admin-Key` or an
admin token), since it shows traffic and can switch modes. Its static files are public: they hold
no data, and a browser fetching them never needs credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..admin import AdminAccess
from ..admin.api import operation_view
from ..dashboard import STATIC, StaticFiles, read_only_page, render_page
from ..exchange import Exchange, Response
from ..pipeline import Next
from ..problems import Problem
from ..settings.config import MODES, GatewayConfig
from ..specs import Service

if TYPE_CHECKING:
    from ..runtime.modes import Modes

PREFIX = "/_gw/ui"
STATIC_PREFIX = PREFIX + "/static/"


class Dashboard:
    """Answers `/_gw/ui` (the page) and `/_gw/ui/static/*`; everything else walks on."""

    def __init__(self, access: AdminAccess, snapshot: Callable[[], list[dict[str, Any]]]) -> None:
        self.access = access
        self.snapshot = snapshot
        self.static = StaticFiles(STATIC)

    async def __call__(self, exchange: Exchange, call_next: Next) -> Response:
        if not read_only_page(exchange, PREFIX):
            return await call_next(exchange)
        path = exchange.path
        if path.startswith(STATIC_PREFIX):
            found = self.static.response(path[len(STATIC_PREFIX):])
            if found is None:
                raise Problem(404, detail=f"the dashboard has no file {path}", slug="not-found")
            return found
        if path.rstrip("/") != PREFIX:
            raise Problem(404, detail=f"the gateway has no endpoint {path}; the dashboard is {PREFIX}", slug="not-found")
        await self.access.check(exchange)
        return render_page("dashboard.html", services=self.snapshot(), modes=MODES, version=__version__)


def services_snapshot(config: GatewayConfig, services: dict[str, Service], modes: Modes,
                      chaos: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
    """Every service with its current mode and its operations' own modes (runtime switches included: `modes`).

    The same shape as the admin API's `GET /_gw/api/services` entries, minus the instances, so the
    page and the `hello` frame of `/_gw/ws` agree with what the dashboard later fetches. `chaos` says
    a service's chaos in effect in one line (gateway/chaos/step.py).
    """
    rows = []
    for name, settings in config.services.items():
        service = services.get(name)
        now = modes.now[name]
        operations = [operation_view(settings, op, now) for op in (service.operations.values() if service else [])]
        rows.append({"name": name, "base_path": settings.base_path, "mode": now.mode,
                     "title": service.title if service else name, "loaded": service is not None,
                     "upstream": list(settings.upstream), "operations": operations,
                     "chaos": chaos(name) if chaos is not None else "off"})
    return rows
