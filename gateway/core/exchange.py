"""One request's walk through the gateway: what came in, what we learnt, what goes out."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers, QueryParams

from .json_once import JsonOnce
from .json_text import dump_json
from .problems import PROBLEM_JSON, Problem

if TYPE_CHECKING:
    from ..spec.load import Operation, Service

Body = bytes | AsyncIterator[bytes]
ASGISend = Callable[[dict[str, Any]], Awaitable[None]]
ASGIReceive = Callable[[], Awaitable[dict[str, Any]]]
CLIENT_IP = "gw.client_ip"  # scope key: the client address resolved through trusted proxies
READ_BODY = "read_body"  # note: the body as request validation read it (and replayed it to the next step)
PARAMETERS = "gw.parameters"  # scope key: {location: {name: value}} as validation decoded them (serialization.py)
CONNECTION_EXTENSION = "gw.connection"  # scope["extensions"][...]: the request's RawConnection (server/connections.py)


@dataclass
class Response:
    """What the gateway answers. Steps read and amend it before the edge sends it.

    The body is bytes, or an async iterator for streamed upstream bodies (never buffered whole).
    """

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Body = b""
    on_close: Callable[[], Any] | None = None
    _json: JsonOnce | None = field(default=None, init=False, repr=False, compare=False)  # body_json(): parsed once

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), lowered in one pass: every answer is asked a few."""
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        lowered = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lowered]
        self.headers.append((name, value))

    def body_json(self) -> JsonOnce | None:
        """The body as JSON, parsed once for every reader (the validation proxy, the recorder); None when streamed."""
        body = self.body
        if not isinstance(body, bytes):
            return None
        self._json = JsonOnce.reuse(self._json, body)
        return self._json

    async def close(self) -> None:
        """Release a streamed body that will not be sent (its upstream connection goes back to the pool)."""
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            await _maybe_await(on_close())

    @classmethod
    def json(cls, status: int, body: Any) -> Response:
        """A compact JSON answer of the gateway's own (values JSON cannot hold are written as text)."""
        return cls.json_bytes(status, dump_json(body))

    @classmethod
    def json_bytes(cls, status: int, body: bytes, content_type: str = "application/json") -> Response:
        return cls(status, [("content-type", content_type)], body)

    @classmethod
    def from_problem(cls, problem: Problem, instance: str | None = None) -> Response:
        headers = [("content-type", PROBLEM_JSON), *problem.headers.items()]
        return cls(problem.status, headers, problem.body(instance))

    async def send(self, send: ASGISend, head_only: bool = False) -> None:
        """Write the response to the ASGI server, streaming iterator bodies chunk by chunk."""
        body = self.body
        headers = []
        has_length = False
        for pair in self.headers:  # one pass: every answer takes it
            try:
                wire = _WIRE_PAIRS.get(pair)
            except TypeError:  # a pair given as a list
                wire = None
            if wire is None:
                name = _WIRE_NAMES.get(pair[0]) or wire_name(pair[0])
                if name == b"content-length":
                    has_length = True
                wire = (name, pair[1].encode("latin-1"))
            headers.append(wire)
        if isinstance(body, bytes) and self.status not in (204, 304) and self.status >= 200 and not has_length:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        try:
            if isinstance(body, bytes):
                await send({"type": "http.response.body", "body": b"" if head_only else body})
                return
            async for chunk in body:
                if chunk and not head_only:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            if self.on_close is not None:
                await _maybe_await(self.on_close())


_WIRE_NAMES: dict[str, bytes] = {}  # header name -> as sent (lower case, bytes): made once per name, not per answer
_WIRE_NAMES_KEPT = 1024  # names remembered; more (an upstream inventing names) are encoded each time


_WIRE_PAIRS: dict[tuple[str, str], tuple[bytes, bytes]] = {}  # (name, value) -> as sent, for pairs many answers carry


