"""Request text decoded the way OpenAPI serializes values: one decoder per style, then typed by the schema.

A decoder turns what the client sent (a path segment, query pairs, header lines, cookies, form
fields) into raw values: text, a `Repeated` tuple of texts (a key sent several times), lists and
dicts of those, or `Parsed` JSON. `typed` then reads the raw value as the schema says: numbers,
booleans, `items[0][price]` as a list of objects. Decoders never judge; the schema validator does,
so a value a decoder cannot read stays text and fails validation with its parameter's name.

Styles: path `simple`/`label`/`matrix`, query and cookie `form`/`spaceDelimited`/`pipeDelimited`/
`deepObject`, header `simple`, parameters with `content`, form fields with per-property `encoding`,
and Swagger 2.0's `collectionFormat` (csv, ssv, tsv, pipes, multi) mapped onto them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.requests import cookie_parser

from ..core.json_limits import parse_json
from ..core.media_types import base_type

Pairs = list[tuple[str, Any]]

# tabDelimited is not an OpenAPI style: it stands for Swagger 2.0's `collectionFormat: tsv`
DELIMITERS = {"form": ",", "simple": ",", "spaceDelimited": " ", "pipeDelimited": "|", "tabDelimited": "\t"}
_COLLECTION_FORMATS = {"ssv": "spaceDelimited", "tsv": "tabDelimited", "pipes": "pipeDelimited"}
_DEFAULT_STYLES = {"path": "simple", "header": "simple", "query": "form", "cookie": "form", "formData": "form"}
MAX_DEPTH = 16  # bracket nesting read from one key; deeper keys stay as they are


class Repeated(tuple):
    """The texts of a key sent several times (or once): one value, or a list where the schema says array."""

    __slots__ = ()


@dataclass(frozen=True)
class Parsed:
    """A value already typed (JSON text parsed): `typed` leaves it as it is."""

    value: Any


class DecodeError(ValueError):
    """Text that cannot be what its serialization says (JSON content that is not JSON)."""


@dataclass(frozen=True)
class Style:
    """How one parameter or form field is serialized."""

    style: str
    explode: bool
    media: str = ""  # a parameter with `content`: the media type its text is in


def style_of(definition: dict[str, Any], where: str) -> Style:
    """The OpenAPI 3 style and explode of a parameter (or form field encoding), with the location's
    defaults; a Swagger 2.0 `collectionFormat` mapped onto the same words."""
    content = definition.get("content")
    if isinstance(content, dict) and content:
        return Style("content", False, next(iter(content)))
    if "collectionFormat" in definition or ("type" in definition and "schema" not in definition and "in" in definition):
        fmt = definition.get("collectionFormat", "csv")
        if fmt == "multi" and where in ("query", "formData", "form"):
            return Style("form", True)
        return Style(_COLLECTION_FORMATS.get(fmt, _DEFAULT_STYLES.get(where, "form")), False)
    style = definition.get("style") or _DEFAULT_STYLES.get(where, "form")
    return Style(style, bool(definition.get("explode", style == "form")))


# --- splitting text -------------------------------------------------------------------------------

def split(text: str, delimiter: str) -> list[str]:
    """`a,b,c` -> [a, b, c]; the empty text is the empty list."""
    return text.split(delimiter) if text else []


def key_value_pairs(parts: list[str]) -> dict[str, str] | None:
    """[k1, v1, k2, v2] (a non-exploded object) -> {k1: v1, k2: v2}; None for an odd count."""
    if len(parts) % 2:
        return None
    return dict(zip(parts[::2], parts[1::2], strict=True))


def assignments(parts: list[str]) -> dict[str, str] | None:
    """[k1=v1, k2=v2] (an exploded object) -> {k1: v1, k2: v2}; None when a part has no `=`."""
    found: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep:
            return None
        found[key] = value
    return found


def _shaped(parts: list[str], shape: str, explode: bool) -> Any:
    """Split parts as the shape wants: the list itself, or an object from pairs or assignments."""
    if shape == "array":
        return parts
    if shape == "object":
        found = assignments(parts) if explode else key_value_pairs(parts)
        return found if found is not None else ",".join(parts)
    return ",".join(parts)


# --- path, header ---------------------------------------------------------------------------------

def decode_simple(text: str, shape: str, explode: bool, delimiter: str = ",") -> Any:
    """`simple` (path and header): `5`, `3,4,5`, `role,admin,firstName,Alex`, exploded `role=admin,firstName=Alex`.
    (Swagger 2.0's ssv, tsv and pipes split at their own `delimiter`.)"""
    return text if shape == "scalar" else _shaped(split(text, delimiter), shape, explode)


def decode_label(text: str, shape: str, explode: bool) -> Any:
    """`label`: `.5`, `.3.4.5` exploded or `.3,4,5`, `.role=admin.firstName=Alex` or `.role,admin,firstName,Alex`."""
    body = text[1:] if text.startswith(".") else text
    if shape == "scalar":
        return body
    return _shaped(split(body, "." if explode else ","), shape, explode)


def decode_matrix(text: str, name: str, shape: str, explode: bool) -> Any:
    """`matrix`: `;id=5`, `;id=3,4,5` or exploded `;id=3;id=4;id=5`, `;id=role,admin` or exploded `;role=admin`."""
    segments = text.split(";")[1:] if text.startswith(";") else [f"{name}={text}"]
    if shape == "object" and explode:
        return _shaped(segments, "object", True)
    values = [value for key, _, value in (s.partition("=") for s in segments) if key == name]
    if not values:
        return text
    if shape == "scalar":
        return values[-1]
    if shape == "array" and explode:
        return values
    return _shaped(split(values[-1], ","), shape, False)


def decode_path(text: str, name: str, style: Style, shape: str) -> Any:
    if style.style == "label":
        return decode_label(text, shape, style.explode)
    if style.style == "matrix":
        return decode_matrix(text, name, shape, style.explode)
    return decode_simple(text, shape, style.explode, DELIMITERS.get(style.style, ","))


def decode_header(lines: list[str], shape: str, style: Style) -> Any:
    """A header's lines, joined as one list (HTTP says repeated lines are one comma-separated value,
    with optional spaces around the commas)."""
    delimiter = DELIMITERS.get(style.style, ",")
    text = delimiter.join(line.strip() for line in lines)
    if delimiter == ",":
        text = re.sub(r"[ \t]*,[ \t]*", ",", text)
    return decode_simple(text, shape, style.explode, delimiter)


# --- query, cookie, form fields: key/value pairs -----------------------------------------------------

def bracket_path(key: str) -> list[str] | None:
    """`a[b][0][c]` -> [a, b, 0, c]; `a[]` -> [a, ""]; None for a key without (well-formed) brackets."""
    head, sep, rest = key.partition("[")
    if not sep or not head:
        return None
    segments = re.findall(r"\[([^\[\]]*)\]", "[" + rest)
    if "".join(f"[{s}]" for s in segments) != "[" + rest or len(segments) > MAX_DEPTH:
        return None
    return [head, *segments]


def nest(entries: list[tuple[list[str], Any]]) -> dict[str, Any]:
    """Bracket paths and their values as nested dicts, each leaf `Repeated` (a path sent twice keeps
    both values). `[]` appends; `a[][x]=1&a[][y]=2` is one item until a key repeats, as Rack and the
    qs library read it. Index keys stay text: `typed` makes lists where the schema says array."""
    root: dict[str, Any] = {}
    for path, value in entries:
        node = root
        for depth, key in enumerate(path[:-1]):
            key = key or _open_index(node, path[depth + 1])
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        key = path[-1] or str(len(node))
        old = node.get(key)
        node[key] = Repeated((*old, value)) if isinstance(old, Repeated) else Repeated((value,))
    return root


def _open_index(node: dict[str, Any], next_key: str) -> str:
    """The index `[]` stands for: the last item while it does not hold `next_key` yet, else a new one."""
    if node:
        last = node.get(str(len(node) - 1))
        if isinstance(last, dict) and next_key and next_key not in last:
            return str(len(node) - 1)
    return str(len(node))


def brackets_hint(keys: Iterable[str]) -> str:
    """A note for a refusal where a bracket key was taken literally (the spec does not say deepObject
    there): what the `brackets` setting would change. Empty when none of `keys` has brackets."""
    key = next((key for key in keys if bracket_path(key)), None)
    if key is None:
        return ""
    return (f" ({key!r} was read as a literal name: the spec does not say deepObject for it; "
            f"`brackets: true` on the service reads bracket keys as nested everywhere)")


def deep_object(pairs: Pairs, name: str) -> Any:
    """`name[a]=1&name[b][0]=2` (deepObject, and brackets generally) -> {a: 1, b: {0: 2}}; None when absent.
    A name with brackets of its own (`filter[status]`) takes the keys that continue it (`filter[status][value]`)."""
    entries = [([name, *path[1:]], value) for key, value in pairs
               if key.startswith(f"{name}[") and (path := bracket_path("_" + key[len(name):]))]
    return nest(entries).get(name) if entries else None


def object_keys(schema: Any) -> tuple[set[str], bool]:
    """An object schema's property names, and whether other keys belong to it too (a map, or
    additionalProperties given): which query keys an exploded `form` object takes."""
    names: set[str] = set()
    additional: Any = None
    for part in branches(schema):
        names.update(part.get("properties") or {})
        if "additionalProperties" in part:
            additional = part["additionalProperties"]
    return names, additional not in (None, False) or not names


def decode_pairs(pairs: Pairs, name: str, style: Style, shape: str, schema: Any = None,
                 claimed: frozenset[str] = frozenset(), brackets: bool = False) -> Any:
    """A query (or cookie) parameter from the request's key/value pairs: `form` (exploded: `id=3&id=4`,
    an object's properties as keys; not: `id=3,4`), `spaceDelimited`, `pipeDelimited`, `deepObject`
    (`id[role]=admin`, nested `a[b][0][c]=x`, `a[]=x`). None when the request does not carry it.
    `claimed`: keys that are other parameters' (never an exploded object's properties)."""
    values = [value for key, value in pairs if key == name
              or (shape == "array" and key == f"{name}[]" and key not in claimed)]  # `ids[]=1&ids[]=2`, as PHP and Rails send
    # brackets where the spec says deepObject, the service says `brackets`, or the name is written in them itself
    if shape != "scalar" and (style.style == "deepObject" or brackets or (shape == "object" and bracket_path(name))):
        deep = deep_object([(key, value) for key, value in pairs if key not in claimed], name)
        if deep is not None:
            return deep
    if shape == "object" and style.explode and style.style in ("form", "deepObject"):
        return exploded_object(pairs, name, schema, claimed) if style.style == "form" else None
    if not values:
        return None
    if shape == "scalar":
        return values[-1]
    if style.explode:
        return list(values) if shape == "array" else _shaped(values, shape, True)
    delimiter = DELIMITERS.get(style.style, ",")
    return _shaped([part for value in values for part in split(value, delimiter)], shape, False)


def exploded_object(pairs: Pairs, name: str, schema: Any, claimed: frozenset[str]) -> dict[str, Any] | None:
    """An exploded `form` object: its properties as keys (`offset=1&limit=2`). OpenAPI defines no form
    for a property that is itself an object or an array of objects: it is read from the conventions
    clients use (`details[0][code]=x`, or JSON text), and text that follows none (`details=code`, all a
    client keeps of `[{"code": ...}]` when it iterates a dict) is left unjudged, not refused."""
    names, open_ = object_keys(schema)
    found: dict[str, Any] = {}
    nested: list[tuple[list[str], Any]] = []
    for key, value in pairs:
        path = bracket_path(key)
        if key in names or (open_ and key not in claimed and key != name and not _bracketed(key, claimed)):
            found[key] = Repeated((*found.get(key, ()), value))
        elif path and path[0] in names and key not in claimed:
            nested.append((path, value))
    properties = merged_properties(schema)
    for key, texts in list(found.items()):
        if _holds_objects(properties.get(key)) or "object" in declared_types(properties.get(key)):
            read = _field(list(texts), properties.get(key), {"contentType": "application/json"})
            if isinstance(read, Parsed):
                found[key] = read
            else:
                del found[key]
    found.update(nest(nested))
    return found or None


def _bracketed(key: str, names: frozenset[str]) -> bool:
    path = bracket_path(key)
    return path is not None and path[0] in names


def cookie_pairs(header: str) -> Pairs:
    """Every cookie in a Cookie header, repeats kept (an exploded array sends one cookie per value)."""
    return [item for chunk in header.split(";") if chunk.strip() for item in cookie_parser(chunk).items()]


def decode_content(text: str, media: str) -> Any:
    """A parameter with `content`: JSON text parsed (as the media type says), other media left as text."""
    if names_json(media):
        try:
            return Parsed(parse_json(text))
        except (ValueError, RecursionError) as exc:
            raise DecodeError(f"not valid JSON ({media}): {exc}") from None
    return text


# --- a request's parameters -------------------------------------------------------------------------

class RequestText:
    """An ASGI request's parameter text by location, each parsed only when first asked for."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope
        self._query: Pairs | None = None
        self.last: dict[str, str] | None = None  # last_in_query(), once made
        self._cookies: Pairs | None = None

    def path(self, name: str) -> list[str]:
        """The path parameter's text (its route names it with `_` for anything not a word character)."""
        value = self.scope.get("path_params", {}).get(route_key(name))
        return [value] if value is not None else []

    def query(self) -> Pairs:
        if self._query is None:
            self._query = query_pairs(self.scope.get("query_string", b"").decode("latin-1"))
        return self._query

    def last_in_query(self) -> dict[str, str]:
        """Each query key's last value: what a scalar parameter reads. Made on the first call and kept as `last`,
        which later readers take without a call."""
        if self.last is None:
            self.last = dict(self.query())
        return self.last

    def header(self, name: str) -> list[str]:
        """One header's lines, in the order sent (names compared case-blind). Found by one pass over the request's
        pairs rather than an index of them all: an operation reads a header or two, a browser sends a dozen. An
        ASCII name is compared as bytes (no header name with other bytes can equal it, lowered either way)."""
        wanted = name.lower()
        pairs = self.scope["headers"]
        if wanted.isascii():
            raw = wanted.encode()
            return [value.decode("latin-1") for key, value in pairs if key.lower() == raw]
        return [value.decode("latin-1") for key, value in pairs if key.decode("latin-1").lower() == wanted]

    def cookies(self) -> Pairs:
        if self._cookies is None:
            self._cookies = [pair for key, value in self.scope["headers"] if key.lower() == b"cookie"
                             for pair in cookie_pairs(value.decode("latin-1"))]
        return self._cookies


def query_pairs(text: str) -> Pairs:
    """A query's key/value pairs as `parse_qsl(text, keep_blank_values=True)` reads them (`+` a space, `%XX`
    UTF-8 with replacement, a key without `=` an empty value, empty pieces skipped), without its per-piece calls
    for the many keys that hold neither `+` nor `%`. A piece's escapes are decoded in one go (what `unquote` gives
    run by run: a character of the text itself is whole UTF-8, so no run's bytes join the next's)."""
    pairs: Pairs = []
    for piece in text.split("&") if text else ():
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if "+" in name or "%" in name:
            name = unquote_to_bytes(name.replace("+", " ")).decode("utf-8", "replace")
        if "+" in value or "%" in value:
            value = unquote_to_bytes(value.replace("+", " ")).decode("utf-8", "replace")
        pairs.append((name, value))
    return pairs


@lru_cache(maxsize=4096)
def route_key(name: str) -> str:
    """A path parameter's name as its route spells it (`_` for anything not a word character)."""
    return re.sub(r"\W", "_", name)


def decode_parameter(request: RequestText, where: str, name: str, style: Style, shape: str, schema: Any = None,
                     claimed: frozenset[str] = frozenset(), brackets: bool = False) -> Any:
    """One parameter's raw value in one shape (scalar, array, object, or `content`), by its location's
    decoder; None when the request does not carry it. `brackets` applies to the query."""
    if where in ("query", "cookie"):
        pairs = request.query() if where == "query" else request.cookies()
        if shape == "content":
            values = [value for key, value in pairs if key == name]
            return decode_content(values[-1], style.media) if values else None
        return decode_pairs(pairs, name, style, shape, schema, claimed, brackets and where == "query")
    lines = request.header(name) if where == "header" else request.path(name)
    if not lines:
        return None
    if shape == "content":
        return decode_content(",".join(lines), style.media)
    if where == "header":
        return decode_header(lines, shape, style)
    return decode_path(lines[-1], name, style, shape)


# --- form bodies -------------------------------------------------------------------------------------

def decode_form(pairs: Pairs, schema: Any, encoding: dict[str, Any], brackets: bool = False) -> Any:
    """Form fields (urlencoded, or multipart parts as text) as the object the body schema describes,
    each field as its `encoding` says: `deepObject` brackets, arrays by repeated keys, `name[]` or
    delimiters, parts whose contentType is JSON parsed. `brackets`: read `a[b]=x` as nested for every
    field. A body schema that is an array (OpenAPI defines no form for it) is read as `form_items` says."""
    if declared_types(schema)[:1] == ["array"]:
        return form_items(pairs)
    properties = merged_properties(schema)
    plain: dict[str, list[Any]] = {}
    deep: Pairs = []
    for key, value in pairs:
        path = bracket_path(key)
        if path and (brackets or style_of(encoding.get(path[0]) or {}, "formData").style == "deepObject"):
            deep.append((key, value))
        elif path and path[1:] == [""] and key not in properties and "array" in declared_types(properties.get(path[0])):
            plain.setdefault(path[0], []).append(value)  # `tags[]=a&tags[]=b`, as PHP and Rails send an array
        else:
            plain.setdefault(key, []).append(value)
    fields: dict[str, Any] = {name: _field(values, properties.get(name), encoding.get(name) or {})
                              for name, values in plain.items()}
    fields.update(nest([(bracket_path(key) or [key], value) for key, value in deep]))
    return fields


def form_items(pairs: Pairs) -> Any:
    """A form body whose schema is an array, read by the conventions clients use: nothing or `[]` is
    the empty list, `0[name]=cut&1[name]=add` indexed items (as qs and Rack write them), and plain keys
    one item after another, a new item where a key comes again (`name=cut&name=add`: two items)."""
    entries: list[tuple[list[str], Any]] = []
    item, seen = 0, set()
    for key, value in pairs:
        path = bracket_path(key)
        if path and _INDEX.fullmatch(path[0]):
            entries.append((path, value))
        elif key not in ("", "[]") and path is None:
            if key in seen:
                item, seen = item + 1, set()
            seen.add(key)
            entries.append(([str(item), key], value))
    return nest(entries) if entries else Parsed([])


def _field(values: list[Any], prop: Any, encoding: dict[str, Any]) -> Any:
    """One form field's values: JSON parts parsed, delimited arrays split, the rest `Repeated`."""
    types = declared_types(prop)
    media = encoding.get("contentType") or ""
    wants_json = any(names_json(part) for part in media.split(",")) or (not media and _holds_objects(prop))
    if wants_json:
        parsed = [_json_or_text(v) for v in values]
        if "array" in types and (len(parsed) > 1 or not isinstance(_plain(parsed[0]), list)):
            return Parsed([_plain(p) for p in parsed]) if all(isinstance(p, Parsed) for p in parsed) else Repeated(values)
        return parsed[-1]
    style = style_of(encoding, "formData")
    if "array" in types and not style.explode:
        delimiter = DELIMITERS.get(style.style, ",")
        return [part for value in values for part in split(value, delimiter)]
    if "object" in types and style.style == "form" and not style.explode and "array" not in types:
        found = key_value_pairs(split(values[-1], ","))
        return found if found is not None else values[-1]
    return Repeated(values)


def _holds_objects(prop: Any) -> bool:
    """OpenAPI's default part contentType is application/json for objects and arrays of objects."""
    types = declared_types(prop)
    return types == ["object"] or (types == ["array"] and declared_types(items_schema(prop)) == ["object"])


def names_json(media: str) -> bool:
    """JSON or a `+json` type by name (not a wildcard that merely admits JSON)."""
    base = base_type(media)
    return base == "application/json" or base.endswith("+json")


def _json_or_text(value: Any) -> Any:
    try:
        return Parsed(parse_json(value))
    except (TypeError, ValueError, RecursionError):
        return value


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Parsed) else value


