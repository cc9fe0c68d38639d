"""The upstream of the live hop in bench/run.py: GET /users/1 answers specs/users.yaml's example user.

Run as its own process (`python bench/upstream_app.py PORT`): aiohttp, no access log, a fixed
JSON body, so what the hop rows measure is the hop, not the upstream. GET /users/2 answers a User
without its required fields: the probe that shows whether gw's validation proxy is on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.routes import example_user

BODY = json.dumps(example_user()).encode()
BROKEN = json.dumps({"id": 2}).encode()  # username, email, role, created_at are required


async def user(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


async def broken_user(request: web.Request) -> web.Response:
    return web.Response(body=BROKEN, content_type="application/json")


def main() -> None:
    app = web.Application()
    app.router.add_get("/users/1", user)
    app.router.add_get("/users/2", broken_user)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
