"""Write stub files so that nothing half-written is ever seen: temp file in the same folder,
flushed to disk, then renamed over the target (atomic on POSIX). A crash, a kill or a full disk
leaves the old file or the new one, never a mix; two writers of the same stub both leave a whole
file (the last rename wins)."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml


def write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    sync_folder(target.parent)  # make the rename itself durable


def sync_folder(folder: Path) -> None:
    """Make the folder's last renames and removals durable before what comes next (best effort)."""
    try:
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass


# write_atomic's temp files: `.<target name>.<mkstemp's 8 random characters>.tmp`
_LEFTOVER = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def sweep_leftovers(root: Path, older_than: float = 10.0) -> int:
    """Remove temp files a killed recording left behind (our own naming only, and only those older than
    `older_than` seconds, so a write in flight in another process is never touched). Returns how many."""
    removed = 0
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than
    for folder in [root, *(p for p in root.iterdir() if p.is_dir()), *root.glob("*/.versions")]:
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            try:
                if (_LEFTOVER.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink()
                        and entry.stat().st_mtime < cutoff):
                    entry.unlink()
                    removed += 1
            except OSError:
                continue
    return removed


def dump_yaml(document: dict[str, Any]) -> bytes:
    """Readable YAML: keys in the order given, long text as block scalars."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120).encode()


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)
