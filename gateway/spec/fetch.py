"""`gw serve https://.../openapi.yaml`: a spec by URL, fetched once per start and kept on disk.

The document and the files its relative `$ref`s name on the same host are mirrored into the cache
(`~/.cache/gw/remote/...`, by URL path), so the loader bundles them as it would local files, and
a restart without network serves the last copy.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..settings.config import ConfigError
from ..settings.spec_cache import mirror_path, url_root

MAX_BYTES = 64 * 1024 * 1024  # one document; a spec larger than this is not a spec
MAX_FILES = 200  # files reached through relative references


class FetchError(ConfigError):
    """A spec URL that could not be fetched and has no cached copy: `url: reason`."""


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def fetch_spec(url: str, timeout: float = 10.0, read: Any = None) -> tuple[Path, str | None]:
    """The local copy of the spec at `url` (fetched now, else the cached one) and a note when the
    cached copy is served because the URL could not be reached; FetchError when there is neither.
    `read` parses a fetched file (the spec loader's reader) so its relative references can be followed."""

    root = url_root(url)
    target = mirror_path(root, url)
    try:
        _download(url, target, timeout)
    except (OSError, FetchError) as exc:
        reason = _reason(exc)
        if not target.exists():
            raise FetchError(url, "", f"cannot fetch the spec ({reason}) and no copy is cached") from None
        cached_at = time.strftime("%Y-%m-%d %H:%M", time.localtime(target.stat().st_mtime))
        return target, f"{url}: cannot fetch ({reason}); serving the copy cached {cached_at}"
    if read is not None:
        _fetch_references(url, target, root, timeout, read)
    return target, None


def _fetch_references(url: str, target: Path, root: Path, timeout: float, read: Any) -> None:
    """Mirror the files that relative `$ref`s name, transitively, on the same host; one that cannot be
    fetched keeps its cached copy, or stays missing (the loader then leaves out what needs it)."""

    pending, done = [(url, target)], {url}
    while pending and len(done) <= MAX_FILES:
        document_url, path = pending.pop()
        try:
            document = read(path)
        except ConfigError:
            continue  # the loader reports it with its place
        for ref in _file_refs(document):
            other = urljoin(document_url, ref).split("#", 1)[0]
            if other in done or urlsplit(other).netloc != urlsplit(url).netloc:
                continue
            done.add(other)
            local = mirror_path(root, other)
            try:
                _download(other, local, timeout)
            except (OSError, FetchError):
                if not local.exists():
                    continue
            pending.append((other, local))


def _file_refs(document: Any) -> set[str]:
    """The file parts of every `$ref` to another file (relative: absolute URLs are not followed)."""
    found: set[str] = set()
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#") and not urlsplit(ref).scheme:
                found.add(ref.split("#", 1)[0])
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return found


def _download(url: str, target: Path, timeout: float) -> None:
    """Fetch `url` into `target`; FetchError (its reason in words) when it cannot be."""
    import httpx  # only a spec URL needs an HTTP client: imported here, not on every `gw serve` (~0.05 s)

    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            if response.status_code != 200:
                raise FetchError(url, "", f"HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise FetchError(url, "", f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
    except httpx.HTTPError as exc:
        raise FetchError(url, "", _http_reason(exc)) from None
    if target.is_file() and target.read_bytes() == body:
        return  # unchanged: the file (and its time) stays, so a watching reload sees no change
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(bytes(body))
    os.replace(temporary, target)


def _reason(exc: Exception) -> str:
    if isinstance(exc, FetchError):
        return exc.reason
    return str(exc) or type(exc).__name__


def _http_reason(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc}" if str(exc) else "cannot connect"
    return str(exc) or type(exc).__name__
