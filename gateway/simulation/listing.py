"""A list answer: the collection filtered and paged by the spec's own query parameters, in the list's shape.

Recognised by name: sorting (`sort=-created_at`, `order_by`, `order=desc`), page size (`limit`, `per_page`,
`page_size`, `size`...), `offset` / `skip`, `page`
(1-based unless its schema starts at 0), and opaque cursors (`cursor`, `after`, `page_token`...: gw's
cursors encode the offset). Any other query parameter named like an item field filters by equality
(a list value: any of them); `<field>_after` / `_before` / `min_` / `max_` compare. The answer is a
bare array, or the envelope object the schema describes with its array property holding the page and
its total / page / next-like fields filled where the schema has them.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ..core.problems import Problem
from ..mocker.status_fields import Edit, apply_edits
from ..mocker.status_fields import properties as properties_of
from ..validation.serialization import declared_types
from .resources import norm

SIZE = frozenset({"limit", "perpage", "pagesize", "size", "count", "maxresults", "top", "first", "take", "pagelimit",
                  "itemsperpage", "numresults"})
OFFSET = frozenset({"offset", "skip", "start", "startindex"})
PAGE = frozenset({"page", "pagenumber", "pageno", "pagenum", "pageindex", "currentpage"})
CURSOR = frozenset({"cursor", "after", "pagetoken", "startingafter", "nexttoken", "continuationtoken", "continuation",
                    "pagecursor", "startcursor", "marker"})
SORT = frozenset({"sort", "sortby", "orderby", "ordering", "sortfield", "order"})
DIRECTION = frozenset({"direction", "sortorder", "sortdirection", "dir", "order"})
ITEMS = ("items", "data", "results", "records", "content", "entries", "values", "list", "elements", "rows", "hits",
         "objects", "resources", "nodes")
TOTAL = frozenset({"total", "totalcount", "totalitems", "totalelements", "totalresults", "totalrecords", "count",
                   "numfound", "totalsize", "totalhits"})
PAGES = frozenset({"totalpages", "pagecount", "numpages", "lastpage", "pages"})
NEXT = frozenset({"next", "nextcursor", "nextpagetoken", "nexttoken", "endcursor", "nextpage", "nextpageurl", "nextlink",
                  "nextpagecursor", "cursor", "after"})
PREVIOUS = frozenset({"previous", "prev", "prevcursor", "previouscursor", "prevpagetoken", "previouspagetoken", "prevpage",
                      "previouspage", "prevpageurl", "previouspageurl", "prevlink", "before"})
MORE = frozenset({"hasmore", "hasnext", "hasnextpage", "more", "moreresults", "hasmoreitems"})
NESTED = frozenset({"meta", "pagination", "paging", "pageinfo", "links", "page", "metadata", "cursor", "info"})


@dataclass
class Page:
    """Which part of the list this request asked for, and what the answer says about the rest."""

    offset: int
    size: int | None  # None: everything
    page: int | None  # the page number asked for, when the API pages by number
    first_page: int
    total: int = 0

    @property
    def end(self) -> int | None:
        return None if self.size is None else self.offset + self.size

    @property
    def more(self) -> bool:
        return self.end is not None and self.end < self.total


def declared_query(operation_parameters: list[Any]) -> dict[str, dict[str, Any]]:
    """The operation's query parameters by name, with their schemas."""
    return {p["name"]: (p.get("schema") or {}) for p in operation_parameters
            if isinstance(p, dict) and p.get("in") == "query" and isinstance(p.get("name"), str)}


def page_of(declared: dict[str, dict[str, Any]], given: dict[str, Any]) -> Page:
    """The page the query asks for, defaults from the parameters' schemas; a cursor gw did not hand out is a 400."""
    size = offset = page = None
    first = 1
    for name, schema in declared.items():
        kind, value = norm(name), given.get(name, schema.get("default"))
        if kind in SIZE and size is None:
            size = _int(value) if value is not None else _int(schema.get("maximum"))
        elif kind in OFFSET and given.get(name) is not None:  # only when asked: a page number may say it instead
            offset = _int(given[name]) or 0
        elif kind in PAGE:
            first = 0 if schema.get("minimum") == 0 or schema.get("default") == 0 else 1
            page = _int(value) if value is not None else first
        elif kind in CURSOR and given.get(name) not in (None, ""):
            offset = cursor_offset(str(given[name]), name)
    if page is not None and offset is None:
        offset = max(page - first, 0) * (size or 0)
    return Page(offset or 0, size if size is None else max(size, 0), page, first)


def cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def cursor_offset(text: str, name: str) -> int:
    try:
        kind, _, number = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode().partition(":")
        if kind == "o" and number.isdigit():
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise Problem(400, detail=f"query parameter {name}: {text[:40]!r} is not a cursor this API handed out",
                  slug="bad-cursor", errors=[{"in": "query", "name": name, "pointer": "", "message": "unknown cursor"}])


def filtered(items: list[dict[str, Any]], declared: dict[str, dict[str, Any]], given: dict[str, Any],
             fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The items every field filter in the query keeps."""
    tests = []
    for name, value in given.items():
        if name not in declared or norm(name) in SIZE | OFFSET | PAGE | CURSOR | SORT | DIRECTION or value is None:
            continue
        test = _test(name, value, fields)
        if test is not None:
            tests.append(test)
    return [item for item in items if all(test(item) for test in tests)]


def ordered(items: list[dict[str, Any]], declared: dict[str, dict[str, Any]], given: dict[str, Any],
            fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Sorted as the query asks: `sort=name`, `sort=-created_at`, `order_by=name desc`, `sort=name:desc`,
    `sort=a,-b`, or a field with `order` / `direction` = asc | desc; unknown fields are left out of the order."""
    keys: list[tuple[str, bool]] = []
    descending = any(norm(n) in DIRECTION and str(v).lower() in ("desc", "descending") for n, v in given.items()
                     if n in declared)
    for name, value in given.items():
        if name not in declared or norm(name) not in SORT or value is None:
            continue
        for part in (value if isinstance(value, list) else str(value).split(",")):
            text = str(part).strip()
            field, _, how = text.lstrip("-+").replace(":", " ").partition(" ")
            if field in fields:
                keys.append((field, text.startswith("-") or how.strip().lower() in ("desc", "descending") or descending))
    for field, reverse in reversed(keys):  # stable sorts, the first key last
        items = sorted(items, key=lambda item, f=field: _sort_key(item.get(f)), reverse=reverse)
    return items


def _sort_key(value: Any) -> tuple[int, Any]:
    """Missing and null values first, then numbers, then text: any two items compare."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value)
    return (2, _text(value))


def _test(name: str, value: Any, fields: dict[str, Any]) -> Any:
    if name in fields:
        wanted = [_text(v) for v in value] if isinstance(value, list) else [_text(value)]
        return lambda item: name in item and (_text(item[name]) in wanted or
                                              (isinstance(item[name], list) and any(_text(v) in wanted for v in item[name])))
    for prefix, suffix, sign in (("", "_after", 1), ("", "_before", -1), ("min_", "", 0), ("max_", "", -2),
                                 ("", "_gte", 0), ("", "_lte", -2), ("", "_gt", 1), ("", "_lt", -1)):
        if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix) + len(suffix):
            field = name[len(prefix):len(name) - len(suffix) if suffix else None]
            field = field if field in fields else f"{field}_at" if f"{field}_at" in fields else ""
            if field:
                return lambda item, f=field, s=sign: f in item and _compare(item[f], value, s)
    return None


def _compare(have: Any, bound: Any, sign: int) -> bool:
    try:
        if isinstance(have, (int, float)) and not isinstance(have, bool):
            have, bound = float(have), float(bound)
        else:
            have, bound = str(have), str(bound)
    except (TypeError, ValueError):
        return False
    return {1: have > bound, -1: have < bound, 0: have >= bound, -2: have <= bound}[sign]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def items_property(schema: Any, collection: str) -> str | None:
    """The envelope's array property holding the items: a well-known name, else its only array of objects."""
    arrays = {name: sub for name, sub in properties_of(schema).items()
              if isinstance(sub, dict) and "array" in declared_types(sub)}
    for wanted in (*ITEMS, collection):
        for name in arrays:
            if norm(name) == norm(wanted):
                return name
    objects = [n for n, sub in arrays.items() if isinstance(sub.get("items"), dict) and properties_of(sub["items"])]
    return objects[0] if len(objects) == 1 else (next(iter(arrays)) if len(arrays) == 1 else None)


def envelope(generated: dict[str, Any], schema: dict[str, Any], name: str, page_items: list[dict[str, Any]],
             page: Page, link: Any, checker: Any) -> dict[str, Any]:
    """The generated envelope with the page in `name` and its paging fields saying the truth (each change kept
    only while the schema accepts it: judged with one item, so a long page is not validated once per field)."""
    value = {**generated, name: page_items[:1]}
    return {**apply_edits(value, _edits(value, schema, page, link, (), name), checker), name: page_items}


def _edits(value: dict[str, Any], schema: dict[str, Any], page: Page, link: Any, path: tuple[str, ...],
           items_name: str) -> list[Edit]:
    edits: list[Edit] = []
    size = page.size if page.size is not None else max(page.total, 1)
    number = page.page if page.page is not None else page.offset // max(size, 1) + page.first_page
    in_links = bool(path) and norm(path[-1]) == "links"
    for name, sub in properties_of(schema).items():
        if not isinstance(sub, dict) or (not path and name == items_name):
            continue
        kind, types, where = norm(name), set(declared_types(sub)), (*path, name)
        numeric = bool(types & {"integer", "number"})
        if kind in NESTED and "object" in types and isinstance(value.get(name), dict) and len(path) < 2:
            edits += _edits(value[name], sub, page, link, where, items_name)
        elif kind in TOTAL and numeric:
            edits.append((where, page.total))
        elif kind in PAGES and numeric:
            edits.append((where, max(math.ceil(page.total / max(size, 1)), 1)))
        elif kind in SIZE and numeric:
            edits.append((where, size))
        elif kind in OFFSET and numeric:
            edits.append((where, page.offset))
        elif kind in PAGE and numeric:
            edits.append((where, number))
        elif kind in MORE and "boolean" in types:
            edits.append((where, page.more))
        elif kind in NEXT | PREVIOUS or (in_links and kind in ("next", "prev", "previous", "first", "last", "self")):
            edits.append((where, _neighbour(kind, sub, types, page, link, number, in_links)))
    return edits


def _neighbour(kind: str, schema: dict[str, Any], types: set[str], page: Page, link: Any, number: int,
               in_links: bool) -> Any:
    """The next (or previous) page: a URL, a page number or a cursor as the field's schema says; null at the end."""
    forward = kind in NEXT or kind in ("last",)
    offset = page.end if forward else max(page.offset - (page.size or 0), 0)
    exists = page.more if forward else page.offset > 0
    if kind in ("self", "first"):
        exists, offset = True, page.offset if kind == "self" else 0
    if not exists or offset is None:
        return None if "null" in types or schema.get("nullable") else ""
    is_url = in_links or schema.get("format") in ("uri", "uri-reference", "url") or "url" in kind or "link" in kind \
        or kind in ("next", "previous", "prev")
    if types & {"integer", "number"}:
        return number + (1 if forward else -1)
    if is_url and "string" in types and link is not None:
        return link(offset)
    if "object" in types and in_links:  # HAL / JSON:API style {href}
        return {"href": link(offset)} if link is not None else None
    return cursor(offset)


def page_link(path: str, given: dict[str, str], declared: dict[str, dict[str, Any]], page: Page):
    """A function: offset -> this list's URL for the page starting there, in the API's own query parameters."""
    def link(offset: int) -> str:
        query = dict(given)
        for name in declared:
            kind = norm(name)
            if kind in OFFSET:
                query[name] = str(offset)
            elif kind in PAGE and page.size:
                query[name] = str(offset // page.size + page.first_page)
            elif kind in CURSOR:
                query[name] = cursor(offset)
            elif kind in SIZE and page.size is not None:
                query[name] = str(page.size)
        return f"{path}?{urlencode(query)}" if query else path
    return link
