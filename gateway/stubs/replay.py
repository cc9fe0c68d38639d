"""Answer a request from the stub store: the first source in stub mode's answer order."""

from __future__ import annotations

from ..core.exchange import Exchange, Response
from ..mocker.streams import replay_events, stream_kind
from ..runtime.session import session_of
from ..runtime.shared_state import SharedState
from ..settings.policy_settings import TemplateSettings
from .format import Stub
from .matchers import RequestView
from .scenarios import Scenarios
from .store import StubStore

HEADER_LIMIT = 600  # keep the near-miss header well inside what proxies accept


class Replay:
    """The stub store as the mocker's first source; reports near misses when nothing matched."""

    def __init__(self, store: StubStore, state: SharedState | None = None,
                 templates: TemplateSettings | None = None) -> None:
        self.store = store
        self.scenarios = Scenarios(state or SharedState())  # asked only when a candidate stub is in a scenario
        self.templates = templates or TemplateSettings()

    async def answer(self, exchange: Exchange) -> Response | None:
        service, operation = exchange.service, exchange.operation
        assert service is not None and operation is not None
        candidates = self.store.for_operation(service.name, operation.key)
        if not candidates.stubs:
            return None
        scope = exchange.scope
        method = scope["method"]
        if method == "HEAD" and operation.method == "GET":
            method = "GET"  # HEAD is answered by the GET operation: it gets the GET stub's answer (the edge drops the body)
        # the request as stubs' matchers see it: the path below the service's base path, the query and headers parsed
        # when a matcher reads them, and the body unless the request is `bodyless`
        body = b"" if exchange.bodyless else await exchange.body()
        request = RequestView.below(service.base_path, method, scope["path"], scope.get("query_string", b""),
                                    scope["headers"], body, exchange.request_json(body) if body else None)
        named = candidates.scenarios
        session = session_of(exchange) if named else ""
        if named:
            request.scenarios = await self.scenarios.current(session, named)
        match = self.store.lookup(service.name, request, operation.key, candidates)
        if match.stub is not None:
            stub = match.stub
            if stub.chaos is not None:
                exchange.notes["stub_chaos"] = stub.chaos  # the chaos step applies it (gateway/chaos/step.py)
            exchange.notes["stub"] = f"{stub.service}/{stub.id}"
            response = await self._templated(stub, exchange, request) if stub.template is not None else _fixed(stub)
            if stub.scenario is not None:  # moved on once it has answered (a failed template leaves it)
                await self.scenarios.advance(session, stub.scenario)
                exchange.notes["scenario"] = f"{stub.scenario.name}: {stub.scenario.state} -> " \
                                             f"{stub.scenario.next_state or stub.scenario.state}"
            return response
        if match.near_misses:  # the access log line and the x-gw-near-miss header carry them
            exchange.notes["near_misses"] = match.lines
            exchange.notes["near_miss_detail"] = match.near_misses  # each reason on its own, for the journal
        return None

    async def _templated(self, stub: Stub, exchange: Exchange, request: RequestView) -> Response:
        from .templated import templated_answer  # Jinja2 loads only for gateways with templated stubs

        return await templated_answer(stub, exchange, request, self.templates)


def _fixed(stub: Stub) -> Response:
    """The stub's answer as written; a recorded SSE / JSON Lines answer goes out event by event again."""
    kind = stream_kind(stub.content_type)
    body = replay_events(kind, stub.response_body) if kind and stub.response_body else stub.response_body
    return Response(stub.status, list(stub.response_headers.items()), body)


def near_miss_header(lines: list[str]) -> str:
    text = " | ".join(lines)
    if not text.isascii():
        text = text.encode("ascii", "replace").decode()
    if "\r" in text or "\n" in text:
        text = text.replace("\r", " ").replace("\n", " ")
    return text if len(text) <= HEADER_LIMIT else text[: HEADER_LIMIT - 3] + "..."
