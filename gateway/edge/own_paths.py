"""The gateway's own endpoints (/_gw/...) as one branch of the pipeline, so a service's request skips them.

Each of those steps (auth endpoints, admin API, dashboard, docs, health, the cross-site guard in front of
them) only ever acts on a path under `/_gw`, and the last of them answers 404 for the rest of it. A
request for a service used to walk through every one of them to read a prefix it does not have; here it
pays one prefix test, and a request under `/_gw` walks the same steps in the same order as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from ..core.exchange import Exchange, Response
from ..core.pipeline import Next, Pipeline, Step

OWN_ROOT = "/_gw"
OWN_PREFIX = OWN_ROOT + "/"  # what every path under it starts with


class OwnPaths:
    """Pipeline step: `steps` for requests under /_gw, nothing for the rest."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)

    def __call__(self, exchange: Exchange, call_next: Next) -> Awaitable[Response]:
        """A branch only: the awaitable of the way taken (no frame of its own in a request's walk)."""
        path = exchange.scope["path"]
        if path != OWN_ROOT and not path.startswith(OWN_PREFIX):
            return call_next(exchange)
        return Pipeline(self.steps, call_next).handler(exchange)  # chained per request: the gateway's own pages only
