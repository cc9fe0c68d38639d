"""`$ref` handling: bring other files into one document, then resolve references in place.

Both steps are ours rather than connexion's: connexion's resolver copies every target (memory on
large specs), does not unescape JSON pointers, and trips over a property literally named `$ref`
(Kubernetes' JSONSchemaProps has one).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson

from ..settings.config import ConfigError


class RefError(ConfigError):
    """A reference that cannot be followed: `file: place: reason`."""


UNRESOLVED = "#/x-gw-unresolved"  # what a reference that could not be brought in points at instead


def bundle(spec_file: Path, read: Any, unresolved: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The document with every reference to another file brought inside it.

    A reference to another file's component (`common.yaml#/components/schemas/Address`) is
    copied into this document's components (renamed on a clash) and pointed at locally, so
    circular references across files stay references instead of recursing forever.
    With `unresolved`, a reference that cannot be brought in is noted there (place, reason) and
    pointed at `UNRESOLVED/<index>`, so only the operations that need it are lost; without, it raises.
    """
    root = read(spec_file)
    if not _may_name_other_files(root):
        return root  # nothing to bring in: a large single-file spec skips the walk
    return _Bundler(spec_file.resolve(), root, read, unresolved).run()


def _may_name_other_files(root: Any) -> bool:
    """Whether some `$ref` in the document may point outside it. Answered on its JSON text (written by orjson,
    in Rust: a fiftieth of a walk in Python), where a string-valued `$ref` key reads exactly `"$ref":"` (a quote
    inside a string would be escaped); a value orjson cannot write (an integer beyond 64 bits, nesting beyond
    its limit) sends the document through the walk."""
    try:
        text = orjson.dumps(root, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, ValueError, RecursionError):
        return True
    return text.count(b'"$ref":"') != text.count(b'"$ref":"#')


class _Bundler:
    def __init__(self, root_file: Path, root: dict[str, Any], read: Any,
                 unresolved: list[tuple[str, str]] | None = None) -> None:
        self.read = read
        self.unresolved = unresolved
        self.root_file = root_file
        self.root = root
        self.documents: dict[Path, dict[str, Any]] = {root_file: root}
        self.hoisted: dict[tuple[Path, str], str] = {}

    def run(self) -> dict[str, Any]:
        self._walk(self.root, self.root_file, "")
        return self.root

    def _walk(self, node: Any, base: Path, place: str) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                try:
                    self._rewrite(node, ref, base, place)
                except ConfigError as exc:  # a missing file or target, or another file that does not parse
                    if self.unresolved is None:
                        raise
                    node["$ref"] = f"{UNRESOLVED}/{len(self.unresolved)}"
                    self.unresolved.append((place, self._reason(exc, place)))
            for key, value in list(node.items()):
                if key != "$ref":
                    self._walk(value, base, f"{place}.{key}" if place else key)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self._walk(value, base, f"{place}[{index}]")

    def _reason(self, exc: ConfigError, place: str) -> str:
        if exc.source in ("", str(self.root_file)):
            return exc.reason
        where = f"{exc.key}: " if exc.key and exc.key != place else ""
        return f"{Path(exc.source).name}: {where}{exc.reason}"

    def _rewrite(self, node: dict[str, Any], ref: str, base: Path, place: str) -> None:
        file_part, _, pointer = ref.partition("#")
        if not file_part:
            if base != self.root_file:  # a local ref inside another file: it points into that file
                node["$ref"] = self._hoist(base, pointer, place)
            return
        if file_part.startswith(("http://", "https://")):
            raise RefError(str(self.root_file), place, f"remote $ref {ref!r} is not supported: save the file beside the spec")
        target = (base.parent / unquote(file_part)).resolve()
        if target == self.root_file:
            node["$ref"] = f"#{pointer}"
            return
        node["$ref"] = self._hoist(target, pointer, place)

    def _hoist(self, file: Path, pointer: str, place: str) -> str:
        """Copy `file#pointer` into the root document once; return the local ref to it."""
        if (file, pointer) in self.hoisted:
            return self.hoisted[(file, pointer)]
        document = self._document(file, place)
        value = _follow(document, pointer, file, place)
        parts = [unquote(p).replace("~1", "/").replace("~0", "~") for p in pointer.strip("/").split("/") if p]
        section = parts[-2] if len(parts) >= 3 and parts[0] == "components" else "schemas"
        name = _safe_name(parts[-1] if parts else file.stem)
        components = self.root.setdefault("components", {}) if "openapi" in self.root else self.root
        bucket_name = section if "openapi" in self.root else {"schemas": "definitions", "parameters": "parameters",
                                                            "responses": "responses"}.get(section, "definitions")
        bucket = components.setdefault(bucket_name, {})
        unique, n = name, 2
        while unique in bucket:
            unique, n = f"{name}_{n}", n + 1
        local = (f"#/components/{bucket_name}/{unique}" if "openapi" in self.root else f"#/{bucket_name}/{unique}")
        self.hoisted[(file, pointer)] = local
        copied = copy.deepcopy(value)
        bucket[unique] = copied
        self._walk(copied, file, f"{file.name}#{pointer}")
        return local

    def _document(self, file: Path, place: str) -> dict[str, Any]:
        if file not in self.documents:
            if not file.exists():
                raise RefError(str(self.root_file), place, f"$ref to {file.name}: no such file")
            self.documents[file] = self.read(file)
        return self.documents[file]