# --- typing ------------------------------------------------------------------------------------------

def typed(raw: Any, schema: Any, depth: int = 0) -> Any:
    """A decoded value read as its schema says: texts as the declared scalar types, `Repeated` as a
    list where the schema says array (else its last text), dicts with index keys as lists of the
    schema's items. Parsed JSON stays as it was."""
    if isinstance(raw, Parsed):
        return raw.value
    types = declared_types(schema)
    if isinstance(raw, Repeated):
        if "array" in types and (len(raw) > 1 or types[0] == "array"):
            items = items_schema(schema)
            return [typed(v, items, depth + 1) for v in raw]
        return typed(raw[-1], schema, depth + 1) if raw else ""
    if isinstance(raw, str):
        return coerce_text(raw, text_types(schema, types))
    if depth > MAX_DEPTH * 2:
        return raw
    if isinstance(raw, list):
        items = items_schema(schema)
        return [typed(v, items, depth + 1) for v in raw]
    if isinstance(raw, dict):
        if raw and all(_INDEX.fullmatch(k) for k in raw) and ("array" in types or not types):
            items = items_schema(schema)
            return [typed(raw[k], items, depth + 1) for k in sorted(raw, key=int)]
        properties = merged_properties(schema)
        additional = next((p["additionalProperties"] for p in branches(schema)
                           if isinstance(p.get("additionalProperties"), dict)), {})
        return {key: typed(value, properties.get(key, additional), depth + 1) for key, value in raw.items()}
    return raw


