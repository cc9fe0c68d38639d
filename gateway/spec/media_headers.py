"""Media types a spec lists as a `Content-Type` or `Accept` header parameter's enum (DigitalOcean:
`enum: [application/json, application/yaml]`) rather than under `requestBody.content` or a response's
`content`. OpenAPI ignores header parameters of those names, so a strict reading refuses a request in a
type the author says is supported (415) and cannot answer one that asks for it (406). The served copy
declares each type a Content-Type parameter lists beside the body's JSON one, with the same schema; an
Accept parameter's types are noted on the operation (`x-gw-accept-listed`) so that asking for one is
answered in the documented type (RFC 9110 lets a server disregard Accept), as clients checking the
documented response types expect. One located warning per parameter.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..core.media_types import base_type, is_json
from .draft import operations_of
from .plain_copy import plain_copy
from .refs import RefError, pointer_target

_HEADERS = {"content-type": "request body", "accept": "responses"}
ACCEPT_LISTED = "x-gw-accept-listed"  # on the served operation: types its Accept parameter lists


def media_header_types(raw: dict[str, Any], spec_file: Path, limit: int = 50) -> tuple[dict[str, Any], list[str]]:
    """The document with media types listed by Content-Type/Accept header parameters declared where they
    belong (`raw` itself when there are none), and a warning per parameter (at most `limit`)."""
    if not _places(raw):
        return raw, []
    served = plain_copy(raw)
    warnings = []
    for place, header, types, operation in _places(served):
        added = _declare(served, operation, header, types)
        if added and header.lower() == "accept":
            warnings.append(f"{spec_file}: {place}: OpenAPI ignores the Accept header parameter; a request asking for "
                            f"{', '.join(added)} is answered in the documented media type, not refused with 406")
        elif added:
            warnings.append(f"{spec_file}: {place}: OpenAPI ignores the {header} header parameter; its media types "
                            f"{', '.join(added)} are read as declared for the request body")
    return served, warnings[:limit]


def _places(document: dict[str, Any]) -> list[tuple[str, str, list[str], dict[str, Any]]]:
    """(place, header name, listed media types, operation) per Content-Type/Accept header parameter with an enum."""
    found = []
    for path, method, operation in operations_of(document):
        shared = (document.get("paths") or {}).get(path, {}).get("parameters") or []
        listed = [(f"paths.{path}.{method}.parameters[{i}]", p) for i, p in enumerate(operation.get("parameters") or [])]
        listed += [(f"paths.{path}.parameters[{i}]", p) for i, p in enumerate(shared if isinstance(shared, list) else [])]
        for place, param in listed:
            param = _local(document, param)
            name = str(param.get("name", ""))
            if param.get("in") != "header" or name.lower() not in _HEADERS:
                continue
            enum = _local(document, param.get("schema")).get("enum") or []
            types = [t for t in enum if isinstance(t, str) and "/" in t and "*" not in t]
            if types:
                found.append((place, name, types, operation))
    return found


def _declare(document: dict[str, Any], operation: dict[str, Any], header: str, types: list[str]) -> list[str]:
    """Add each type beside the first JSON media type of the request body (Content-Type) or of each
    inline response (Accept); the types actually added."""
    if header.lower() == "accept":
        operation[ACCEPT_LISTED] = types
        return types
    holders = [_local(document, operation.get("requestBody"))]
    added: list[str] = []
    for holder in holders:
        content = holder.get("content") if isinstance(holder, dict) and "$ref" not in holder else None
        if not isinstance(content, dict):
            continue
        source = next((media for key, media in content.items() if is_json(key) and isinstance(media, dict)), None)
        present = {base_type(key) for key in content}
        for media in types:
            if source is not None and base_type(media) not in present:
                content[media] = {k: copy.deepcopy(v) for k, v in source.items() if k != "encoding"}
                added += [media] if media not in added else []
    return added


def _local(document: dict[str, Any], node: Any) -> Any:
    """A node, or what its local `$ref` (`#/...`) points to (one step; anything else as it is)."""
    ref = node.get("$ref") if isinstance(node, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node if isinstance(node, dict) else {}
    try:
        found = pointer_target(document, ref[1:])
    except RefError:
        return {}
    return found if isinstance(found, dict) else {}
