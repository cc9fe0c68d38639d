"""A templated stub's answer walks only what holds templated strings (stubs/templates.py `_fill`): parts of the
body without any are sent as written; each render reads the environment's helpers from one plain dict
(stubs/sandbox.py `make_globals`), the same names Jinja's ChainMap gave."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import yaml

from gw.settings.policy_settings import TemplateSettings
from gw.stubs.format import read_stub
from gw.stubs.sandbox import Budget
from gw.stubs.templates import environment

STUB = {
    "request": {"method": "GET", "path": "/things/1"},
    "response": {"template": True, "status": 200, "headers": {"Content-Type": "application/json"}, "body": {
        "id": "{{ request.path.id }}",
        "fixed": {"a": [1, {"b": "no marks here"}], "c": None},
        "items": [{"n": "{{ random_int(1, 1) }}", "same": [True, 2.5]}, "plain", {"deep": {"x": "{{ request.method }}"}}],
        "text": "id {{ request.path.id }}",
    }},
}
VARIABLES: dict[str, Any] = {"request": {"method": "GET", "path": {"id": 7}, "query": {}, "headers": {}}}


def _stub(tmp_path: Path) -> Any:
    file = tmp_path / "thing.yaml"
    file.write_text(yaml.safe_dump(STUB), encoding="utf-8")
    return read_stub(file, "things")


def _rendered(template: Any) -> Any:
    return json.loads(template.render(VARIABLES, Budget.of(TemplateSettings()))[1])


def test_the_body_renders_whole_with_its_untemplated_parts_as_written(tmp_path: Path) -> None:
    expected = {"id": 7, "fixed": {"a": [1, {"b": "no marks here"}], "c": None},
                "items": [{"n": 1, "same": [True, 2.5]}, "plain", {"deep": {"x": "GET"}}], "text": "id 7"}
    template = _stub(tmp_path).template
    assert _rendered(template) == expected
    assert _rendered(template) == expected  # a second render: nothing of the first kept
    assert _rendered(pickle.loads(pickle.dumps(template))) == expected  # as a reload's worker hands it back


def test_a_templates_globals_are_the_environments_with_its_own_over_them() -> None:
    env = environment()
    template = env.from_string("{{ own }} {{ 'uuid' in helpers }}", globals={"own": "mine", "helpers": env.globals})
    assert isinstance(template.globals, dict)
    assert set(env.globals) <= set(template.globals) and template.globals["own"] == "mine"
    assert template.render() == "mine True"
