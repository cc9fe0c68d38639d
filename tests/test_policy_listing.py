"""`gw routes` and `gw lint` show the policies each operation meets."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ROOT, TEST_SPECS, run_cli


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "gateway.yaml"
    config.write_text(f"""
auth: {{require: spec, jwt: {{secret: listing-secret-long-enough-for-hs256}}}}
rate_limit: {{limit: 100, window: 60}}
services:
  secured:
    spec: {TEST_SPECS / 'secured.yaml'}
    rate_limit: {{limit: 5, window: 1s, key: "header:X-API-Key", burst: 2}}
  users:
    spec: {ROOT / 'specs' / 'users.yaml'}
    operations:
      listUsers: {{rate_limit: {{limit: 1, window: 10}}, roles: [admin]}}
""")
    return config


def test_routes_list_each_operations_auth_and_rate_limit(tmp_path: Path) -> None:
    done = run_cli("routes", str(write_config(tmp_path)), "--json")
    assert done.returncode == 0, done.stderr
    rows = {(r["service"], r["operation"]): r for r in json.loads(done.stdout)}
    assert rows[("users", "listUsers")]["auth"] == "bearer [admin]"
    assert rows[("users", "listUsers")]["rate_limit"] == "1/10s per ip"
    assert rows[("users", "GET /me")]["auth"] == "bearerAuth"
    assert rows[("users", "registerUser")]["auth"] == "public"
    assert rows[("users", "registerUser")]["rate_limit"] == "100/60s per ip"
    assert {r["rate_limit"] for (s, _), r in rows.items() if s == "secured"} == {"5/1s per header:X-API-Key (+2 burst)"}


def test_lint_states_the_gateway_wide_policies(tmp_path: Path) -> None:
    done = run_cli("lint", str(write_config(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert "auth: require spec; keys: HS256 secret; 0 login users" in done.stdout
    assert "rate limit: 100/60s per ip; secured: 5/1s per header:X-API-Key (+2 burst)" in done.stdout
    assert "shared state: this process (no redis_url)" in done.stdout
