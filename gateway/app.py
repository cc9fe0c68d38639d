"""Assemble the gateway: load every service's spec, then chain the pipeline a request walks.

    observe (edge/observe.py: client address, request id; metrics, access log, journal) -> security headers
      -> allowed hosts -> CORS -> problem+json -> body limit (and the body's end: an upload cut short is never whole)
      -> /_gw/ endpoints -> router (routing/router.py: route, policies (auth, rate limit), validate)
      -> chaos (delays and faults on purpose) -> mode dispatch (mocker | forwarder)
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from .auth.setup import Auth, auth_errors
from .auth.upstream import UpstreamIdentity
from .callbacks.sender import CallbackSender
from .callbacks.step import callback_step
from .chaos.step import Chaos
from .chaos.switches import ChaosSwitches
from .contract.step import ResponseContract
from .core import json_limits
from .core.events import Channel
from .core.exchange import Exchange
from .core.logs import flush_access_log
from .core.pipeline import Pipeline
from .core.streaming import send_answer
from .dispatch.step import ModeDispatch
from .edge.aborted import GUARD, BodyGuard, ClientAborted, declared_length
from .edge.body_limit import BodyLimit
from .edge.client_address import ClientAddress
from .edge.cors import Cors, OriginMatcher
from .edge.cross_site import CrossSiteGuard
from .edge.errors import ProblemResponses
from .edge.hardening import AllowedHosts, OwnPages, SecurityHeaders, rebinding_proof
from .edge.observe import Observe, request_id_for
from .edge.own_paths import OwnPaths
from .forwarder import Forwarder
from .forwarder.websockets import WebSocketPassThrough
from .forwarder.websockets import refuse as refuse_socket
from .mocker import Mocker
from .mocker.streams import Pacing
from .operator.admin import AdminAccess
from .operator.admin.api import AdminApi
from .operator.admin.parts import AdminParts, CircuitReset
from .operator.cluster import Cluster
from .operator.endpoints.auth import AuthEndpoints
from .operator.endpoints.dashboard import Dashboard, services_snapshot
from .operator.endpoints.docs import ServiceDocs
from .operator.endpoints.health import GatewayEndpoints
from .operator.endpoints.health_detailed import DetailedHealth, HealthFacts
from .operator.endpoints.live_events import PATH as LIVE_EVENTS_PATH
from .operator.endpoints.live_events import LiveEvents
from .operator.endpoints.metrics import MetricsEndpoint
from .operator.events import EventBus
from .operator.journal import Journal
from .operator.metrics import GatewayMetrics
from .operator.state import GatewayState
from .policies.authenticate import Authenticate
from .policies.rate_limit import RateLimit, RateLimitLevels, any_rate_limit
from .routing.router import Router
from .runtime.modes import Modes
from .runtime.reload import Reloader
from .runtime.reload_worker import Bounds, bounded_loader
from .runtime.shared_state import open_state
from .settings.config import ConfigError, GatewayConfig, ServiceConfig
from .settings.origin import SettingsOrigin
from .simulation.simulator import Simulation
from .spec.load import LoadResult, Service, SpecError, load_spec
from .stubs import StubStore
from .stubs.recorder import Recorder
from .stubs.redaction import Redactor
from .stubs.replay import Replay

log = logging.getLogger("gw")


ServiceLoader = Callable[[ServiceConfig], Service]


def load_services(config: GatewayConfig, deep_check: str = "later", check_auth: bool = True,
                  loader: ServiceLoader | None = None) -> LoadResult:
    """Every configured spec, loaded; failures collected, one SpecError each. A reload leaves out the
    auth check (`check_auth`): settings do not change while running, only specs and stubs do, and brings
    its own `loader` (gateway/runtime/reload_worker.py: read in a bounded worker process)."""
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
        self.channel = Channel()  # the one event channel: publishers below, subscribers plugged in here
        self.events = EventBus(self.channel)  # live feed for the dashboard and `gw journal --follow`
        self.modes = Modes(config.services, self.state, self.channel)  # the modes now: runtime switches, via Redis
        read_from = SettingsOrigin.of(config)  # errors name the file; key files are read from its folder
        self.auth = Auth.build(config.auth, config.services, read_from, self.state)
        self.admin_access = AdminAccess(config.admin, self.auth, config.source)
        self.forwarder = Forwarder(config.services, self.state, self.channel,  # breakers shared through a Redis state
                                   UpstreamIdentity(config.services, config.auth.jwt, read_from))  # forward/strip/bearer/mint
        self.stubs = StubStore(config.stubs_path(), list(config.services))
        self.recorder = Recorder(self.stubs, {}, {n: ", ".join(s.upstream) for n, s in config.services.items()},
                                 keep_versions=config.record_versions, max_body=config.record.max_body,
                                 events=self.channel)
        contracts = {name: config.contract_for(name) for name in config.services}  # each service's effective block
        self.contract = ResponseContract(contracts)  # kept across reloads: its counts are the gateway's
        self.origins = OriginMatcher(config.cors.origins)  # one matcher (and its cache) for CORS and WebSockets
        origins = self.origins.allows if config.cors.enabled else None
        self.websockets = WebSocketPassThrough(config.services, self.forwarder, self._admit_socket, origins, self.modes)
        spec_paths = {name: config.spec_path(s) for name, s in config.services.items()}
        bounds = Bounds.of(config)  # what one reload may cost: the hot reloader's and the admin API's
        self.reloader = Reloader(self.stubs, partial(_reload_specs, config, bounds), lambda: self.services, self.reassemble,
                                 config.reload_interval, bounds, spec_paths)
        self.journal = Journal(config.admin.journal_size)  # the last exchanges, for /_gw/api/journal
        self.cluster = Cluster(self.state, config.workers)  # questions every gateway process answers (admin API)
        self.callbacks = CallbackSender(config.callbacks, self.journal, self.channel)  # callbacks and webhooks gw sends
        self.chaos = Chaos(config.services, config.chaos, config.streams,  # delays and faults
                           ChaosSwitches(config.services, self.state, self.channel))
        # the read model the admin API, the dashboard and detailed health answer from; it follows each assembly
        self.gateway_state = GatewayState(config.services, {n: str(path) for n, path in spec_paths.items()},
                                          self.modes, self.forwarder.instances, self.stubs, self.chaos.summary)
        self.admin_api = AdminApi(self.gateway_state, AdminParts(  # /_gw/api/, described by gateway/operator/admin/openapi.yaml
            self.admin_access, self.modes, CircuitReset(self.forwarder.instances, self.forwarder.circuits), self.stubs,
            self.journal, self.chaos, self.callbacks, self.state, self.cluster, bounds, self._redactor,
            lambda: self.simulation))
        self.admin_service = self.admin_api.service  # that document as a Service (name gw-admin), for Swagger UI
        self.allowed_hosts = AllowedHosts(config.allowed_hosts) if config.allowed_hosts else None  # HTTP and sockets
        own_host = self.allowed_hosts.allows if self.allowed_hosts else partial(rebinding_proof, bind_host=config.host)
        self.own_pages = OwnPages(own_host, origins)  # browser pages that speak for the gateway (/_gw/ws, /_gw/api)
        self.live_events = LiveEvents(self.events, self.admin_access, self._hello, origins,  # /_gw/ws, operators only
                                      own_host=own_host)
        self.metrics = GatewayMetrics() if config.metrics else None  # kept across reloads, as the contract's counts
        if self.metrics is not None:
            self.metrics.follow(self.channel, self.forwarder.pools.values())
        self.detailed_health = DetailedHealth(self.gateway_state, self.admin_access, self.state, self.started,
                                              HealthFacts(config.workers, config.metrics, config.redis_url))
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
            self._observe(),  # request id, client address; then metrics, access log, journal: sees every answer as sent
            *self._edge(),  # security headers, allowed hosts, CORS: outside problem+json, so errors get them too
            ProblemResponses(),
            BodyLimit(self.config.max_body, per_service_limits),  # and a success waits for the body's end (aborted.py)
            OwnPaths([  # /_gw/...: a service's request skips these with one prefix test
                CrossSiteGuard(self.own_pages),  # a foreign page's form cannot change state through /_gw/api or /_gw/auth
                AuthEndpoints(self.auth),
                self.admin_api,  # /_gw/api/: before /_gw/ endpoints, which answer 404 for the rest
                Dashboard(self.admin_access, self.gateway_state),
                ServiceDocs(services, [self.admin_service]),  # /_gw/docs: Swagger UI per service, public
                GatewayEndpoints(services, [str(e) for e in loaded.errors], self.forwarder,
                                 self._gateway_routes(), self.started, self.modes),
            ]),
            Router(services, policies=self._policies()),
            *([self.contract] if self._contract_checked() else []),  # the validation proxy, unless no service checks
            *callback_step(services, self.callbacks, self.config.callbacks.enabled),  # only where a spec has callbacks
            self.chaos,  # last: its faults replace the answer as it leaves dispatch
        ]
        self.simulation = Simulation.build(self.config.services, self.config.stubs_path(), services, self.state,  # `state:` on
                                           self.contract.violations)
        dispatch = ModeDispatch(self.modes.now, mocker, self.forwarder, self.recorder, self.simulation)
        self.services, self.loaded = services, loaded
        self.gateway_state.follow(services, loaded.errors)
        self.pipeline = Pipeline(steps, dispatch)

    def _observe(self) -> Observe:
        """The first step (edge/observe.py), counting for the metrics only when they are on."""
        metrics = self.metrics
        return Observe(self.journal, self.channel, self.config.admin.journal_max_body,
                       metrics.observe if metrics is not None else None, metrics.aborted if metrics is not None else None,
                       self.client_address)

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
        security = SecurityHeaders() if config.security_headers else None
        if security is not None:
            edge.append(security)
        if self.allowed_hosts is not None:
            edge.append(self.allowed_hosts)
        if config.cors.enabled:
            if edge and edge[-1] is security:  # next to each other: one frame puts both sets of headers on
                edge[-1] = Cors(config.cors, self.origins, then=security.amend)
            else:
                edge.append(Cors(config.cors, self.origins))
        return edge

    def _contract_checked(self) -> bool:
        """Whether any service judges upstream answers (`contract.check`, which no runtime switch changes: a mode
        switch to live on a service that does not check still judges nothing)."""
        return any(settings.check for settings in self.contract.contracts.values())

    def _policies(self) -> list[Any]:
        """Steps that run once the operation is known and before its request is validated."""
        policies: list[Any] = [Authenticate(self.auth)]
        levels = RateLimitLevels.of(self.config)
        if any_rate_limit(levels):
            policies.append(RateLimit(levels, self.state))  # after auth: `key: user` needs the identity
        return policies

    async def _admit_socket(self, exchange: Exchange, service_name: str) -> None:
        """The handshake meets the service's security, as its HTTP requests do."""
        service = exchange.service = self.services.get(service_name)
        plan = self.auth.plan_for_socket(service) if service is not None else None
        if plan is not None:
            exchange.identity = await plan.admit(exchange)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._other(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared[0]:  # a body: read through its guard (an upload cut short is never answered as whole)
            exchange = Exchange(scope, BodyGuard(scope, receive, declared))
            scope[GUARD] = exchange.receive
        else:
            exchange = Exchange(scope, receive, bodyless=True)  # no body: nothing to guard, nothing to wait for
        try:
            response = await self.pipeline.handler(exchange)
            await send_answer(response, send, receive, head_only=scope["method"] == "HEAD")
        except ClientAborted:
            pass  # nobody to answer: the observe step logged and counted it (edge/observe.py)
        except OSError:
            log.info("client went away", extra={"fields": {"request_id": exchange.request_id}})
        finally:  # the scopes (routing's is a copy) hold the guard and it holds a scope: unlinked, a request's objects
            if not exchange.bodyless:  # are freed at once, not piled up for the collector's pauses
                scope.pop(GUARD, None)
                exchange.scope.pop(GUARD, None)

    async def _other(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The lifespan, and WebSockets (gw's live feed, or a service's socket passed through)."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            if self.client_address is not None:
                self.client_address.resolve(scope)
            if await self._refused_host(scope, receive, send):
                return
            if scope["path"] == LIVE_EVENTS_PATH:
                await self.live_events(scope, receive, send)
            else:
                await self.websockets(scope, receive, send)

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

    async def _hello(self) -> dict[str, Any]:
        """The first frame of /_gw/ws: the services and their modes now, so a client can draw at once."""
        return {"services": services_snapshot(self.gateway_state)}

    def _redactor(self, service: str | None) -> Redactor:
        """The service's recording redactor (its spec's API-key names, the `redact` setting), else the defaults."""
        found = self.recorder.redactors.get(service) if service else None
        return found or Redactor.for_spec({}, self.config.redact.as_tables())

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
                await self.channel.close()
                await self.state.close()
                if self.metrics is not None:
                    self.metrics.close()  # multiprocess: this worker's live gauges leave the sums
                flush_access_log()  # the last requests' lines, before the loop that would write them ends
                await send({"type": "lifespan.shutdown.complete"})
                return


def _reload_specs(config: GatewayConfig, bounds: Bounds) -> LoadResult:
    """A reload's load: the specs only (settings do not change while running), each read in a bounded worker."""
    return load_services(config, deep_check="cached", check_auth=False, loader=bounded_loader(config, bounds))


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