def text_readings(raw: Any, schema: Any) -> list[Any]:
    """A text's other readings where its schema allows several scalar types (`oneOf: [integer, string]`:
    `0` as 0 and as "0"), for the caller to keep the one the schema accepts; [] for anything else."""
    types = declared_types(schema)
    if not isinstance(raw, str) or len(types) < 2:
        return []
    return [coerce_text(raw, [kind]) for kind in types[1:] if kind in _SCALARS]


_SCALARS = ("string", "integer", "number", "boolean", "null")
def text_types(schema: Any, types: list[str] | None = None) -> list[str]:
    """The types a text value of this schema is read as, in order: its declared ones, and null where 3.0's
    `nullable` allows it (callers with a fixed schema work this out once)."""
    types = declared_types(schema) if types is None else types
    return [*types, "null"] if "null" not in types and _nullable(schema) else types


def declared_types(schema: Any) -> list[str]:
    """Every JSON type a schema (or its allOf/oneOf/anyOf branches) names, in order."""
    if not isinstance(schema, dict):
        return []
    declared = schema.get("type")
    found = list(declared) if isinstance(declared, list) else [declared] if isinstance(declared, str) else []
    for key in ("allOf", "oneOf", "anyOf"):
        for branch in schema.get(key) or []:
            found += [t for t in declared_types(branch) if t not in found]
    return found


