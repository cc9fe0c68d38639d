"""RFC 9457 problem details: the one shape every error the gateway makes takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from .json_text import dump_json

PROBLEM_JSON = "application/problem+json"


@dataclass
class Problem(Exception):
    """An error meant for the client. Raise it anywhere in the pipeline; the edge renders it."""

    status: int
    detail: str = ""
    title: str = ""
    slug: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail or self.title)
        if not self.title:
            self.title = _phrase(self.status)
        if not self.slug:
            self.slug = self.title.lower().replace(" ", "-").replace("'", "")

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"/_gw/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body

    def body(self, instance: str | None = None) -> bytes:
        return dump_json(self.to_dict(instance), default=None)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def validation_problem(errors: list[dict[str, Any]], status: int = 400) -> Problem:
    """A request that breaks the spec: every failure listed, each with where it happened."""
    count = len(errors)
    detail = failure_line(errors[0])
    if count > 1:
        detail += f" (and {count - 1} more)"
    return Problem(status, detail=detail, title="Request does not match the contract",
                   slug="validation-error", errors=errors)


def failure_line(error: dict[str, Any]) -> str:
    """One validation failure as text: `query limit: 1000 is greater than the maximum of 100`."""
    where = " ".join(part for part in (error.get("in", ""), error.get("name", "") + error.get("pointer", "")) if part)
    return f"{where}: {error.get('message', '')}" if where else str(error.get("message", ""))
