"""The import contracts in pyproject.toml ([tool.importlinter]) hold: `lint-imports`, run the way CI runs it.

The folders of gateway/ are a request's walk; the contracts say which way the imports between them may go (the
comments there say why each exception exists). A broken contract names the import that breaks it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_every_import_contract_is_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")  # the venv's console script (import-linter)
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
