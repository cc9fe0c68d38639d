"""X-GW-Session names a simulation; a malformed name is refused before it reaches shared state."""

import pytest

from gw.core.exchange import Exchange
from gw.core.problems import Problem
from gw.runtime.session import DEFAULT, session_of


def _exchange(headers: list[tuple[bytes, bytes]]) -> Exchange:
    scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "query_string": b"", "headers": headers}
    return Exchange(scope, None)


def test_a_request_without_the_header_is_in_the_default_session():
    assert session_of(_exchange([])) == DEFAULT


def test_the_header_names_the_session():
    assert session_of(_exchange([(b"x-gw-session", b"run-42.a:b")])) == "run-42.a:b"


@pytest.mark.parametrize("value", [b"a b", b"x" * 129, b"../../etc", b"a{b}"])
def test_a_malformed_session_name_is_a_400(value):
    with pytest.raises(Problem) as raised:
        session_of(_exchange([(b"x-gw-session", value)]))
    assert raised.value.status == 400
