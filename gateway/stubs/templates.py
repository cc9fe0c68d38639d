"""Templated stub answers: `response.template: true` renders the body and headers per request.

```yaml
request: {method: GET, path: {regex: "^/users/[0-9]+$"}}
response:
  template: true
  status: 200
  headers: {Content-Type: application/json, X-Trace: "{{ uuid() }}"}
  body:
    id: "{{ request.path.user_id | int }}"     # one whole {{ expression }}: its value, typed (a number here)
    username: "user-{{ request.path.user_id }}" # anything else: text
    created_at: "{{ now('-1d') }}"
```

Typing rule: in a YAML/JSON body, a string that is exactly one `{{ expression }}` becomes the expression's
value (number, boolean, list, object, null), so `{{ request.path.id | int }}` is a JSON number and
`{{ request.body.items }}` a JSON array; any other string (text around it, several expressions, `{% %}`
tags) renders as text. A text body (`body: |...`, or `body_file`) and header values render as text.

Templates compile when the stub file loads (a syntax error is a `file: place: reason` StubError naming
the file's line); they render in `sandbox.Sandbox`. Names a template sees: `request` (`method`, `path.<param>`,
`query.<name>`, `headers.<name>`, `body`, `url`: see `request_variables`) and the helpers in `helpers.py`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError, Undefined, nodes

from ..mocker.media import json_text
from .errors import StubError
from .helpers import HELPERS
from .sandbox import Budget, Sandbox, SecurityError, restore, spending

_WHOLE = re.compile(r"\A\{\{-?(?P<expression>(?:(?!\{\{|\}\}|\{%|\{#).)*?)-?\}\}\Z", re.S)
_MARKS = ("{{", "{%", "{#")

_ENVIRONMENT: Sandbox | None = None


def environment() -> Sandbox:
    """One sandbox for every template (made on the first templated stub; never for gateways with none)."""
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        _ENVIRONMENT = Sandbox()
        _ENVIRONMENT.globals.update(HELPERS)
    return _ENVIRONMENT


class RenderError(Exception):
    """A template that failed on this request: where in the stub, and why."""

    def __init__(self, place: str, reason: str) -> None:
        self.place, self.reason = place, reason
        super().__init__(f"{place}: {reason}")


@dataclass
class Piece:
    """One templated string of the stub: text, or (`typed`) one whole expression keeping its value's type."""

    place: str  # response.body.items[0].name, response.headers.X-Trace
    source: str  # the string as the stub file has it
    typed: bool
    compiled: Any

    def __reduce__(self) -> tuple[Any, ...]:
        """Stubs reloaded in a worker process come back pickled: a Piece travels as its source, compiled again."""
        return _recompiled, (self.place, self.source, self.typed)

    def render(self, variables: dict[str, Any]) -> Any:
        try:
            if self.typed:
                return _plain(self.compiled(**variables), self.place)
            return self.compiled.render(variables)
        except RenderError:
            raise
        except SecurityError as exc:
            raise RenderError(self.place, f"refused by the sandbox: {exc}") from None
        except RecursionError:
            raise RenderError(self.place, "recursion too deep") from None
        except Exception as exc:  # Jinja's own errors, and whatever a filter raises on the request's values
            raise RenderError(self.place, f"{type(exc).__name__}: {exc}") from None


@dataclass
class AnswerTemplate:
    """A stub's response, compiled: headers and a body holding Pieces wherever a string is templated."""

    headers: list[tuple[str, Any]]  # value: str, or a Piece
    body: Any  # a Piece (text body), or a JSON-like tree with Pieces in it; None: the stub's body as it is
    structured: bool

    def render(self, variables: dict[str, Any], limit: Budget) -> tuple[list[tuple[str, str]], bytes | None]:
        """The rendered headers and body (None: the stub's fixed body); RenderError names the failing place."""
        token = spending(limit)
        try:
            headers = [(name, _header_text(value.render(variables), value.place) if isinstance(value, Piece) else value)
                       for name, value in self.headers]
            if self.body is None:
                return headers, None
            value = _fill(self.body, variables)
            text = json_text(value) if self.structured else str(value)
            if len(text) > limit.max_output:
                raise RenderError("response.body", f"{len(text)} characters: beyond templates.max_output "
                                                   f"({limit.max_output})")
            return headers, text.encode()
        finally:
            restore(token)


def compile_answer(response: dict[str, Any], headers: dict[str, str], body: bytes, file: Path) -> AnswerTemplate | None:
    """The stub's response as a template when it says `template: true`; None when it does not."""
    flag = response.get("template", False)
    if not isinstance(flag, bool):
        raise StubError(str(file), "response.template", f"expected true or false, got {flag!r}")
    if not flag:
        return None
    compiler = _Compiler(file)
    templated_headers = [(name, compiler.piece(value, f"response.headers.{name}", ("response", "headers", name)))
                         for name, value in headers.items()]
    raw = response.get("body")
    if "body_file" in response or isinstance(raw, str):
        text = body.decode("utf-8", "replace") if "body_file" in response else raw
        where = "response.body_file" if "body_file" in response else "response.body"
        compiled: Any = compiler.piece(text, where, ("response", "body"), typed=False)
        return AnswerTemplate(templated_headers, compiled if isinstance(compiled, Piece) else None, False)
    if raw is None:
        return AnswerTemplate(templated_headers, None, False)
    tree = compiler.tree(raw, "response.body", ("response", "body"))
    return AnswerTemplate(templated_headers, tree if compiler.pieces else None, True)


