"""Turn a chosen example or generated value into the bytes of a response in a given media type."""

from __future__ import annotations

import base64
import json
from typing import Any
from xml.sax.saxutils import escape

import yaml

from ..core.media_types import base_type, is_json
from ..validation.serialization import declared_types

# Small but valid files, for binary responses without an example.
_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/"
    "yQALCAABAAEBAREA/8wABgAQEAX/2gAIAQEAAD8A0s8g/9k=")
_PDF = (b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
BINARY_SAMPLES = {"image/png": _PNG, "image/gif": _GIF, "image/jpeg": _JPEG, "image/jpg": _JPEG,
                  "application/pdf": _PDF}


# what json.dumps(value, separators=(",", ":"), ensure_ascii=False) writes, without making its encoder on each call
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def is_binary(media: str, schema: Any) -> bool:
    base = base_type(media)
    if base in BINARY_SAMPLES or base.startswith(("image/", "audio/", "video/")):
        return True
    if base in ("application/octet-stream", "application/zip", "application/gzip"):
        return True
    return isinstance(schema, dict) and schema.get("format") == "binary" and not is_json(media)


def encode(value: Any, media: str, schema: Any = None) -> bytes:
    """The body for `value` as `media`: JSON, YAML, text, XML, or a small valid binary file (a string given
    for a YAML body whose schema is not a string is YAML text already)."""
    if is_json(media):
        return encode_json(value)
    base = base_type(media)
    if isinstance(value, bytes):
        return value
    if is_binary(media, schema):
        if isinstance(value, str) and value and not (isinstance(schema, dict) and schema.get("format") == "binary"):
            return value.encode()
        return BINARY_SAMPLES.get(base, b"\x00gw-sample\x00")
    if base.endswith("/xml") or base.endswith("+xml"):
        if isinstance(value, str) and value.lstrip().startswith("<"):
            return value.encode()
        return to_xml(value, _xml_root(schema)).encode()
    if is_yaml(media) and not (isinstance(value, str) and "string" not in declared_types(schema)):
        return yaml.safe_dump(value, allow_unicode=True, sort_keys=False).encode()
    if base == "application/x-www-form-urlencoded" and isinstance(value, dict):
        from urllib.parse import urlencode
        return urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}).encode()
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, ensure_ascii=False).encode()


def encode_json(value: Any) -> bytes:
    """`value` as a JSON body: compact, UTF-8 (what `encode` writes for every JSON media type)."""
    return _COMPACT.encode(value).encode()


def json_text(value: Any) -> str:
    """`value` as compact JSON text, non-ASCII characters as they are (a JSON body before it is encoded)."""
    return _COMPACT.encode(value)


def is_yaml(media: str) -> bool:
    """YAML by name: application/yaml, application/x-yaml, text/yaml, text/x-yaml or a `+yaml` type."""
    base = base_type(media)
    return base.split("/")[-1] in ("yaml", "x-yaml") or base.endswith("+yaml")


def content_type(media: str) -> str:
    """The Content-Type for a body `encode` wrote as `media`: text types say their charset (UTF-8, as
    `encode` writes text), so a client does not fall back to ISO-8859-1 or guess."""
    if base_type(media).startswith("text/") and "charset" not in media.lower():
        return f"{media}; charset=utf-8"
    return media


def _xml_root(schema: Any) -> str:
    if isinstance(schema, dict) and isinstance(schema.get("xml"), dict) and schema["xml"].get("name"):
        return str(schema["xml"]["name"])
    return "root"


def to_xml(value: Any, tag: str) -> str:
    if isinstance(value, dict):
        inner = "".join(to_xml(v, str(k)) for k, v in value.items())
        return f"<{tag}>{inner}</{tag}>"
    if isinstance(value, list):
        return "".join(to_xml(item, tag) for item in value) or f"<{tag}/>"
    if value is None:
        return f"<{tag}/>"
    text = json.dumps(value) if isinstance(value, bool) else str(value)
    return f"<{tag}>{escape(text)}</{tag}>"
