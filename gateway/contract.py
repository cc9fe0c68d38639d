"""Does a response honour the contract? The status must be declared, the media type offered, and
a JSON body valid against its schema. Used when recording (the stub's metadata says so) and,
later, by the validation proxy."""

from __future__ import annotations

import json
from typing import Any

from .mocker.media import base_type, is_json
from .mocker.mocker import body_validator
from .specs import Operation, Service


def response_violations(service: Service, operation: Operation, status: int, content_type: str,
                        body: bytes) -> list[str]:
    """Each way the response breaks the operation's declared responses, as short sentences."""
    declared = operation.responses
    key = next((k for k in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default") if k in declared), None)
    if key is None:
        return [f"status {status} is not declared (declared: {', '.join(sorted(declared)) or 'none'})"]
    content = declared[key].get("content") or {}
    if not content or not body:
        return []
    media = _declared_media(content, content_type)
    if media is None:
        return [f"content type {content_type or '(none)'} is not declared for {key} (declared: {', '.join(content)})"]
    checker = body_validator(service, operation, key, media)
    if checker is None or not is_json(media):
        return []
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return [f"body is not valid JSON: {exc}"]
    try:
        errors = checker.iter_errors(document)
    except Exception as exc:  # a schema the validator cannot apply
        return [f"body could not be checked: {exc}"]
    return [f"body{_pointer(e)}: {e.message[:200]}" for e in list(errors)[:10]]


def _declared_media(content: dict[str, Any], content_type: str) -> str | None:
    received = base_type(content_type) if content_type else ""
    for media in content:
        declared = base_type(media)
        if declared == received or declared in ("*/*", "") or (declared.endswith("/*") and
                                                               received.startswith(declared[:-1])):
            return media
    return None


def _pointer(error: Any) -> str:
    return "".join(f"/{p}" for p in error.absolute_path)