def _follow(document: Any, pointer: str, file: Path, place: str) -> Any:
    try:
        return pointer_target(document, pointer)
    except RefError as exc:
        raise RefError(str(file), place, exc.reason) from None


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "ref"


def resolve_in_place(document: dict[str, Any]) -> dict[str, Any]:
    """Replace every local `{"$ref": "#/..."}` by the object it points at (shared, so cycles stay
    cycles). Siblings of a `$ref` (allowed in 3.1) are kept on a merged copy; in OpenAPI 3.0 and
    Swagger 2.0, which say they are ignored, only those that constrain nothing are kept (`SIBLINGS_30`:
    descriptions, examples, and `nullable`, which only widens), so `{$ref: X, required: [a]}` is X as
    clients and other tools read it (spec_slips warns at each such place)."""
    keep = None if str(document.get("openapi", "")).startswith(("3.1", "3.2")) else SIBLINGS_30
    seen = {id(document)}  # every container once, marked as it is found (a shared one is met many times)
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        for key, value in node.items() if type(node) is dict else enumerate(node):
            kind = type(value)
            if kind is dict:
                ref = value.get("$ref")
                if type(ref) is str and ref.startswith("#"):
                    value = node[key] = _deref(document, value, keep)  # an existing key: iteration goes on
                    kind = type(value)
            if (kind is dict or kind is list) and id(value) not in seen:
                seen.add(id(value))
                stack.append(value)
    return document


# beside a $ref in 3.0 / 2.0: words that constrain no value (or, as `nullable`, only admit one more)
SIBLINGS_30 = frozenset({"description", "summary", "title", "example", "examples", "default", "deprecated", "nullable",
                         "externalDocs", "xml", "x-nullable"})


def _deref(document: dict[str, Any], node: dict[str, Any], keep: frozenset[str] | None = None) -> Any:
    hops = 0
    siblings: dict[str, Any] = {}
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
        siblings.update({k: v for k, v in node.items() if k != "$ref" and k not in siblings
                         and (keep is None or k in keep or k.startswith("x-"))})
        node = pointer_target(document, node["$ref"][1:])
        hops += 1
        if hops > 64:
            raise RefError("", "", "a $ref chain loops on itself")
    if siblings and isinstance(node, dict):
        return {**node, **siblings}
    return node


def pointer_target(document: Any, pointer: str) -> Any:
    node = document
    for raw in [p for p in pointer.split("/") if p]:
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise RefError("", "", f"$ref target #{pointer} does not exist")
    return node
