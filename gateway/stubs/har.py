"""Import a browser's HAR export as stubs: each entry whose path falls under a service's base
path and matches one of its operations becomes a stub, redacted like a live recording."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..contract.streams import response_violations
from ..settings.config import ConfigError
from ..spec.load import Service, find_operation
from .recorder import Captured, Recorded, Recorder


class HarError(ConfigError):
    """A HAR file that cannot be read: `file: place: reason`."""


@dataclass
class ImportReport:
    recorded: list[Recorded] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "GET https://cdn/x: no service's base path matches"


def import_har(file: Path, services: dict[str, Service], recorder: Recorder) -> ImportReport:
    report = ImportReport()
    for index, entry in enumerate(read_entries(file)):
        place = f"log.entries[{index}]"
        try:
            request, response = entry["request"], entry["response"]
            method, url = str(request["method"]).upper(), str(request["url"])
            status = int(response["status"])
        except (KeyError, TypeError, ValueError):
            raise HarError(str(file), place, "an entry needs request.method, request.url and response.status") from None
        parts = urlsplit(url)
        path = unquote(parts.path) or "/"
        if status < 100:  # the browser got no answer (blocked, aborted)
            report.skipped.append(f"{method} {url}: no response was received")
            continue
        found = find_operation(services, method, path)
        if found is None:
            report.skipped.append(f"{method} {url}: no service operation matches")
            continue
        service, operation = found
        captured = Captured(
            method=method, path=path, query_string=parts.query, headers=_headers(request), body=_request_body(request),
            status=status, response_headers=_headers(response), response_body=_response_body(response, file, place),
            source=f"HAR {file.name} ({parts.scheme}://{parts.netloc})")
        violations = response_violations(service, operation, status, captured_header(captured), captured.response_body)
        report.recorded.append(recorder.save(service, operation, captured, violations))
    return report


def captured_header(captured: Captured) -> str:
    return next((v for k, v in captured.response_headers if k.lower() == "content-type"), "")


def read_entries(file: Path) -> list[dict[str, Any]]:
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HarError(str(file), "", exc.strerror or str(exc)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise HarError(str(file), "", f"not valid JSON: {exc}") from None
    entries = document.get("log", {}).get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise HarError(str(file), "log.entries", "missing: not a HAR file")
    return [e for e in entries if isinstance(e, dict)]


def _headers(message: dict[str, Any]) -> list[tuple[str, str]]:
    headers = []
    for header in message.get("headers") or []:
        if isinstance(header, dict) and not str(header.get("name", ":")).startswith(":"):
            headers.append((str(header["name"]), str(header.get("value", ""))))
    return headers


def _request_body(request: dict[str, Any]) -> bytes:
    post = request.get("postData") or {}
    text = post.get("text")
    return text.encode() if isinstance(text, str) else b""


def _response_body(response: dict[str, Any], file: Path, place: str) -> bytes:
    content = response.get("content") or {}
    text = content.get("text")
    if not isinstance(text, str):
        return b""
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text)
        except ValueError:
            raise HarError(str(file), f"{place}.response.content.text", "not valid base64") from None
    return text.encode()