def wire_name(name: str) -> bytes:
    """A header's name as ASGI sends it: lower case, latin-1 bytes."""
    wire = name.lower().encode("latin-1")
    if len(_WIRE_NAMES) < _WIRE_NAMES_KEPT:
        _WIRE_NAMES[name] = wire
    return wire


def constant_headers(pairs: Iterable[tuple[str, str]]) -> None:
    """Header pairs that many answers carry as they are (the security headers, `vary: Origin`, a content type):
    encoded for the wire once, at assembly, rather than on each answer. Never a content-length (`send` counts
    the ones it encodes)."""
    for pair in pairs:
        name, value = pair
        if name.lower() != "content-length":  # keyed by the caller's own tuple: an answer carrying it is found by identity
            _WIRE_PAIRS[pair] = (wire_name(name), value.encode("latin-1"))


constant_headers([("content-type", "application/json"), ("content-type", PROBLEM_JSON)])


class NamesSeen:
    """Whether an answer carries one of a few header names, in any case, without lower-casing its names on every
    answer: a name found to be none of them is remembered as given (the names an app sends are few and the same),
    so the common answer costs one set test per header."""

    __slots__ = ("names", "other")

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(name.lower() for name in names)
        self.other: set[str] = set()  # names as given that are none of `names`

    def carried_by(self, headers: Iterable[tuple[str, str]]) -> bool:
        """Whether `headers` (an answer's pairs) carry one of the names: one set test per name seen before."""
        other = self.other
        for name, _ in headers:  # noqa: SIM110 (a loop: any() over a generator costs a frame on every answer)
            if name not in other and self._learn(name):
                return True
        return False

    def _learn(self, name: str) -> bool:
        """True when `name` (not in `other`) is one of the names; else it joins `other` (up to 1,024 names)."""
        if name.lower() in self.names:
            return True
        if len(self.other) < _WIRE_NAMES_KEPT:
            self.other.add(name)
        return False


async def _maybe_await(value: Any) -> None:
    if hasattr(value, "__await__"):
        await value


class RequestHeaders(Headers):
    """A request's headers, looked up by name through a table: a stub request asks for five to ten of them
    (request id, origin, prefer, accept, content-length...), and starlette's Headers scans and re-encodes the
    whole list for each. Made when the exchange's headers are first read (`Exchange.headers`): the table holds the
    headers as the server gave them (ASGI's lower-case latin-1 names), and a value is decoded only when asked for.
    The first value of a repeated header wins, as there."""

    def __init__(self, scope: dict[str, Any]) -> None:
        super().__init__(scope=scope)
        self._first: dict[bytes, bytes] = dict(reversed(scope["headers"]))  # the list Headers reads (made a list above)

    def __getitem__(self, key: str) -> str:
        name = _ASKED[key] if key in _ASKED else _asked(key)
        first = self._first
        if name in first:
            return first[name].decode("latin-1")
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        name = _ASKED[key] if key in _ASKED else _asked(key)
        first = self._first
        return first[name].decode("latin-1") if name in first else default

    def __contains__(self, key: Any) -> bool:
        return (_ASKED[key] if key in _ASKED else _asked(key)) in self._first


_ASKED: dict[str, bytes] = {}  # a header name as code asks for it (any case) -> as a request carries it
_ASKED_KEPT = 1024  # names remembered; more are lowered and encoded each time
_NO_SUCH_NAME = b"\n"  # what a name latin-1 cannot hold is looked up as: no header's name holds a line break


def _asked(key: str) -> bytes:
    """A header name as ASGI gives it (lower case, latin-1 bytes), remembered for the next request that asks."""
    try:
        name = key.lower().encode("latin-1")
    except UnicodeEncodeError:
        name = _NO_SUCH_NAME
    if len(_ASKED) < _ASKED_KEPT:
        _ASKED[key] = name
    return name


