"""A loaded spec as the gateway reads it: the document as written, the document served, its version and security.

Until session 6 this was a subclass of connexion's Specification overriding its private parts; gw resolves
references itself (spec_refs.py) and checks the document itself (spec_checks.py, spec_structure.py), so what is
left is small and ours: the defaults OpenAPI implies (Swagger 2.0's `consumes`, 3.x's `components`), set where
connexion set them, so every reader of `spec` sees the same document as before.
"""

from __future__ import annotations

from typing import Any

from .plain_copy import plain_copy
from .refs import resolve_in_place


class Specification:
    """`raw`: the document as written (before defaults); `spec`: defaults set and local references resolved in
    place; `version`: the `openapi`/`swagger` field as a tuple of ints (`3.1.0` is (3, 1, 0))."""

    def __init__(self, raw_spec: dict[str, Any]) -> None:
        """`raw_spec` is resolved in place (it becomes `spec`); `raw` keeps a copy as written."""
        self.raw = plain_copy(raw_spec)
        self.swagger2 = str(raw_spec.get("swagger", "")) == "2.0"
        _set_defaults(raw_spec, self.swagger2)
        self.spec = resolve_in_place(raw_spec)
        self.version = version_tuple(self.spec)

    @property
    def security(self) -> list[dict[str, list[str]]] | None:
        """The document's default security requirements (None: none declared)."""
        return self.spec.get("security")

    @property
    def security_schemes(self) -> dict[str, Any]:
        """The named security schemes: 3.x `components.securitySchemes`, 2.0 `securityDefinitions`."""
        if self.swagger2:
            return self.spec.get("securityDefinitions") or {}
        return (self.spec.get("components") or {}).get("securitySchemes") or {}

    @property
    def consumes(self) -> list[str]:
        """Swagger 2.0: the media types operations take unless they say otherwise ([] for 3.x)."""
        return list(self.spec.get("consumes") or []) if self.swagger2 else []

    def path_parameters(self, path: str) -> list[dict[str, Any]]:
        """The parameters a path item declares for all its operations."""
        item = (self.spec.get("paths") or {}).get(path)
        parameters = item.get("parameters") if isinstance(item, dict) else None
        return [p for p in parameters if isinstance(p, dict)] if isinstance(parameters, list) else []

    def operation(self, path: str, method: str) -> dict[str, Any]:
        """The resolved operation object at `paths.<path>.<method>` (method lower case)."""
        return self.spec["paths"][path][method]


def _set_defaults(spec: dict[str, Any], swagger2: bool) -> None:
    """What the OpenAPI versions imply when absent: Swagger 2.0 takes JSON unless `consumes` says otherwise."""
    if swagger2:
        spec.setdefault("produces", [])
        spec.setdefault("consumes", ["application/json"])
        spec.setdefault("definitions", {})
        spec.setdefault("parameters", {})
        spec.setdefault("responses", {})
    else:
        spec.setdefault("components", {})


def version_tuple(spec: dict[str, Any]) -> tuple[int, ...]:
    """`3.0.3` as (3, 0, 3), `2.0` as (2, 0); a part that is not a number ends it (`3.1.0-rc1` is (3, 1))."""
    parts: list[int] = []
    for part in str(spec.get("openapi") or spec.get("swagger") or "").split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)
