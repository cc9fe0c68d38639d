"""A service served with `dynamic: true` (or `gw serve --dynamic`) answers every request as if it
said `Prefer: dynamic=true`, unless the request asks otherwise (`dynamic=false`, or a named example)."""

from __future__ import annotations

import dataclasses

from .negotiator import Preferences


def dynamic_by_default(prefs: Preferences, header: str | None) -> Preferences:
    """`prefs` with `dynamic` on, unless the client's own Prefer header turns it off or names an example."""
    said = {part.strip().lower().replace(" ", "") for part in (header or "").replace(";", ",").split(",")}
    if prefs.dynamic or prefs.example is not None or "dynamic=false" in said or 'dynamic="false"' in said:
        return prefs
    return dataclasses.replace(prefs, dynamic=True)