class _made_on_first_use:  # a decorator, named as functools.cached_property is
    """functools.cached_property without its lock (Python 3.11 takes an RLock on each first use, ~1 µs a request):
    an exchange is one request's, read by one task."""

    def __init__(self, make: Callable[[Any], Any]) -> None:
        self.make = make
        self.name = make.__name__
        self.__doc__ = make.__doc__

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.make(instance)
        return value


UPSTREAM_SOURCES = frozenset({"live", "live-recorded"})  # answers that came from the upstream as they were


@dataclass(frozen=True)
class Identity:
    """Who is calling, as a verified credential says: for later steps (rate-limit key, logs, upstream token)."""

    subject: str
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    claims: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    scheme: str = ""  # the security scheme that admitted it


@dataclass
class Exchange:
    """The request as the pipeline sees it, plus what each step has learnt about it."""

    scope: dict[str, Any]
    receive: ASGIReceive
    request_id: str = ""
    started: float = field(default_factory=time.perf_counter)
    service: Service | None = None
    operation: Operation | None = None
    mode: str = ""
    source: str = ""  # where the answer came from: example, generated, live, ...
    identity: Identity | None = None  # the verified caller, once the auth step has seen a credential
    contract_violations: list[Any] | None = None  # an upstream answer already judged (record mode), not to judge twice
    notes: dict[str, Any] = field(default_factory=dict)
    bodyless: bool = False  # the request declares no body (no Content-Length above 0, no Transfer-Encoding): none is read
    _body: bytes | None = None
    _json: JsonOnce | None = field(default=None, init=False, repr=False)  # request_json(): parsed once

    @property
    def method(self) -> str:
        return self.scope["method"]

    @property
    def path(self) -> str:
        return self.scope["path"]

    @_made_on_first_use
    def headers(self) -> Headers:
        """Made on first use, then an attribute: a stub request reads it five to ten times."""
        return RequestHeaders(self.scope)

    @property
    def query(self) -> QueryParams:
        return QueryParams(self.scope.get("query_string", b""))

    @property
    def path_params(self) -> dict[str, Any]:
        return self.scope.get("path_params", {})

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        """The declared parameters by location, decoded and typed as the spec says (`?ids=1,2` as [1, 2],
        `filter[status]=x` as an object), once request validation has read them."""
        return self.scope.get(PARAMETERS, {})

    @property
    def peer_ip(self) -> str:
        """The TCP peer: the client itself, or the proxy in front of the gateway."""
        client = self.scope.get("client")
        return client[0] if client else ""

    @property
    def client_ip(self) -> str:
        """The client: the peer, or who trusted proxies say it is (steps/client_address.py)."""
        scope = self.scope
        resolved = scope.get(CLIENT_IP)
        if resolved:
            return resolved
        client = scope.get("client")  # the peer (peer_ip), read here: every access line and journal entry asks
        return client[0] if client else ""

    @property
    def body_if_read(self) -> bytes | None:
        """The request body if a step has read it (None when it was streamed on, or never needed): free to keep."""
        return self._body if self._body is not None else self.notes.get(READ_BODY)

    def request_json(self, body: bytes, encoding: str | None = None) -> JsonOnce:
        """The request body (`body`, as read) as JSON, parsed once for every reader: validation, stub matching,
        templates, recording, the journal. `encoding`: the charset the request declared."""
        self._json = JsonOnce.reuse(self._json, body, encoding)
        return self._json

    async def json(self) -> Any:
        """The whole request body as JSON, parsed once for every reader; ValueError when it is not JSON."""
        body = await self.body()
        return self.request_json(body).value()

    async def body(self) -> bytes:
        """The whole request body, read once (the size limit step has already bounded it)."""
        if self._body is None and self.bodyless:
            self._body = b""  # what uvicorn's one message would hold: not awaited for
        if self._body is None:
            chunks = []
            while True:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    break
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            self._body = b"".join(chunks)
        return self._body