def _nullable(schema: Any) -> bool:
    """3.0's `nullable: true` on the schema or a union branch: the text `null` reads as null, as a 3.1
    type list with "null" does (a multipart or form field cannot say null any other way)."""
    return any(part.get("nullable") is True for part in branches(schema))


def items_schema(schema: Any) -> Any:
    """An array schema's `items` (or the first branch's that has one)."""
    if not isinstance(schema, dict):
        return {}
    if isinstance(schema.get("items"), dict):
        return schema["items"]
    for key in ("allOf", "oneOf", "anyOf"):
        for branch in schema.get(key) or []:
            found = items_schema(branch)
            if found:
                return found
    return {}


def branches(schema: Any, depth: int = 0) -> list[dict[str, Any]]:
    """The schema and its allOf/oneOf/anyOf branches, nested ones included."""
    if not isinstance(schema, dict):
        return []
    found = [schema]
    if depth < 8:
        for key in ("allOf", "oneOf", "anyOf"):
            for part in schema.get(key) or []:
                found += branches(part, depth + 1)
    return found


def merged_properties(schema: Any) -> dict[str, Any]:
    """Every property any branch declares (a union's object branches read as one)."""
    properties: dict[str, Any] = {}
    for part in branches(schema):
        for key, value in (part.get("properties") or {}).items():
            properties.setdefault(key, value)
    return properties


