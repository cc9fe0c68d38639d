"""Prometheus metrics for the gateway: what it answered, from where, how fast, and how its upstreams fare.

One `GatewayMetrics` per app. In one process its metrics live in a registry of its own (never the
global default one), so several apps in one process (tests, `gw contract`) never share counts.
Under `gw serve --workers N` every worker writes its values to files in PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode, chosen when that variable is set before the library is
imported) and a scrape, answered by any worker, adds them all up.

Labels stay bounded: a request is counted under its service and operation key, never its path;
requests no operation matched are counted under `service=""` (or the service whose base path
matched) and `operation=""`. The hot path looks label children up in a dict it fills once per
combination, instead of asking prometheus_client to resolve labels on every request.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from yarl import URL

from .. import __version__
from ..core.events import (
    CIRCUIT_CHANGES,
    Channel,
    CircuitChanged,
    CircuitClosed,
    CircuitHalfOpened,
    CircuitOpened,
    UpstreamAnswered,
    UpstreamFailed,
    WebSocketsChanged,
)

if TYPE_CHECKING:
    from ..core.exchange import Exchange
    from ..forwarder.breaker import Breaker
    from ..forwarder.upstreams import UpstreamPool

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
CIRCUIT_VALUES = {CircuitClosed.after: 0, CircuitHalfOpened.after: 1, CircuitOpened.after: 2}
# From a cached stub answer (well under a millisecond) to a slow upstream (tens of seconds).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SERIES_KEPT = 4096  # label combinations whose children the hot path keeps at hand
RECORDED_SOURCE = "recorded"  # a stub file answered (stub and spy modes; fallback notes it as stub_source)


def multiprocess_mode() -> bool:
    """Whether prometheus_client writes values to PROMETHEUS_MULTIPROC_DIR in this process.

    The library decides once, at import; asking it (not the environment now) keeps us consistent with it.
    """
    return values.ValueClass is not values.MutexValue


@contextlib.contextmanager
def multiprocess_dir() -> Iterator[str]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for the worker processes about to be forked, removed when they are done;
    metrics made inside count into its files (each process into its own, from its first count after the fork).

    Fresh, because files left by an earlier run would be added to this run's counts.
    """
    before, value_class = os.environ.get(MULTIPROC_DIR), values.ValueClass
    path = tempfile.mkdtemp(prefix="gw-metrics-")
    os.environ[MULTIPROC_DIR] = path
    values.ValueClass = values.get_value_class()  # the library read the variable at import: metrics made from now on
    try:
        yield path
    finally:
        values.ValueClass = value_class
        if before is None:
            os.environ.pop(MULTIPROC_DIR, None)
        else:
            os.environ[MULTIPROC_DIR] = before
        shutil.rmtree(path, ignore_errors=True)


def instance_label(url: str) -> str:
    """An upstream instance as a label: its URL without credentials (labels are shown to every scraper)."""
    parsed = URL(url)
    return str(parsed.with_user(None)) if parsed.user or parsed.password else url


class _Series:
    """The children one finished exchange's labels count into, bound once per label combination."""

    __slots__ = ("duration", "key", "requests", "service")

    def __init__(self, key: tuple[str, str], requests: Any, duration: Any, service: _ServiceSeries) -> None:
        self.key = key  # (service, operation): the labels of the rarer counts (contract breaches, chaos)
        self.requests = requests
        self.duration = duration
        self.service = service


@dataclass
class _ServiceSeries:
    rate_limited: Any
    stub_matches: Any
    near_misses: Any
    retries: Any


class _BuildInfo:
    """gw_build_info: constant, so it is made at scrape time in every mode (Info is not multiprocess-safe)."""

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily("gw_build_info", "gw version and Python it runs on; always 1",
                                   labels=["version", "python_version"])
        family.add_metric([__version__, platform.python_version()], 1)
        yield family


