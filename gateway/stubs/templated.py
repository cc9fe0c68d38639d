"""A templated stub's answer for one request: its variables, the rendering, and the contract's verdict on it.

What a template sees as `request`:
- `request.method`, `request.url` (the path as requested, with its query string);
- `request.path.<param>` and `request.query.<name>`: the values request validation decoded and typed as
  the spec declares them (`?ids=1,2` is [1, 2], `?limit=5` is 5), plus undeclared query parameters as text;
- `request.headers.<name>`: any letter case, `-` or `_` (`request.headers.x_tenant`, `request.headers['X-Tenant']`);
- `request.body`: a JSON body parsed (within the gateway's `json:` limits), a form body decoded as the
  spec's schema types it (validation's own parser), other bodies as text; null when empty.

A rendered answer is checked against the operation's response like every other answer (contract.py); a
violation is logged, counted (`gw_contract_violations`) and marked `X-GW-Contract: violation`. A template
that fails on a request is a 500 problem+json naming the stub file and the place in it.
"""

from __future__ import annotations

import logging
from typing import Any

from ..contract.responses import check_response, mark_violation, report_violations
from ..core.exchange import Exchange, Response
from ..core.media_types import base_type, is_json
from ..core.problems import Problem
from ..settings.policy_settings import TemplateSettings
from ..validation.request import parse_form
from .format import Stub
from .matchers import RequestView
from .sandbox import Budget
from .templates import AnswerTemplate, RenderError

log = logging.getLogger("gw.stubs")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class Folded(dict[str, Any]):
    """Header names in any case, `_` for `-`: `request.headers.x_tenant` is the X-Tenant header."""

    def __getitem__(self, name: str) -> Any:
        key = str(name).lower()
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return dict.__getitem__(self, key.replace("_", "-"))

    def __contains__(self, name: object) -> bool:
        try:
            self[str(name)]
        except KeyError:
            return False
        return True

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[name]
        except KeyError:
            return default


async def templated_answer(stub: Stub, exchange: Exchange, view: RequestView, settings: TemplateSettings) -> Response:
    """Render the stub's template for this request, and hold the result to the contract."""
    template: AnswerTemplate = stub.template
    variables = {"request": await request_variables(exchange, view)}
    try:
        headers, body = template.render(variables, Budget.of(settings))
    except RenderError as exc:
        log.warning("stub template failed: %s: %s", stub.file, exc,
                    extra={"fields": {"request_id": exchange.request_id, "stub": f"{stub.service}/{stub.id}"}})
        raise Problem(500, title="Stub template failed", slug="stub-template-failed",
                      detail=f"{stub.file}: {exc.place}: {exc.reason}"[:600],
                      extra={"stub": f"{stub.service}/{stub.id}", "file": str(stub.file), "place": exc.place}) from None
    response = Response(stub.status, headers, stub.response_body if body is None else body)
    judge(exchange, response)
    return response


def judge(exchange: Exchange, response: Response) -> None:
    """The contract's verdict on a simulated answer: logged, counted (metrics read `notes["contract"]`), marked."""
    service, operation = exchange.service, exchange.operation
    if service is None or operation is None or not isinstance(response.body, bytes):
        return
    violations = check_response(service, operation, response.status, response.header("content-type") or "",
                                response.body, dict(response.headers))
    if not violations:
        return
    report_violations(exchange, response, violations, "templated stub answer", log)
    mark_violation(response, violations)


async def request_variables(exchange: Exchange, view: RequestView) -> dict[str, Any]:
    decoded = exchange.parameters
    query = {name: values[-1] for name, values in view.query.items() if values}
    headers = Folded({name.lower(): value for name, value in view.headers.items()})
    headers.update({str(k).lower(): v for k, v in decoded.get("header", {}).items()})
    query_string = exchange.scope.get("query_string", b"").decode("latin-1")
    return {
        "method": exchange.method,
        "url": exchange.path + (f"?{query_string}" if query_string else ""),
        "path": {**exchange.path_params, **decoded.get("path", {})},
        "query": {**query, **decoded.get("query", {})},
        "headers": headers,
        "body": await _body(exchange, view),
    }


async def _body(exchange: Exchange, view: RequestView) -> Any:
    if not view.body:
        return None
    media = base_type(exchange.headers.get("content-type", "")) or ""
    if is_json(media) or not media:
        try:
            return exchange.request_json(view.body).value()  # parsed once, with validation and matching
        except (ValueError, LookupError):
            if media:
                return view.body.decode("utf-8", "replace")
    if media in _FORMS:
        schema, encoding = _body_schema(exchange, media)
        try:
            return await parse_form(view.body, exchange.scope, schema, encoding,
                                    bool(exchange.service and exchange.service.brackets))
        except Exception:  # starlette's multipart parser raises several kinds on a malformed body
            return None
    return view.body.decode("utf-8", "replace")


def _body_schema(exchange: Exchange, media: str) -> tuple[Any, dict[str, Any]]:
    operation = exchange.operation
    content = ((operation.definition.get("requestBody") or {}).get("content") or {}) if operation else {}
    entry = content.get(media) or {}
    return entry.get("schema") or {}, entry.get("encoding") or {}
