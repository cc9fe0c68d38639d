"""The gateway as an operator sees it: one read model for the admin API, the dashboard and detailed health.

Each of those surfaces used to walk the app's parts itself (the forwarder's pools, the stub store, the
settings the mode switches write), three times over and each a little differently. `GatewayState` is built
from the parts it reads, never from the app, and answers from them as they are at the moment of asking: a
mode switched in another process, a circuit opened a moment ago, a stub file just added. A reload swaps the
services: the app hands each assembly's to `follow`. It only reads; acting (switching a mode, resetting a
circuit, deleting a stub) stays with the objects that own the change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..runtime.modes import FROM_SERVICE
from ..settings.config import ServiceConfig, mount_prefix

if TYPE_CHECKING:
    from ..forwarder.instances import Instance
    from ..spec.load import Service
    from ..stubs import Stub

class ModeTable(Protocol):
    """The modes in effect (gateway/runtime/modes.py `Modes`)."""

    def effective(self, service: str, operation: str | None = None) -> tuple[str, str]: ...


class StubCounts(Protocol):
    """What the read model asks the stub store (gateway/stubs/store.py `StubStore`)."""

    errors: Sequence[object]

    def all(self, service: str | None = None) -> list[Stub]: ...


@dataclass(frozen=True, slots=True)
class OperationView:
    """One operation: where it is served at the gateway, its mode in effect and whence, its own stubs."""

    key: str
    method: str
    path: str  # the full path at the gateway, base path included
    mode: str
    mode_from: str
    stubs: int  # stub files and API stubs bound to this operation (`meta.operation`)

    @property
    def override(self) -> bool:
        """It has a mode of its own (gateway.yaml's or switched), rather than its service's."""
        return self.mode_from != FROM_SERVICE

    def to_json(self) -> dict[str, Any]:
        """As the admin API, the dashboard and the `hello` frame of /_gw/ws show an operation."""
        return {"key": self.key, "method": self.method, "path": self.path, "mode": self.mode, "override": self.override}


@dataclass(frozen=True, slots=True)
class InstanceView:
    """One upstream instance: its circuit, its health check and its requests in flight, as they are now."""

    url: str  # as gateway.yaml names it
    address: str  # as parsed: /_gw/ready and detailed health key instances by it
    snapshot: dict[str, Any]  # the forwarder's own view: weight, in_flight, health (+ health_detail), circuit
    checked_at: float  # time.time() of the last health probe; 0: never probed

    @property
    def health(self) -> str:
        return str(self.snapshot["health"])

    @property
    def circuit(self) -> str:
        return str(self.snapshot["circuit"]["state"])

    def to_json(self) -> dict[str, Any]:
        """As the admin API and the dashboard list an instance."""
        return {"url": self.url, **self.snapshot}


@dataclass(frozen=True, slots=True)
class ServiceView:
    """One service as the operator sees it; `loaded` is False while its spec could not be loaded."""

    name: str
    base_path: str
    spec: str  # the spec's file as configured (for a spec URL, its cached copy)
    spec_file: str | None  # the file the loaded spec was read from
    title: str
    openapi: str | None  # the spec's OpenAPI version, e.g. "3.1.0"
    loaded: bool
    upstream: tuple[str, ...]
    mode: str
    mode_from: str
    operations: tuple[OperationView, ...]
    instances: tuple[InstanceView, ...]
    stubs: int  # every stub of the service, bound to an operation or not
    health_check: str | None
    warnings: tuple[str, ...]
    chaos: str  # the chaos in effect, in one line ("off" when none)

    def operation_modes(self) -> dict[str, str]:
        """The operations with a mode of their own, and that mode."""
        return {op.key: op.mode for op in self.operations if op.override}

    def to_json(self) -> dict[str, Any]:
        """What every operator surface shows of a service (the admin API and the dashboard add their own fields)."""
        return {"name": self.name, "base_path": self.base_path, "mode": self.mode, "mode_from": self.mode_from,
                "operations": [op.to_json() for op in self.operations],
                "instances": [i.to_json() for i in self.instances], "stubs": self.stubs}


class GatewayState:
    """Services, operations, modes, instances, stubs and load problems, read from the parts that hold them."""

    def __init__(self, settings: Mapping[str, ServiceConfig], spec_paths: Mapping[str, str], modes: ModeTable,
                 instances: Callable[[str], Sequence[Instance]], stubs: StubCounts,
                 chaos: Callable[[str], str] | None = None) -> None:
        self.settings = settings
        self.spec_paths = spec_paths
        self.modes = modes
        self._instances = instances
        self.stubs = stubs
        self.chaos = chaos
        self.specs: dict[str, Service] = {}  # the loaded services, as the pipeline serves them now
        self.load_errors: list[str] = []

    def follow(self, specs: Mapping[str, Service], load_errors: Sequence[object]) -> None:
        """The services an assembly serves: at start, and again after each reload."""
        self.specs = dict(specs)
        self.load_errors = [str(e) for e in load_errors]

    # -- questions ---------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Every configured service, in gateway.yaml's order (loaded or not)."""
        return list(self.settings)

    @property
    def stub_errors(self) -> list[str]:
        return [str(e) for e in self.stubs.errors]

    def services(self) -> list[ServiceView]:
        return [self.service(name) for name in self.settings]

    def service(self, name: str) -> ServiceView:
        """The service named (KeyError for one not configured)."""
        settings = self.settings[name]
        spec = self.specs.get(name)
        stubs = self.stubs.all(name)
        mode, mode_from = self.modes.effective(name)
        return ServiceView(
            name=name, base_path=settings.base_path, spec=self.spec_paths[name],
            spec_file=str(spec.spec_file) if spec is not None else None,
            title=spec.title if spec is not None else name,
            openapi=".".join(str(n) for n in spec.version) if spec is not None else None,
            loaded=spec is not None, upstream=tuple(settings.upstream), mode=mode, mode_from=mode_from,
            operations=self._operations(name, Counter(s.operation for s in stubs if s.operation)),
            instances=tuple(self.instances(name)), stubs=len(stubs),
            health_check=settings.health_check.path or None,
            warnings=tuple(spec.warnings) if spec is not None else (),
            chaos=self.chaos(name) if self.chaos is not None else "off")

    def has_operation(self, name: str, key: str) -> bool:
        spec = self.specs.get(name)
        return spec is not None and key in spec.operations

    def operation(self, name: str, key: str) -> OperationView:
        """One operation of a loaded service (KeyError for one not served)."""
        bound = Counter(s.operation for s in self.stubs.all(name) if s.operation == key)
        return self._operation(name, key, bound)

    def instances(self, name: str) -> list[InstanceView]:
        return [self.view(i) for i in self._instances(name)]

    @staticmethod
    def view(instance: Instance) -> InstanceView:
        """One instance as it is now."""
        return InstanceView(instance.breaker.url or instance.text, instance.text, instance.snapshot(), instance.checked_at)

    # -- building views ----------------------------------------------------------------------------

    def _operations(self, name: str, bound: Counter[str]) -> tuple[OperationView, ...]:
        spec = self.specs.get(name)
        if spec is None:
            return ()
        return tuple(self._operation(name, key, bound) for key in spec.operations)

    def _operation(self, name: str, key: str, bound: Counter[str]) -> OperationView:
        operation = self.specs[name].operations[key]
        mode, mode_from = self.modes.effective(name, key)
        path = mount_prefix(self.settings[name].base_path) + operation.path
        return OperationView(operation.key, operation.method, path, mode, mode_from, bound[key])
