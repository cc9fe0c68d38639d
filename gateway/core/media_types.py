"""What a media type is, read the same way by request validation, the contract check and the mocker."""

from __future__ import annotations


def base_type(media: str) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return media.split(";")[0].strip().lower()


def is_json(media: str) -> bool:
    """JSON, a `+json` type, or a wildcard that admits JSON."""
    base = base_type(media)
    return base == "application/json" or base.endswith("+json") or base == "*/*" or base == "application/*"
