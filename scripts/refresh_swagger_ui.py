"""Refresh the Swagger UI files gw serves at /_gw/docs from npm's `swagger-ui-dist` package.

The docs pages are served from the package, never from a CDN, so the files are vendored into
`gateway/operator/swagger_ui/`. Only what the page loads is kept (no source maps, no ES bundles) to keep
the wheel small, with the upstream licence files beside them.

Usage: python scripts/refresh_swagger_ui.py [VERSION]     (default: the newest 5.x; needs `npm`)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "gateway" / "operator" / "swagger_ui"
KEEP = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-16x16.png", "favicon-32x32.png",
        "oauth2-redirect.html", "oauth2-redirect.js", "LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt")


def main(version: str = "5") -> None:
    if shutil.which("npm") is None:
        sys.exit("error: npm is needed to fetch swagger-ui-dist (apt-get install npm)")
    with tempfile.TemporaryDirectory() as temp:
        packed = subprocess.run(["npm", "pack", "--silent", f"swagger-ui-dist@{version}"], cwd=temp, check=True,
                                capture_output=True, text=True).stdout.strip().splitlines()[-1]
        with tarfile.open(Path(temp) / packed) as archive:
            archive.extractall(temp, filter="data")
        package = Path(temp) / "package"
        for name in KEEP:
            shutil.copyfile(package / name, TARGET / name)
        exact = packed.removeprefix("swagger-ui-dist-").removesuffix(".tgz")
    (TARGET / "VERSION").write_text(exact + "\n")
    print(f"gateway/operator/swagger_ui: swagger-ui-dist {exact}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
