"""Assemble the gateway: load every service's spec, then chain the pipeline a request walks.

    request id -> access log -> security headers -> allowed hosts -> CORS -> problem+json -> body limit
      -> complete body (aborted.py: an upload cut short is never answered as whole)
      -> /_gw/ endpoints -> router (connexion: route, policies (auth, rate limit), validate)
      -> chaos (delays and faults on purpose) -> mode dispatch (mocker | forwarder)
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from . import json_limits
from .aborted import GUARD, BodyGuard, ClientAborted, CompleteBody
from .admin import AdminAccess
from .admin.api import AdminApi, publish_circuit_changes
from .auth.setup import Auth, auth_errors
from .auth.upstream import UpstreamIdentity
from .callbacks.sender import CallbackSender
from .callbacks.step import callback_step
from .chaos.step import Chaos
from .chaos.switches import ChaosSwitches
from .cluster import Cluster
from .endpoints.auth import AuthEndpoints
from .endpoints.dashboard import Dashboard, services_snapshot
from .endpoints.docs import ServiceDocs
from .endpoints.health import GatewayEndpoints
from .endpoints.health_detailed import DetailedHealth
from .endpoints.live_events import PATH as LIVE_EVENTS_PATH
from .endpoints.live_events import LiveEvents
from .endpoints.metrics import MetricsEndpoint
from .events import EventBus
from .exchange import Exchange
from .forwarder import Forwarder
from .journal import Journal
from .metrics import GatewayMetrics
from .mocker import Mocker
from .mocker.streams import Pacing
from .pipeline import Pipeline
from .reload import Reloader
from .routing import Router
from .runtime.modes import Modes
from .settings.config import ConfigError, GatewayConfig, ServiceConfig
from .shared_state import open_state
from .simulation.simulator import Simulation
from .spec_fetch import fetch_spec, is_url
from .specs import Service, SpecError, load_service, read_document
from .steps.access_log import AccessLog
from .steps.authenticate import Authenticate
from .steps.body_limit import BodyLimit
from .steps.client_address import ClientAddress
from .steps.cors import Cors, OriginMatcher
from .steps.cross_site import CrossSiteGuard
from .steps.dispatch import ModeDispatch
from .steps.errors import ProblemResponses
from .steps.hardening import AllowedHosts, OwnPages, SecurityHeaders, rebinding_proof
from .steps.journal import JournalStep
from .steps.metrics import ObserveMetrics
from .steps.own_paths import OwnPaths
from .steps.rate_limit import RateLimit, any_rate_limit
from .steps.request_id import RequestId, request_id_for
from .steps.response_contract import ResponseContract
from .streaming import send_answer
from .stubs import StubStore
from .stubs.recorder import Recorder
from .stubs.redaction import Redactor
from .stubs.replay import Replay
from .websockets import WebSocketPassThrough
from .websockets import refuse as refuse_socket

log = logging.getLogger("gw")


@dataclass
class LoadResult:
    services: dict[str, Service] = field(default_factory=dict)
    errors: list[SpecError] = field(default_factory=list)


ServiceLoader = Callable[[ServiceConfig], Service]


def load_services(config: GatewayConfig, deep_check: str = "later", check_auth: bool = True,
                  loader: ServiceLoader | None = None) -> LoadResult:
    """Every configured spec, loaded; failures collected, one SpecError each. A reload leaves out the
    auth check (`check_auth`): settings do not change while running, only specs and stubs do, and brings
    its own `loader` (gateway/reload_worker.py: read in a bounded worker process)."""
    result = LoadResult()
    if check_auth:
        result.errors += auth_errors(config)  # unreadable keys, unset ${ENV} tokens: one line each, at start
    load = loader or (lambda settings: load_spec(config, settings, deep_check))
    for settings in config.services.values():
        try:
            service = load(settings)
            _check_operation_overrides(config, settings.name, service)
            service.brackets = settings.brackets
            result.services[settings.name] = service
        except SpecError as exc:
            result.errors.append(exc)
        except ConfigError as exc:
            result.errors.append(SpecError(exc.source, exc.key, exc.reason))
    return result


def load_spec(config: GatewayConfig, settings: ServiceConfig, deep_check: str = "later", **how: Any) -> Service:
    """One service's spec (fetched first when it is a URL); `how`: what `load_service` takes beyond the file."""
    note = fetch_spec(settings.spec, read=read_document)[1] if is_url(settings.spec) else None
    path = config.spec_path(settings)
    if note is None and not is_url(settings.spec) and not path.exists() and not config.source.startswith("<"):
        raise ConfigError(config.source, f"services.{settings.name}.spec", f"{settings.spec}: no such file")
    service = load_service(settings.name, path, settings.base_path, deep_check, **how)
    service.warnings[:0] = [note] if note else []
    return service


