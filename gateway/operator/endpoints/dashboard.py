"""`/_gw/ui`: the operator's dashboard, one server-rendered page plus a little vanilla JS.

The page is drawn on the server with the services and their modes as they are now, so it is
useful before any script runs; `static/dashboard.js` then follows `/_gw/ws` for the live feed
and the charts, and switches modes through the admin API (`PUT /_gw/api/services/{name}/mode`).
Nothing is built or fetched from a CDN: the files ship inside the package.

The page is for operators only (the admin API's check: `admin.allow_from`, `X-GW-Admin-Key` or an
admin token), since it shows traffic and can switch modes. Its static files are public: they hold
no data, and a browser fetching them never needs credentials.

A service is read from the read model (gateway/operator/state.py), as the admin API and detailed health
read it: the page, the `hello` frame of /_gw/ws and the admin API agree on modes, instances and stubs.
"""

from __future__ import annotations

from typing import Any

from ... import __version__
from ...core.exchange import Exchange, Response
from ...core.pipeline import Next
from ...core.problems import Problem
from ...settings.config import MODES
from ..admin import AdminAccess
from ..dashboard import STATIC, StaticFiles, read_only_page, render_page
from ..state import GatewayState

PREFIX = "/_gw/ui"
STATIC_PREFIX = PREFIX + "/static/"


class Dashboard:
    """Answers `/_gw/ui` (the page) and `/_gw/ui/static/*`; everything else walks on."""

    def __init__(self, access: AdminAccess, state: GatewayState) -> None:
        self.access = access
        self.state = state
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
        return render_page("dashboard.html", services=services_snapshot(self.state), modes=MODES, version=__version__)


def services_snapshot(state: GatewayState) -> list[dict[str, Any]]:
    """Every service with its mode, its operations' own modes, its instances and its stub count, now.

    The admin API's `GET /_gw/api/services` entries plus what the page draws (title, whether the spec
    loaded, the upstreams as configured, the chaos in effect in one line), so the page and the `hello`
    frame of `/_gw/ws` agree with what the dashboard later fetches.
    """
    return [{**view.to_json(), "title": view.title, "loaded": view.loaded, "upstream": list(view.upstream),
             "chaos": view.chaos} for view in state.services()]
