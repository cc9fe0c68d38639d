"""A hand-written YAML stub may hold dates unquoted (`createdAt: 2024-06-11T14:03:27Z`), as JSON APIs send them
as text: they are read as written, so they answer and match as that text. A value JSON cannot hold at all
(YAML's !!binary, !!set) fails the load with the file, the place and the reason, never a traceback or a 500."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gw.stubs.format import StubError, read_stub
from gw.stubs.matchers import RequestView, judge

DATED = """\
request: {method: POST, path: /echo/a, body: {"$.when": 2024-01-01}}
response: {status: 200, body: {created: 2024-01-01, at: 2024-06-11T14:03:27Z, n: 1}}
"""


def test_dates_in_a_yaml_stub_answer_and_match_as_the_text_written(tmp_path: Path) -> None:
    file = tmp_path / "dated.yaml"
    file.write_text(DATED)
    stub = read_stub(file, "echo")
    assert json.loads(stub.response_body) == {"created": "2024-01-01", "at": "2024-06-11T14:03:27Z", "n": 1}
    matched = judge(stub, RequestView("POST", "/echo/a", {}, {}, b'{"when": "2024-01-01"}'))
    missed = judge(stub, RequestView("POST", "/echo/a", {}, {}, b'{"when": "2024-01-02"}'), explain=True)
    assert matched.matched and not missed.matched
    assert missed.reasons == ['body $.when: expected "2024-01-01", got "2024-01-02"']


@pytest.mark.parametrize(("text", "place"), [
    ('request: {method: GET, path: /a}\nresponse: {status: 200, body: {blob: !!binary aGk=}}\n', "response.body"),
    ('request: {method: POST, path: /a, body: {"$.tags": !!set {a: null}}}\nresponse: {status: 200}\n',
     "request.body.$.tags"),
])
def test_a_value_json_cannot_hold_fails_the_load_where_it_is_written(tmp_path: Path, text: str, place: str) -> None:
    file = tmp_path / "odd.yaml"
    file.write_text(text)
    with pytest.raises(StubError) as caught:
        read_stub(file, "echo")
    assert caught.value.key == place and "not a JSON value" in caught.value.reason