class _Compiler:
    """Compiles a stub's templated strings, each refused at load time with the file's line when it is broken."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.pieces = 0

    def tree(self, value: Any, place: str, keys: tuple[Any, ...]) -> Any:
        """The body with Pieces where strings are templated; a dict or list holding some is a _Dict / _List (what
        `_fill` walks), one holding none stays as it is (rendered as it is, never walked per request)."""
        if isinstance(value, dict):
            found = {k: self.tree(v, f"{place}.{k}", (*keys, k)) for k, v in value.items()}
            return _Dict(found) if any(type(v) in _TEMPLATED for v in found.values()) else found
        if isinstance(value, list):
            items = [self.tree(v, f"{place}[{i}]", (*keys, i)) for i, v in enumerate(value)]
            return _List(items) if any(type(v) in _TEMPLATED for v in items) else items
        return self.piece(value, place, keys) if isinstance(value, str) else value

    def piece(self, value: str, place: str, keys: tuple[Any, ...], typed: bool = True) -> Any:
        if not any(mark in value for mark in _MARKS):
            return value  # nothing to render: kept as it is, costs nothing per request
        whole = typed and _WHOLE.match(value) is not None
        try:
            compiled = _compiled(value, whole)
        except TemplateSyntaxError as exc:
            line = _file_line(self.file, keys, value, 1 if whole else exc.lineno or 1)
            where = f"{place} (line {line})" if line else place
            raise StubError(str(self.file), where, f"template syntax: {exc.message}") from None
        self.pieces += 1
        return Piece(place, value, whole, compiled)


def _compiled(source: str, typed: bool) -> Any:
    """A text template, or (`typed`) the expression inside one whole `{{ ... }}` as a callable giving its value."""
    env = environment()
    if typed:
        expression = _WHOLE.match(source)
        assert expression is not None
        _refuse_private_names(env.parse("{{ " + expression.group("expression") + " }}"))
        return env.compile_expression(expression.group("expression"), undefined_to_none=True)
    _refuse_private_names(env.parse(source))
    return env.from_string(source)


def _recompiled(place: str, source: str, typed: bool) -> Piece:
    return Piece(place, source, typed, _compiled(source, typed))


def _refuse_private_names(tree: nodes.Template) -> None:
    """`x.__class__` and `x['_private']` are refused when the stub loads, not only when it renders."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateSyntaxError(f"access to {name!r} is not allowed (the sandbox refuses private names)",
                                      node.lineno)


class _Dict(dict[str, Any]):
    """A body object holding templated strings (at any depth)."""


class _List(list[Any]):
    """A body array holding templated strings (at any depth)."""


_TEMPLATED = frozenset({Piece, _Dict, _List})


def _fill(value: Any, variables: dict[str, Any]) -> Any:
    """The body rendered: each Piece's value in its place; what holds none is taken as it is."""
    kind = type(value)
    if kind is Piece:
        return value.render(variables)
    if kind is _Dict:
        return {k: _fill(v, variables) if type(v) in _TEMPLATED else v for k, v in value.items()}
    if kind is _List:
        return [_fill(v, variables) if type(v) in _TEMPLATED else v for v in value]
    return value


def _plain(value: Any, place: str, depth: int = 0) -> Any:
    """An expression's value as JSON can hold it: an undefined name is null, tuples are lists."""
    if depth > 64:
        raise RenderError(place, "the value nests too deeply")
    if value is None or isinstance(value, Undefined):
        return None
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v, place, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, place, depth + 1) for v in value]
    return str(value)  # dates, uuids, and the like: as text


def _header_text(value: Any, place: str) -> str:
    text = str(value)
    if any(ch in text for ch in "\r\n\0"):
        raise RenderError(place, "a header value cannot hold a line break")
    return text


def _file_line(file: Path, keys: tuple[Any, ...], source: str, template_line: int) -> int | None:
    """The file's line of a templated string's `template_line` (YAML: from the node's mark; JSON, where a
    string is one line: where the string is written)."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError:
        return None
    if file.suffix == ".json":
        found = text.find(json.dumps(source, ensure_ascii=False)[1:-1])
        return text.count("\n", 0, found) + 1 if found >= 0 else None
    try:
        node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            return None
    block = 1 if getattr(node, "style", None) in ("|", ">") else 0
    return node.start_mark.line + 1 + block + template_line - 1
