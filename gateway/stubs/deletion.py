"""Deleting stubs: the stub file and its side files, and nothing else (the admin API and `gw stubs prune`).

A stub's side files are the body it names (`response.body_file`, found as format.py finds it) and the
`<id>.body` the recorder writes beside it. A side file stays, and the deletion says why, when it is outside
the stubs folder, when a stub file that stays still names it, or when it is a stub file itself.

The order makes a crash harmless: every stub file goes first (and its folder is synced), then the side
files. A crash in between leaves a body nothing names, never a stub whose body is gone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..spec.safe_yaml import load_yaml
from .format import Stub, body_file_path
from .persister import sync_folder

log = logging.getLogger("gw.stubs")

STUB_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Deletion:
    """What deleting one stub did: the files removed (its own first), the side files kept and why."""

    stub: Stub
    removed: list[Path] = field(default_factory=list)
    kept: list[tuple[Path, str]] = field(default_factory=list)
    failed: str = ""  # the stub file itself could not be removed (then none of its side files is touched)

    def notes(self) -> list[str]:
        """One line per file kept: `PATH: kept: reason`."""
        failed = [f"{self.stub.file}: not removed: {self.failed}"] if self.failed else []
        return failed + [f"{path}: kept: {reason}" for path, reason in self.kept]


def delete_stubs(root: Path, stubs: list[Stub]) -> list[Deletion]:
    """Remove these stubs' files, then their side files that no remaining stub names (see the module docstring)."""
    root = root.resolve()
    deletions = [Deletion(stub) for stub in stubs]
    doomed = {stub.file.resolve() for stub in stubs}
    sides = [_side_files(stub.file) for stub in stubs]  # read before anything goes
    staying = _stub_files(root, doomed)  # stub file -> the body file it names (None: none)
    named = {body: file for file, body in staying.items() if body is not None}
    for deletion in deletions:
        try:
            if _unlink(deletion.stub.file):
                deletion.removed.append(deletion.stub.file)
        except OSError as exc:
            deletion.failed = exc.strerror or str(exc)
            named.update({body: deletion.stub.file.resolve() for body in _side_files(deletion.stub.file)})  # still used
    for folder in {stub.file.parent for stub in stubs}:
        sync_folder(folder)  # the stubs are gone for good before any body they named goes
    gone: set[Path] = set()
    for deletion, files in zip(deletions, sides, strict=True):
        for side in [] if deletion.failed else files:
            reason = _keep_reason(side, root, named, staying, doomed)
            if not reason and side not in gone:
                try:
                    if _unlink(side):
                        deletion.removed.append(side)
                    gone.add(side)
                except OSError as exc:
                    reason = f"could not be removed: {exc.strerror or exc}"
            if reason:
                deletion.kept.append((side, reason))
                log.warning("%s: kept %s: %s", deletion.stub.file, side, reason)
    return deletions


def _side_files(file: Path) -> list[Path]:
    """The body file this stub file names, and the recorder's `<id>.body` beside it when there is one (resolved)."""
    found: list[Path] = []
    body = _named_body(file)
    if body is not None:
        found.append(body)
    conventional = (file.parent / f"{file.stem}.body").resolve()
    if conventional.is_file() and conventional not in found:
        found.append(conventional)
    return found


def _named_body(file: Path) -> Path | None:
    """The resolved `response.body_file` of a stub file; None when it names none or is not a stub file."""
    document = _read(file)
    response = document.get("response") if isinstance(document, dict) and "request" in document else None
    if not isinstance(response, dict) or not isinstance(response.get("body_file"), str):
        return None
    return body_file_path(file, response).resolve()


def _read(file: Path) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
        return json.loads(text) if file.suffix == ".json" else load_yaml(text)
    except Exception:  # a file that cannot be read names no body: it is simply not a stub here
        return None


def _stub_files(root: Path, doomed: set[Path]) -> dict[Path, Path | None]:
    """Every stub file that stays (in any service's folder), with the body file it names."""
    staying: dict[Path, Path | None] = {}
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")] if root.is_dir() else []
    for folder in folders:
        for file in folder.iterdir():
            if file.suffix not in STUB_SUFFIXES or file.name.startswith(".") or not file.is_file():
                continue
            resolved = file.resolve()
            if resolved in doomed:
                continue
            document = _read(file)
            if isinstance(document, dict) and "request" in document and "response" in document:
                staying[resolved] = _named_body(file)
    return staying


def _keep_reason(side: Path, root: Path, named: dict[Path, Path], staying: dict[Path, Path | None],
                 doomed: set[Path]) -> str:
    if not side.is_relative_to(root):
        return f"outside the stubs folder {root}"
    if side in doomed:
        return ""  # the stub file itself (a body_file naming its own stub): already removed
    if side in staying:
        return "it is a stub file itself"
    if side in named:
        user = named[side]
        return f"{user.relative_to(root) if user.is_relative_to(root) else user} uses it too"
    return ""


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
