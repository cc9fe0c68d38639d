"""Build each operation of a draft spec as the router and validator will, and leave out the ones that
cannot be built, so one malformed operation costs itself, not the gateway's start.

A spec that passes the OpenAPI structure check is not tried (its operations are well formed, and a
large one would pay twice for compiled validators); a draft is.
"""

from __future__ import annotations

from typing import Any

from connexion.operations import AbstractOperation
from connexion.resolver import Resolution, Resolver
from connexion.spec import Specification

from .spec_draft import operations_of
from .validation import OperationValidator


class _AnyName(Resolver):
    """Every operation resolves: the trial builds operations, it never calls them."""

    def resolve(self, operation: AbstractOperation) -> Resolution:
        return Resolution(_never_called, "trial")


def _never_called(*_args: Any, **_kwargs: Any) -> None:
    raise RuntimeError("a trial operation is never called")


def leave_out_unbuildable(specification: Specification) -> list[tuple[str, str, str]]:
    """Remove from `specification` each operation the router or validator cannot build;
    (path, method, reason) for each."""
    failed = []
    for path, method, _operation in operations_of(specification.spec):
        try:
            built = specification.operation_cls.from_spec(specification, path=path, method=method, resolver=_AnyName())
            OperationValidator(None, operation=built, openapi31=specification.version >= (3, 1, 0))
        except Exception as exc:  # whatever breaks building one operation must not stop the others
            failed.append((path, method, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]))
    for path, method, _reason in failed:
        for document in (specification.spec, specification.raw):
            item = (document.get("paths") or {}).get(path)
            if isinstance(item, dict):
                item.pop(method, None)
    return failed
