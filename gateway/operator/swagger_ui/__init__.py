"""Swagger UI 5.x (npm's `swagger-ui-dist`), vendored: it renders OpenAPI 3.0, 3.1 and Swagger 2.0.

Served by `gateway/operator/endpoints/docs.py` at `/_gw/docs/{service}/`, from the package, never from a CDN,
so the docs work offline and on a fresh install. Only the files the page loads are kept, with the
upstream licence (Apache-2.0) and notice. `python scripts/refresh_swagger_ui.py [VERSION]` replaces them.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
VERSION = (FOLDER / "VERSION").read_text().strip()
