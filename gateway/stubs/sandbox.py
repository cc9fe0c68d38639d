"""The sandbox stub templates render in: Jinja2's `ImmutableSandboxedEnvironment`, with every way a template could
take a worker's memory or time bounded.

Jinja's sandbox already refuses Python internals (`''.__class__`, `_private`, unsafe callables) and caps
`range()`; this adds, per rendered answer (`templates:` in gateway.yaml):

- output: no string, list or rendered answer longer than `max_output` characters; `*`, `**`, `%`, `+`,
  `~`, filters and calls are checked before (or, for bounded inputs, right after) they build one;
- loops and calls: every `{% for %}` iteration and every call counts against `max_iterations`, so nested
  loops and recursive macros end with an error instead of spinning.

Unsafe attribute access raises at once (instead of rendering as empty), so an escape attempt is an error
the stub author sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from ..settings.policy_settings import TemplateSettings

_WIDE_FORMAT = re.compile(r"\d{7,}")  # a field width of a million or more characters in a format string


@dataclass
class Budget:
    """What one answer's rendering may still spend."""

    max_output: int
    steps: int

    @classmethod
    def of(cls, settings: TemplateSettings) -> Budget:
        return cls(settings.max_output, settings.max_iterations)

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise SecurityError("more loop iterations and calls than templates.max_iterations allows")

    def check(self, value: Any) -> Any:
        if isinstance(value, (str, list, tuple, dict)) and len(value) > self.max_output:
            raise SecurityError(f"a value of {len(value)} characters or items: beyond templates.max_output "
                                f"({self.max_output})")
        return value


_BUDGET: ContextVar[Budget | None] = ContextVar("gw_template_budget", default=None)


def budget() -> Budget:
    """This render's budget; at load time (Jinja folding constants) a fresh default one."""
    return _BUDGET.get() or Budget.of(TemplateSettings())


def spending(limit: Budget) -> Any:
    """Make `limit` the budget of the rendering that follows (returns the token to reset it with)."""
    return _BUDGET.set(limit)


def restore(token: Any) -> None:
    _BUDGET.reset(token)


def trusted(function: Any) -> Any:
    """Mark one of our own helpers: its number arguments are not output widths (`random_int(0, 10**9)`)."""
    function.gw_trusted = True
    return function


class _Generator(CodeGenerator):
    """Jinja's code generator, with loops counted and `~` bounded (neither goes through the sandbox's hooks)."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        counted = node.iter
        if not (isinstance(counted, nodes.Call) and isinstance(counted.node, nodes.EnvironmentAttribute)
                and counted.node.name == "counted"):
            node.iter = nodes.Call(nodes.EnvironmentAttribute("counted"), [counted], [], None, None, lineno=node.lineno)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.joined((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


def _bounded_concat(pieces: Iterable[str]) -> str:
    """Every rendered block (the answer, a macro, a `{% set %}` block) stays within max_output."""
    limit = budget().max_output
    kept: list[str] = []
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > limit:
            raise SecurityError(f"rendered text beyond templates.max_output ({limit} characters)")
        kept.append(piece)
    return "".join(kept)


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's sandbox (the immutable one: a template cannot change the values it is given), with bounded
    output, loops and calls."""

    code_generator_class = _Generator
    concat = staticmethod(_bounded_concat)
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self) -> None:
        super().__init__(autoescape=False, undefined=ChainableUndefined, keep_trailing_newline=True)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals as one plain dict, the environment's overlaid by its own. Jinja's ChainMap is copied
        key by key in Python into every render's context (~20 calls a templated string); gw sets the environment's
        globals once, before any template compiles (templates.environment), so a copy made now misses nothing."""
        return {**self.globals, **(d or {})}

    @staticmethod
    @trusted
    def counted(iterable: Any) -> Iterator[Any]:
        """A loop's items, each one step of the budget."""
        spend = budget()
        for item in iterable:
            spend.step()
            yield item

    @staticmethod
    def joined(values: tuple[Any, ...]) -> str:
        return _bounded_concat(str(v) for v in values)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right, budget().max_output)
        return budget().check(super().call_binop(context, operator, left, right))

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        spend = budget()
        spend.step()
        if not getattr(obj, "gw_trusted", False):
            _check_arguments(args, kwargs, spend.max_output)
        return spend.check(super().call(context, obj, *args, **kwargs))

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and _WIDE_FORMAT.search(value.__self__):
            raise SecurityError("a format field width beyond templates.max_output")
        return wrapped


def _bounded_filter(name: str, function: Any) -> Any:
    """A built-in filter that counts as a step, takes no width beyond the output bound, and returns none."""

    def bounded(*args: Any, **kwargs: Any) -> Any:
        spend = budget()
        spend.step()
        values = args[1:] if passes else args  # after the context / environment Jinja passes in first
        _check_arguments(values[1:], kwargs, spend.max_output)
        if name == "format" and values and isinstance(values[0], str) and _WIDE_FORMAT.search(values[0]):
            raise SecurityError("a format field width beyond templates.max_output")
        return spend.check(function(*args, **kwargs))

    passes = hasattr(function, "jinja_pass_arg")  # @pass_context / @pass_environment: Jinja reads the marker
    if passes:
        bounded.jinja_pass_arg = function.jinja_pass_arg  # type: ignore[attr-defined]
    bounded.__name__ = getattr(function, "__name__", name)
    return bounded


def _check_arguments(args: Iterable[Any], kwargs: dict[str, Any], limit: int) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > limit:
            raise SecurityError(f"argument {value} is beyond templates.max_output ({limit})")


def _check_binop(operator: str, left: Any, right: Any, limit: int) -> None:
    """Refuse before building: a repeated string or list, a huge power, a wide `%` format."""
    if operator == "*":
        for sized, times in ((left, right), (right, left)):
            if isinstance(sized, (str, list, tuple)) and isinstance(times, int) and len(sized) * times > limit:
                raise SecurityError(f"a value beyond templates.max_output ({limit})")
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 \
            and abs(left).bit_length() * right > 64 * 1024:
        raise SecurityError("a power too large to compute")
    elif operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
        raise SecurityError("a format field width beyond templates.max_output")
