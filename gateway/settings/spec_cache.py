"""Where gw keeps files between starts (`$XDG_CACHE_HOME/gw`, else `~/.cache/gw`), and where a spec given by URL
is kept on disk: a pure function of the URL.

Settings name a spec's file (`GatewayConfig.spec_path`), and for a URL that file is its cached copy;
`spec/fetch.py` writes the copies. Both read the place from here, so neither imports the other; the spec checks'
findings (`spec/checks.py`) are kept below the same root.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit


def cache_root() -> Path:
    """gw's cache folder: `$XDG_CACHE_HOME/gw`, else `~/.cache/gw` (read each time: tests and users may set it)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gw"


def remote_cache() -> Path:
    """Where fetched specs are kept."""
    return cache_root() / "remote"


def url_root(url: str) -> Path:
    """One folder per spec URL: the document and the files it refers to, mirrored by URL path."""
    return remote_cache() / hashlib.sha256(url.encode()).hexdigest()[:16]


def mirror_path(root: Path, url: str) -> Path:
    """Where `url` is kept: its host and path below `root` (the path's last segment is the file
    name, so relative references between mirrored files resolve as they do on the server)."""
    parts = urlsplit(url)
    segments = [unquote(s) for s in parts.path.split("/") if s not in ("", ".", "..")]
    if not segments or parts.path.endswith("/"):
        segments.append("openapi")
    host = parts.netloc.replace(":", "_") or "host"
    return root.joinpath(host, *[s.replace(os.sep, "_") for s in segments])


def cached_path(url: str) -> Path:
    """Where the copy of the spec at `url` is kept (whether or not it was fetched yet)."""
    return mirror_path(url_root(url), url)
