"""Build each operation of a draft spec as the router and validator will, and leave out the ones that
cannot be built, so one malformed operation costs itself, not the gateway's start.

A spec that passes the OpenAPI structure check is not tried (its operations are well formed, and a
large one would pay twice for compiled validators); a draft is.
"""

from __future__ import annotations

from ..validation.request import OperationValidator
from .draft import operations_of
from .operations import OperationModel
from .specification import Specification


def leave_out_unbuildable(specification: Specification) -> list[tuple[str, str, str]]:
    """Remove from `specification` each operation the router or validator cannot build;
    (path, method, reason) for each."""
    failed = []
    openapi31 = specification.version >= (3, 1, 0)
    for path, method, _operation in operations_of(specification.spec):
        try:
            OperationValidator(OperationModel(specification, path, method), openapi31=openapi31)
        except Exception as exc:  # whatever breaks building one operation must not stop the others
            failed.append((path, method, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]))
    for path, method, _reason in failed:
        for document in (specification.spec, specification.raw):
            item = (document.get("paths") or {}).get(path)
            if isinstance(item, dict):
                item.pop(method, None)
    return failed