class GatewayMetrics:
    """The gateway's metrics and the hooks that feed them; `observe` runs once per finished exchange."""

    def __init__(self) -> None:
        self.multiprocess = multiprocess_mode()
        # In multiprocess mode values go to files, and the scrape registry is built per scrape.
        own = None if self.multiprocess else CollectorRegistry(auto_describe=True)
        self.registry = own
        self.requests = Counter("gw_requests", "Requests answered, by service, operation, mode, status code and "
                                "answer source", ["service", "operation", "mode", "code", "source"], registry=own)
        self.request_duration = Histogram("gw_request_duration_seconds", "Time from request to response head, "
                                          "by service and operation", ["service", "operation"], registry=own,
                                          buckets=LATENCY_BUCKETS)
        self.upstream_duration = Histogram("gw_upstream_request_duration_seconds", "Time for one upstream attempt "
                                           "to answer (or fail), by service and instance", ["service", "instance"],
                                           registry=own, buckets=LATENCY_BUCKETS)
        self.upstream_errors = Counter("gw_upstream_errors", "Failed upstream attempts by kind: timeout, connect, "
                                       "disconnected, incomplete, 5xx, other", ["service", "instance", "kind"],
                                       registry=own)
        self.retries = Counter("gw_upstream_retries", "Upstream attempts repeated after a failure",
                               ["service"], registry=own)
        self.circuit_state = Gauge("gw_upstream_circuit_state", "Circuit breaker per instance: 0 closed, "
                                   "1 half-open, 2 open (the worst across workers)", ["service", "instance"],
                                   registry=own, multiprocess_mode="livemax")
        self.circuit_transitions = Counter("gw_upstream_circuit_transitions", "Circuit breaker state changes, "
                                           "by the state entered", ["service", "instance", "state"], registry=own)
        self.rate_limited = Counter("gw_rate_limited_requests", "Requests refused with 429 by a rate limit",
                                    ["service"], registry=own)
        self.contract_violations = Counter("gw_contract_violations", "Upstream answers that break the spec "
                                           "(the validation proxy)", ["service", "operation"], registry=own)
        self.aborted_requests = Counter("gw_aborted_requests", "Requests whose client left before the end of the "
                                        "body it declared: never forwarded, recorded or answered", ["service"],
                                        registry=own)
        self.stub_matches = Counter("gw_stub_matches", "Requests answered by a stub file", ["service"], registry=own)
        self.near_misses = Counter("gw_stub_near_misses", "Requests no stub file matched while some came close",
                                   ["service"], registry=own)
        self.injected_faults = Counter("gw_injected_faults", "Faults injected on purpose (chaos), by kind: "
                                       "connection_reset, empty_response, malformed_chunk, random_data_then_close, "
                                       "status", ["service", "operation", "kind"], registry=own)
        self.injected_delay = Histogram("gw_injected_delay_seconds", "Delays injected on purpose (chaos)",
                                        ["service", "operation"], registry=own, buckets=LATENCY_BUCKETS)
        self.websocket_connections = Gauge("gw_websocket_connections", "WebSocket connections passing through now",
                                           ["service"], registry=own, multiprocess_mode="livesum")
        if own is not None:
            own.register(_BuildInfo())
            ProcessCollector(registry=own)  # this process's CPU, memory, open files, start time
            PlatformCollector(registry=own)
        self._series: dict[tuple[str, str, str, int, str], _Series] = {}  # at most SERIES_KEPT
        self._services: dict[str, _ServiceSeries] = {}
        self._upstreams: dict[tuple[str, str], tuple[Any, str]] = {}
        self._breakers: list[Breaker] = []

    # --- wiring -------------------------------------------------------------------------------

    def follow(self, events: Channel, pools: Iterable[UpstreamPool]) -> None:
        """Subscribe to every upstream attempt, every circuit move and the open WebSockets; start the circuit
        gauges of the pools' instances at their state now."""
        events.subscribe(UpstreamAnswered, self.upstream_answered)
        events.subscribe(UpstreamFailed, self.upstream_failed)
        events.subscribe(CIRCUIT_CHANGES, self.circuit_changed)
        events.subscribe(WebSocketsChanged, self.websockets_changed)
        for pool in pools:
            for instance in pool.instances:
                breaker = instance.breaker
                self._breakers.append(breaker)
                self.circuit_state.labels(pool.service, instance_label(instance.text)).set(
                    CIRCUIT_VALUES[breaker.state])

    def close(self) -> None:
        """This worker is stopping: its live gauges (circuits, sockets) leave the sums."""
        if self.multiprocess:
            mark_process_dead(os.getpid())

    # --- the hot path -------------------------------------------------------------------------

    def observe(self, exchange: Exchange, status: int, seconds: float, own: bool) -> None:
        """Count one finished exchange that took `seconds`. Requests to the gateway's own /_gw/ endpoints (`own`)
        are not traffic."""
        operation = exchange.operation
        if operation is not None:
            labels = (operation.service, operation.key, exchange.mode, status, exchange.source)
        elif own or exchange.source == "gateway":
            return  # the admin API, dashboard, docs, health, metrics: whichever step answered them
        else:
            labels = (exchange.service.name if exchange.service is not None else "", "", exchange.mode, status,
                      exchange.source)
        series = self._series.get(labels)
        if series is None:
            series = self._bind(labels)
        series.requests.inc()
        series.duration.observe(seconds)
        if exchange.notes:
            self._observe_notes(exchange, series)

    def aborted(self, service: str) -> None:
        """A request cut short by its client (gateway/edge/aborted.py): counted here, never as answered."""
        self.aborted_requests.labels(service).inc()

    def _observe_notes(self, exchange: Exchange, series: _Series) -> None:
        """What the steps noted on the way: stub match or near misses, retries, a 429, a contract breach."""
        notes = exchange.notes
        service = series.service
        if exchange.source == RECORDED_SOURCE or notes.get("stub_source") == RECORDED_SOURCE:
            service.stub_matches.inc()
        elif "near_misses" in notes:
            service.near_misses.inc()
        if notes.get("retries"):
            service.retries.inc(notes["retries"])
        if notes.get("problem") == "rate-limited":
            service.rate_limited.inc()
        if "contract" in notes:
            self.contract_violations.labels(*series.key).inc()
        if "chaos" in notes:
            self._observe_chaos(series.key, notes["chaos"])

    def _observe_chaos(self, key: tuple[str, str], injected: dict[str, Any]) -> None:
        """A delay or a fault injected on purpose (gateway/chaos/step.py): rare enough to resolve labels here."""
        if "delay_ms" in injected:
            self.injected_delay.labels(*key).observe(injected["delay_ms"] / 1000)
        if "fault" in injected:
            self.injected_faults.labels(*key, injected["fault"]).inc()

    def _bind(self, labels: tuple[str, str, str, int, str]) -> _Series:
        """The children of one label combination, through prometheus_client's `labels()`; kept for the next request
        while fewer than SERIES_KEPT are (an upstream answering ever new status codes cannot grow it without end)."""
        name, operation, mode, status, source = labels
        service = self._services.get(name)
        if service is None:
            service = self._services[name] = _ServiceSeries(
                self.rate_limited.labels(name), self.stub_matches.labels(name), self.near_misses.labels(name),
                self.retries.labels(name))
        series = _Series((name, operation), self.requests.labels(name, operation, mode, str(status), source),
                         self.request_duration.labels(name, operation), service)
        if len(self._series) < SERIES_KEPT:
            self._series[labels] = series
        return series

    def upstream_answered(self, event: UpstreamAnswered) -> None:
        """One attempt on one upstream instance got an answer: its latency, and a 5xx as an error."""
        key = (event.service, event.instance)
        bound = self._upstreams.get(key) or self._bind_upstream(key)
        bound[0].observe(event.seconds)
        if event.status >= 500:
            self.upstream_errors.labels(event.service, bound[1], "5xx").inc()

    def upstream_failed(self, event: UpstreamFailed) -> None:
        """One attempt failed without an answer (its latency too), or its answer broke off (`incomplete`)."""
        key = (event.service, event.instance)
        bound = self._upstreams.get(key) or self._bind_upstream(key)
        if event.seconds is not None:
            bound[0].observe(event.seconds)
        self.upstream_errors.labels(event.service, bound[1], event.kind).inc()

    def _bind_upstream(self, key: tuple[str, str]) -> tuple[Any, str]:
        label = instance_label(key[1])
        bound = self._upstreams[key] = (self.upstream_duration.labels(key[0], label), label)
        return bound

    def circuit_changed(self, event: CircuitChanged) -> None:
        instance = instance_label(event.instance)
        self.circuit_state.labels(event.service, instance).set(CIRCUIT_VALUES[event.after])
        self.circuit_transitions.labels(event.service, instance, event.after).inc()

    def websockets_changed(self, event: WebSocketsChanged) -> None:
        """A WebSocket connection opened (+1) or closed (-1)."""
        self.websocket_connections.labels(event.service).inc(event.delta)

    # --- the scrape -----------------------------------------------------------------------------

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics in the format the scraper asked for (Prometheus text, or OpenMetrics), and its type."""
        for breaker in self._breakers:
            breaker.snapshot()  # an open circuit whose time is up turns half-open lazily: let it, before we report
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self._scrape_registry()), content_type

    def _scrape_registry(self) -> CollectorRegistry:
        if self.registry is not None:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # every worker's files, added up
        registry.register(_BuildInfo())
        return registry