def _check_operation_overrides(config: GatewayConfig, name: str, service: Service) -> None:
    for key in config.services[name].operations:
        if key not in service.operations and key not in service.left_out:  # one left out is warned of already
            raise ConfigError(config.source, f"services.{name}.operations.{key}",
                              f"no such operation in {service.spec_file.name}")


class GatewayApp:
    """The ASGI application: one pipeline for every request of every service."""

    freeze_objects = False  # `gw serve` sets it: a served process keeps what it loaded (see _freeze_start_up_objects)

    def __init__(self, config: GatewayConfig, loaded: LoadResult) -> None:
        self.config = config
        json_limits.configure(config.json)  # process-wide: every JSON body parsed is bounded the same way
        self.started = time.time()  # uptime counts from here, across reloads
        self.state = open_state(config.redis_url)  # memory, or Redis shared by every gateway process
        self.events = EventBus()  # live feed for the dashboard and `gw journal --follow`
        self.modes = Modes(config.services, self.state, self.events)  # the modes now: switched at runtime, followed through Redis
        self.auth = Auth.build(config, self.state)
        self.admin_access = AdminAccess(config.admin, self.auth, config.source)
        self.forwarder = Forwarder(config.services, self.state)  # breakers shared through the state when it is Redis
        self.forwarder.upstream_identity = UpstreamIdentity(config)  # forward | strip | bearer | mint, per service
        self.stubs = StubStore(config.stubs_path(), list(config.services))
        self.recorder = Recorder(self.stubs, {}, {n: ", ".join(s.upstream) for n, s in config.services.items()},
                                 keep_versions=config.record_versions, max_body=config.record.max_body)
        self.contract = ResponseContract(config)  # kept across reloads: its counts are the gateway's
        self.origins = OriginMatcher(config.cors.origins)  # one matcher (and its cache) for CORS and WebSockets
        origins = self.origins.allows if config.cors.enabled else None
        self.websockets = WebSocketPassThrough(config.services, self.forwarder, self._admit_socket, origins, self.modes)
        self.reloader = Reloader(self)
        self.journal = Journal(config.admin.journal_size)  # the last exchanges, for /_gw/api/journal
        self.cluster = Cluster(self.state, config.workers)  # questions every gateway process answers (admin API)
        self.callbacks = CallbackSender(config.callbacks, self.journal, self.events)  # callbacks and webhooks gw sends
        self.chaos = Chaos(config.services, config.chaos, config.streams,  # delays and faults
                           ChaosSwitches(config.services, self.state, self.events))
        publish_circuit_changes(self.forwarder, self.events)
        self.admin_api = AdminApi(self)  # /_gw/api/, described by gateway/admin/openapi.yaml
        self.admin_service = self.admin_api.service  # that document as a Service (name gw-admin), for Swagger UI
        self.allowed_hosts = AllowedHosts(config.allowed_hosts) if config.allowed_hosts else None  # HTTP and sockets
        own_host = self.allowed_hosts.allows if self.allowed_hosts else partial(rebinding_proof, bind_host=config.host)
        self.own_pages = OwnPages(own_host, origins)  # browser pages that speak for the gateway (/_gw/ws, /_gw/api)
        self.live_events = LiveEvents(self.events, self.admin_access, self._hello, origins,  # /_gw/ws, operators only
                                      own_host=own_host)
        self.metrics = GatewayMetrics() if config.metrics else None  # kept across reloads, as the contract's counts
        if self.metrics is not None:
            self.metrics.attach(self.forwarder, self.websockets)
        self.detailed_health = DetailedHealth(self)
        self.client_address = ClientAddress.for_cidrs(config.trusted_proxies)  # None: the peer is the client
        self.assemble(loaded)

    def reassemble(self, loaded: LoadResult) -> None:
        """A reload's swap: the new pipeline in, the old one's objects freed, the new ones frozen."""
        self.assemble(loaded)
        if self.freeze_objects:
            _freeze_start_up_objects()

    def assemble(self, loaded: LoadResult) -> None:
        """Chain the pipeline for these services; a reload calls it again and swaps in the result."""
        services = loaded.services
        self.recorder.redactors = {n: Redactor.for_spec(s.specification.security_schemes or {}, self.config.redact.as_tables())
                                  for n, s in services.items()}
        replay = Replay(self.stubs, self.state, self.config.templates)  # scenario states shared as the modes are
        mocker = Mocker(replay, frozenset(n for n, s in self.config.services.items() if s.dynamic))
        per_service_limits = {s.base_path: s.max_body for s in self.config.services.values() if s.max_body}
        mocker.pacing = Pacing(self.config.streams.events, self.config.streams.interval)
        steps = [
            *([self.client_address] if self.client_address else []),  # first: every step sees the real client
            RequestId(),
            *([ObserveMetrics(self.metrics)] if self.metrics is not None else []),  # sees every answer as sent
            AccessLog(),
            JournalStep(self.journal, self.events, self.config.admin.journal_max_body),  # inside the access log
            *self._edge(),  # security headers, allowed hosts, CORS: outside problem+json, so errors get them too
            ProblemResponses(),
            BodyLimit(self.config.max_body, per_service_limits),
            CompleteBody(),  # a success waits for the body's end: an upload cut short is never answered as whole
            OwnPaths([  # /_gw/...: a service's request skips these with one prefix test
                CrossSiteGuard(self.own_pages),  # a foreign page's form cannot change state through /_gw/api or /_gw/auth
                AuthEndpoints(self.auth),
                self.admin_api,  # /_gw/api/: before /_gw/ endpoints, which answer 404 for the rest
                Dashboard(self.admin_access, lambda: services_snapshot(self.config, self.services, self.modes,
                                                                           self.chaos.summary)),
                ServiceDocs(services, [self.admin_service]),  # /_gw/docs: Swagger UI per service, public
                GatewayEndpoints(services, [str(e) for e in loaded.errors], self.forwarder,
                                 self._gateway_routes(), self.started, self.modes),
            ]),
            Router(services, policies=self._policies()),
            self.contract,
            *callback_step(services, self.callbacks, self.config.callbacks.enabled),  # only where a spec has callbacks
            self.chaos,  # last: its faults replace the answer as it leaves dispatch
        ]
        self.simulation = Simulation.build(self.config, services, self.state, self.contract.violations)  # `state:` services
        dispatch = ModeDispatch(self.modes.now, mocker, self.forwarder, self.recorder, self.simulation)
        self.services, self.loaded = services, loaded
        self.pipeline = Pipeline(steps, dispatch)

    def _gateway_routes(self) -> dict[str, Any]:
        """/_gw/ endpoints beyond health and ready: detailed health (operators only), metrics unless turned off."""
        routes: dict[str, Any] = {"/_gw/health/detailed": self.detailed_health.answer}
        if self.metrics is not None:
            routes["/_gw/metrics"] = MetricsEndpoint(self.metrics).answer
        return routes

    def _edge(self) -> list[Any]:
        """Steps at the edge, each left out when its setting turns it off (a request pays nothing for it)."""
        config = self.config
        edge: list[Any] = []
        if config.security_headers:
            edge.append(SecurityHeaders())
        if self.allowed_hosts is not None:
            edge.append(self.allowed_hosts)
        if config.cors.enabled:
            edge.append(Cors(config.cors, self.origins))
        return edge

    def _policies(self) -> list[Any]:
        """Steps that run once the operation is known and before its request is validated."""
        policies: list[Any] = [Authenticate(self.auth)]
        if any_rate_limit(self.config):
            policies.append(RateLimit(self.config, self.state))  # after auth: `key: user` needs the identity
        return policies

    async def _admit_socket(self, exchange: Exchange, service_name: str) -> None:
        """The handshake meets the service's security, as its HTTP requests do."""
        service = exchange.service = self.services.get(service_name)
        plan = self.auth.plan_for_socket(service) if service is not None else None
        if plan is not None:
            exchange.identity = await plan.admit(exchange)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            guard = scope[GUARD] = BodyGuard(scope, receive)
            exchange = Exchange(scope, guard)
            try:
                await self._http(exchange, scope, receive, send)
            finally:  # the scopes (routing's is a copy) hold them and they hold a scope: unlinked, a request's objects
                for held in (scope, exchange.scope):  # are freed at once, not piled up for the collector's pauses
                    held.pop(GUARD, None)
                    held.pop("gw.exchange", None)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            if self.client_address is not None:
                self.client_address.resolve(scope)
            if await self._refused_host(scope, receive, send):
                return
            if scope["path"] == LIVE_EVENTS_PATH:
                await self.live_events(scope, receive, send)
            else:
                await self.websockets(scope, receive, send)

    async def _http(self, exchange: Exchange, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            response = await self.pipeline(exchange)
        except ClientAborted as aborted:
            self._aborted(exchange, aborted)
            return
        try:
            await send_answer(response, send, receive, head_only=scope["method"] == "HEAD")
        except OSError:
            log.info("client went away", extra={"fields": {"request_id": exchange.request_id}})

    async def _refused_host(self, scope: dict[str, Any], receive: Any, send: Any) -> bool:
        """A WebSocket handshake to a Host not in `allowed_hosts` is refused as an HTTP request would be."""
        if self.allowed_hosts is None:
            return False
        exchange = Exchange(scope, receive)
        problem = self.allowed_hosts.refusal(exchange.headers.get("host", ""))
        if problem is None:
            return False
        await refuse_socket(scope, send, problem, request_id_for(exchange))
        return True
    def _aborted(self, exchange: Exchange, aborted: ClientAborted) -> None:
        """A request whose client left mid-body: nothing was forwarded, recorded or journaled; one line, one count."""
        operation = exchange.operation
        service = operation.service if operation is not None else exchange.service.name if exchange.service else ""
        log.warning("request aborted: %s %s: %s", exchange.method, exchange.path, aborted,
                    extra={"fields": {"request_id": exchange.request_id, "method": exchange.method, "path": exchange.path,
                                      "service": service, "received": aborted.received, "declared": aborted.declared,
                                      "client": exchange.client_ip}})
        if self.metrics is not None:
            self.metrics.aborted(service)

    async def _hello(self) -> dict[str, Any]:
        """The first frame of /_gw/ws: the services and their modes now, so a client can draw at once."""
        return {"services": services_snapshot(self.config, self.services, self.modes, self.chaos.summary)}

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.forwarder.start()
                self.modes.start()
                self.cluster.start()
                self.admin_api.stubs_api.stubs.start()
                self.chaos.switches.start()
                if self.config.reload:
                    self.reloader.start()
                if self.freeze_objects and not gc.get_freeze_count():  # `gw serve` froze it before serving (server.py)
                    _freeze_start_up_objects()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.reloader.stop()
                await self.callbacks.close()
                await self.modes.stop()
                await self.admin_api.stubs_api.stubs.stop()
                await self.cluster.stop()
                await self.chaos.switches.stop()
                await self.forwarder.close()
                await self.state.close()
                if self.metrics is not None:
                    self.metrics.close()  # multiprocess: this worker's live gauges leave the sums
                await send({"type": "lifespan.shutdown.complete"})
                return


def _freeze_start_up_objects() -> None:
    """Specs, validators and routes live as long as the process: move them out of the garbage collector's
    sight, so its full collections stop walking them (they stalled requests for tens of milliseconds: p99
    70 ms → 15 ms at 32 connections on one worker). A reload thaws first, so the old ones can be freed."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def build_app(config: GatewayConfig, keep_going: bool | None = None, loaded: LoadResult | None = None) -> GatewayApp:
    """The gateway for `config` (or for services already loaded); raises the first SpecError unless keep_going."""
    loaded = loaded or load_services(config)
    keep = config.keep_going if keep_going is None else keep_going
    if loaded.errors and not keep:
        raise loaded.errors[0]
    for error in loaded.errors:
        log.warning("service not started: %s", error)
    return GatewayApp(config, loaded)

