"""A spec reload's deadline (`reload_timeout`) bounds loading that spec, not importing gw's own spec checker.

A start whose checks are all cached never imports the checker (openapi-spec-validator, ~0.2 s, more on a busy box).
The reload's worker is forked from the gateway: when the reloaded document is new, the worker checks it, and if the
gateway had not imported the checker, the worker paid the import inside its deadline (a short `reload_timeout`
then refused a sound spec on a loaded box). The gateway imports it before the first worker starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT


def test_the_gateway_imports_the_spec_checker_before_a_reload_worker_starts(tmp_path: Path) -> None:
    spec = tmp_path / "api.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /ping:\n    get:\n"
                    "      responses: {'200': {description: ok}}\n")
    script = textwrap.dedent(f"""
        import sys
        from gw.runtime.reload_worker import Bounds, trial
        from gw.settings.config import config_for_specs
        config = config_for_specs([{str(spec)!r}])
        settings = next(iter(config.services.values()))
        assert "openapi_spec_validator" not in sys.modules, "imported before any reload"
        raw, _, _ = trial(config, settings, Bounds(timeout=30, max_spec_size=2**20, max_memory=2**30))
        assert "/ping" in raw["paths"]
        print("openapi_spec_validator" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