_INDEX = re.compile(r"[0-9]{1,9}")  # an array index in brackets (`²` is a digit to str.isdigit, not to int)
_BOOLEANS = {"true": True, "false": False}


# a number as JSON writes it (a leading `+` and zeros tolerated): not Python's `1_000`, `inf`, `nan` or ` 5 `
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]{1,4})?")


def coerce_text(text: str, types: list[str]) -> Any:
    """Request text as the first of `types` it reads as (left as text when none fits). An integer is
    any number with a zero fractional part (`2`, `2.0`, `2e3`), as JSON Schema (draft 4 on) counts it."""
    number = _number(text) if ("integer" in types or "number" in types) else None
    for kind in types:
        if kind == "integer" and number is not None and (type(number) is int or number.is_integer()):
            return int(number)  # an int as it is (one beyond a float's range too: float() would raise)
        if kind == "number" and number is not None:
            return number
        if kind == "boolean" and text.lower() in _BOOLEANS:
            return _BOOLEANS[text.lower()]
        if kind == "null" and text in ("", "null"):
            return None
    return text


def _number(text: str) -> int | float | None:
    """`5` as an int, `5.0`, `5e0` and `5.5` as floats; None for text that is no (finite) number."""
    if not _NUMBER.fullmatch(text):
        return None
    if "." not in text and "e" not in text and "E" not in text:
        try:
            return int(text)
        except ValueError:  # more digits than Python converts (sys.int_info.str_digits_check_threshold)
            return None
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return value
