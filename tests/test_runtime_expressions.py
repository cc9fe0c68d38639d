"""OpenAPI runtime expressions: the ABNF's cases, parsed and evaluated (gateway/callbacks/expressions.py)."""

from __future__ import annotations

import json

import pytest

from gw.callbacks.expressions import (
    Context,
    ExpressionError,
    Message,
    Unresolved,
    expand,
    parse,
    parse_template,
)

BODY = {"callbackUrl": "http://127.0.0.1:9000/hook", "a/b": {"m~n": 7}, "items": [{"id": "x1"}, {"id": "x2"}],
        "flag": True, "count": 3, "nothing": None, "": "empty key"}


def context() -> Context:
    return Context(
        url="http://gw.test/orders?x=1",
        method="post",
        status_code=201,
        request=Message(headers={"X-Callback-Host": "hooks.test", "Content-Type": "application/json"},
                        query={"queryUrl": "http://127.0.0.1:9001/q", "empty": ""},
                        path={"order_id": "42"}, body=json.dumps(BODY).encode(), media_type="application/json"),
        response=Message(headers={"location": "/orders/42"}, body=b'{"id": "ord_1", "nested": {"n": 2}}',
                         media_type="application/json"),
    )


@pytest.mark.parametrize(("expression", "value"), [
    ("$url", "http://gw.test/orders?x=1"),
    ("$method", "POST"),
    ("$statusCode", 201),
    ("$request.header.x-callback-host", "hooks.test"),
    ("$request.header.X-CALLBACK-HOST", "hooks.test"),  # header names are case-insensitive
    ("$request.query.queryUrl", "http://127.0.0.1:9001/q"),
    ("$request.query.empty", ""),
    ("$request.path.order_id", "42"),
    ("$request.body", BODY),
    ("$request.body#", BODY),  # an empty pointer is the whole document
    ("$request.body#/callbackUrl", "http://127.0.0.1:9000/hook"),
    ("$request.body#/a~1b/m~0n", 7),  # ~1 is /, ~0 is ~
    ("$request.body#/items/1/id", "x2"),
    ("$request.body#/flag", True),
    ("$request.body#/nothing", None),
    ("$request.body#/", "empty key"),  # "/" points at the key ""
    ("$response.body#/id", "ord_1"),
    ("$response.body#/nested/n", 2),
    ("$response.header.Location", "/orders/42"),
])
def test_each_abnf_source_evaluates_to_the_exchange_value(expression: str, value: object) -> None:
    assert parse(expression).evaluate(context()) == value


@pytest.mark.parametrize("text", [
    "$uri", "$statuscode", "url", "$request", "$request.", "$request.cookie.a", "$response.bodyx",
    "$request.header.", "$request.header.bad name", "$request.header.a:b", "$request.body#a",
    "$request.body#/a~2", "$request.body#/a~", "$request.body#/~x",
])
def test_text_outside_the_abnf_is_refused_with_the_text_named(text: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse(text)
    assert repr(text) in str(raised.value)


@pytest.mark.parametrize(("expression", "said"), [
    ("$request.header.x-missing", "header 'x-missing' was not sent"),
    ("$request.query.nope", "query 'nope' was not sent"),
    ("$request.path.nope", "path 'nope' was not sent"),
    ("$request.body#/missing", "nothing at /missing"),
    ("$request.body#/items/2/id", "nothing at /items/2"),
    ("$request.body#/items/01", "nothing at /items/01"),  # no leading zeros in array indices (RFC 6901)
    ("$request.body#/items/-", "nothing at /items/-"),
    ("$request.body#/count/x", "nothing at /count/x"),
    ("$request.body#/a~1b/zz", "nothing at /a~1b/zz"),  # the place is said escaped, as written
])
def test_well_formed_expressions_naming_nothing_are_unresolved(expression: str, said: str) -> None:
    with pytest.raises(Unresolved) as raised:
        parse(expression).evaluate(context())
    assert said in str(raised.value)


def test_a_request_without_a_body_leaves_body_expressions_unresolved() -> None:
    with pytest.raises(Unresolved, match="no body"):
        parse("$request.body#/x").evaluate(Context(request=Message(body=None)))


def test_status_code_before_any_response_is_unresolved() -> None:
    with pytest.raises(Unresolved):
        parse("$statusCode").evaluate(Context())


@pytest.mark.parametrize(("template", "url"), [
    ("{$request.body#/callbackUrl}", "http://127.0.0.1:9000/hook"),
    ("{$request.query.queryUrl}", "http://127.0.0.1:9001/q"),
    ("$request.body#/callbackUrl", "http://127.0.0.1:9000/hook"),  # a bare expression as the whole key
    ("http://{$request.header.x-callback-host}/orders/{$request.path.order_id}/done",
     "http://hooks.test/orders/42/done"),
    ("http://h.test/cb?id={$response.body#/id}&code={$statusCode}&m={$method}", "http://h.test/cb?id=ord_1&code=201&m=POST"),
    ("http://h.test/cb?flag={$request.body#/flag}&n={$request.body#/nothing}", "http://h.test/cb?flag=true&n=null"),
    ("http://h.test/items/{id}", "http://h.test/items/{id}"),  # braces without an expression are text
    ("http://h.test/static", "http://h.test/static"),
])
def test_templates_embed_expressions_between_braces(template: str, url: str) -> None:
    assert expand(template, context()) == url


def test_objects_in_a_template_are_compact_json() -> None:
    assert expand("x={$response.body#/nested}", context()) == 'x={"n":2}'


def test_a_bad_expression_inside_braces_is_refused_when_the_template_is_read() -> None:
    with pytest.raises(ExpressionError):
        parse_template("http://h.test/{$request.bogus}")


def test_form_bodies_are_read_by_field_name() -> None:
    form = Context(request=Message(body=b"url=http%3A%2F%2F127.0.0.1%2Fx&a=1", media_type="application/x-www-form-urlencoded"))
    assert parse("$request.body#/url").evaluate(form) == "http://127.0.0.1/x"


def test_a_text_body_is_the_whole_text() -> None:
    text = Context(request=Message(body=b"http://127.0.0.1/plain", media_type="text/plain"))
    assert parse("$request.body").evaluate(text) == "http://127.0.0.1/plain"
