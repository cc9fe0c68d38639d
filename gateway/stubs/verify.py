"""Does a stub still honour its service's spec? (`gw stubs verify`; `gw stubs prune` removes the stale ones.)"""

from __future__ import annotations

from typing import Any

from ..contract.streams import response_violations
from ..spec.load import Service
from .format import Stub
from .store import stub_operation


def stub_problems(stub: Stub, service: Service) -> list[str]:
    """What is wrong with a stub under the service's current spec, as short sentences."""
    operation = stub_operation(stub, service)
    if operation is None:
        return [f"no operation {stub_target(stub)} in {service.spec_file.name}"]
    content_type = stub.content_type or ""
    rendered = stub.template is not None and stub.template.body is not None  # its body is judged as each request renders it
    return response_violations(service, operation, stub.status, content_type, None if rendered else stub.response_body)


def stub_target(stub: Stub) -> str:
    """The operation a stub names, else its method and path: what it answers, as people read it."""
    return stub.operation or f"{stub.method} {show_path(stub.path)}"


def show_path(path: Any) -> str:
    """A stub's path matcher as text: the path, /regex/, or (any)."""
    if isinstance(path, dict):
        return f"/{path['regex'].pattern}/"
    return str(path) if path is not None else "(any)"
