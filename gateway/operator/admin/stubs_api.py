"""Admin API handlers for tests in any language: stubs created, replaced and removed over HTTP, and the
journal asked how many requests matched (and which), for the whole gateway.

    POST   /_gw/api/stubs            {"service", "request", "response", "meta"?, "persist"?, "id"?}  -> 201 + Location
    GET    /_gw/api/stubs/{id}       the stub as kept
    PUT    /_gw/api/stubs/{id}       replaces it (same body as POST)
    DELETE /_gw/api/stubs/{id}       removes it (a file stub by `service/id`: its file and side files go too, through
                                     StubStore.delete; a side file kept is named in an X-GW-Kept header, with why)
    DELETE /_gw/api/stubs            removes every stub created over the API and kept in memory
    POST   /_gw/api/requests/count   {"service", "request"} -> {"count": N}
    POST   /_gw/api/requests/find    {"service", "request", "limit"?} -> {"requests": [...]}
    DELETE /_gw/api/requests         clears the journal of every process
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ...core.exchange import Exchange, Response
from ...core.problems import Problem
from ...runtime.shared_state import SharedState, StateUnavailable
from ...stubs import Stub, StubStore
from ...stubs.api_stubs import ApiStubs, Refused, TakenId, UnknownStub
from ...stubs.persister import dump_yaml
from ...stubs.redaction import Redactor
from ..cluster import Cluster, ClusterUnavailable
from ..verification import Verification

if TYPE_CHECKING:
    from ...spec.load import Service
    from ..journal import Journal

PREFIX = "/_gw/api"
Handler = Callable[[Exchange], Awaitable[Response]]


class StubsApi:
    """The handlers, by operationId; `start`/`stop` follow the other processes' changes."""

    def __init__(self, store: StubStore, shared: SharedState, cluster: Cluster, journal: Journal,
                 services: Callable[[], dict[str, Service]], redactor: Callable[[str | None], Redactor]) -> None:
        self.store = store  # every stub served: files and those created here
        self.cluster = cluster
        self.stubs = ApiStubs(store, shared, cluster, services)
        self.verification = Verification(journal, cluster, services, redactor)

    def handlers(self) -> dict[str, Handler]:
        return {"createStub": self.create, "getApiStub": self.get, "replaceStub": self.replace,
                "removeStub": self.remove, "removeApiStubs": self.remove_all, "countRequests": self.count,
                "findRequests": self.find, "clearRequests": self.clear}

    async def create(self, exchange: Exchange) -> Response:
        body = await _json(exchange)
        async with _answers():
            entry = await self.stubs.create(body["service"], _document(body), bool(body.get("persist")), body.get("id"))
        response = Response.json(201, _view(entry))
        response.headers.append(("location", f"{PREFIX}/stubs/{entry['id']}"))
        return response

    async def get(self, exchange: Exchange) -> Response:
        return Response.json(200, _view(self._entry(exchange)))

    async def replace(self, exchange: Exchange) -> Response:
        body = await _json(exchange)
        async with _answers():
            entry = await self.stubs.replace(_id(exchange), body["service"], _document(body), bool(body.get("persist")))
        return Response.json(200, _view(entry))

    async def remove(self, exchange: Exchange) -> Response:
        stub_id = _id(exchange)
        if self.stubs.find(stub_id) is not None:
            async with _answers():
                await self.stubs.remove(stub_id)
            return Response(204)
        stub = self.store.find(stub_id)
        if stub is None:
            raise Problem(404, detail=f"no stub {stub_id!r} (a stub file's is `service/id`)")
        return await self.remove_stub(stub)

    async def remove_stub(self, stub: Stub) -> Response:
        """A stub the store holds, whichever way it came: one created over the API, or a file (and its body_file)."""
        async with _answers():
            entry = self.stubs.find(stub.id)
            if entry is not None and entry["service"] == stub.service:
                await self.stubs.remove(stub.id)
                return Response(204)
            deletion = await self.stubs.remove_file_stub(stub)
        if deletion.failed:
            raise Problem(500, detail=f"the stub file could not be removed: {deletion.failed}", slug="stub-not-removed")
        response = Response(204)
        for path, reason in deletion.kept:  # a side file outside the stubs folder, or another stub's too, stays
            text = f"{path.name}: {reason}".encode("ascii", "backslashreplace").decode()  # a header is latin-1
            response.headers.append(("x-gw-kept", text))
        return response

    def content(self, stub: Stub) -> str | None:
        """A stub created over the API and kept in memory, as the YAML its file would hold; None for any other."""
        entry = self.stubs.find(stub.id)
        if entry is None or entry["service"] != stub.service or entry["persist"]:
            return None
        return dump_yaml(entry["stub"]).decode()

    async def remove_all(self, _exchange: Exchange) -> Response:
        async with _answers():
            removed = await self.stubs.remove_all()
        return Response.json(200, {"removed": removed})

    async def count(self, exchange: Exchange) -> Response:
        body = await _json(exchange)
        async with _answers():
            count = await self.verification.count(body["service"], body["request"])
        return Response.json(200, {"count": count})

    async def find(self, exchange: Exchange) -> Response:
        body = await _json(exchange)
        async with _answers():
            found = await self.verification.find(body["service"], body["request"], int(body.get("limit") or 100))
        return Response.json(200, {"requests": found, "count": len(found)})

    async def clear(self, _exchange: Exchange) -> Response:
        async with _answers():
            await self.verification.clear()
        return Response(204)

    def _entry(self, exchange: Exchange) -> dict[str, Any]:
        stub_id = _id(exchange)
        entry = self.stubs.find(stub_id)
        if entry is None:
            raise Problem(404, detail=f"no stub {stub_id!r} created over the admin API")
        return entry


@contextlib.asynccontextmanager
async def _answers() -> AsyncIterator[None]:
    """The model's refusals as the admin API's problem+json."""
    try:
        yield
    except Refused as exc:
        raise Problem(422, detail=str(exc), title="Stub does not fit the contract", slug="stub-refused",
                      errors=exc.errors) from None
    except TakenId as exc:
        raise Problem(409, detail=str(exc)) from None
    except UnknownStub as exc:
        raise Problem(404, detail=str(exc)) from None
    except (ClusterUnavailable, StateUnavailable) as exc:
        raise Problem(503, detail=f"not every gateway process can be reached: {exc}", slug="state-unavailable") from None
    except OSError as exc:
        raise Problem(500, detail=f"the stub file could not be written: {exc.strerror or exc}",
                      slug="stub-not-written") from None


async def _json(exchange: Exchange) -> dict[str, Any]:
    return await exchange.json()  # the admin router has checked its shape against openapi.yaml


def _document(body: dict[str, Any]) -> dict[str, Any]:
    return {key: body[key] for key in ("request", "response", "meta") if key in body}


def _id(exchange: Exchange) -> str:
    return str(exchange.path_params.get("stub_id", ""))


def _view(entry: dict[str, Any]) -> dict[str, Any]:
    return {"id": entry["id"], "service": entry["service"], "persist": entry["persist"], **entry["stub"]}
