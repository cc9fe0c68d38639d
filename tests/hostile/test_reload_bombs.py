"""A hostile or pathological spec edited in while serving is refused with one line; serving and later reloads go on.

One real `gw serve` (reload polling every 0.1 s, `reload_timeout: 2s`, `reload_max_spec_size: 16MiB`) serves two
services from one folder, `api.yaml` and `api.json`. Each test writes a bomb over one of them (atomically, as an
editor saving), and checks: a normal request keeps answering within a second while the reload runs, one error
line names the refused file, the process (and its workers) go back to idle, and a good edit then reloads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gw.settings.config import ConfigError, apply_env, build_config
from tests.conftest import ROOT, GatewayProcess, eventually

TICKS = os.sysconf("SC_CLK_TCK")

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads CPU time from /proc")


def spec_yaml(extra_path: str = "", tail: str = "") -> str:
    added = (f"  {extra_path}:\n    get:\n      responses:\n        '200':\n          description: ok\n"
             f"          content: {{application/json: {{example: {{added: true}}}}}}\n") if extra_path else ""
    return ("openapi: 3.0.3\ninfo: {title: y, version: '1'}\npaths:\n  /ping:\n    get:\n      responses:\n"
            "        '200':\n          description: ok\n          content: {application/json: {example: {pong: yaml}}}\n"
            f"{added}{tail}")


def spec_json(extra_path: str = "", **extra: object) -> str:
    answer = {"200": {"description": "ok", "content": {"application/json": {"example": {"pong": "json"}}}}}
    paths = {"/ping": {"get": {"responses": answer}}}
    if extra_path:
        paths[extra_path] = {"get": {"responses": answer}}
    return json.dumps({"openapi": "3.0.3", "info": {"title": "j", "version": "1"}, "paths": paths, **extra})


def write(path: Path, text: str) -> None:
    """As an editor saves: the whole new content at once (a reload never sees half a file)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


class Gateway:
    def __init__(self, folder: Path, reload_timeout: str = "2s") -> None:
        self.folder = folder
        write(folder / "api.yaml", spec_yaml())
        write(folder / "api.json", spec_json())
        (folder / "gateway.yaml").write_text(
            f"reload_interval: 0.1\nreload_timeout: {reload_timeout}\nreload_max_spec_size: 16MiB\n"
            "services:\n  y: {spec: api.yaml, base_path: /y}\n  j: {spec: api.json, base_path: /j}\n")
        self.process = GatewayProcess([], cwd=folder).wait_ready()
        self.client = httpx.Client(base_url=self.process.url, timeout=10)

    def refusals(self, file: str) -> list[str]:
        lines = [json.loads(line) for line in self.process.log().splitlines() if line.startswith("{")]
        return [e["msg"] for e in lines if e.get("level") == "error" and "spec not reloaded" in e.get("msg", "")
                and file in e["msg"]]

    def cpu_seconds(self) -> float:
        """User + system time of the gateway and every process of its group (the reload's workers too)."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.proc.pid:  # field 5, pgrp: the gateway leads its own group
                total += int(fields[11]) + int(fields[12])
                if stat.parent.name == str(self.process.proc.pid):
                    total += int(fields[13]) + int(fields[14])  # and the workers it has reaped
        return total / TICKS


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    served = Gateway(tmp_path_factory.mktemp("reload-bombs"))
    yield served
    served.client.close()
    served.process.stop()


@pytest.fixture(scope="module")
def hurried_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway whose reloads may take 0.3 s: a spec that takes over a second to load on any box (loading got
    faster: under the 2 s of `gateway` on a quiet box) then pins the deadline itself."""
    served = Gateway(tmp_path_factory.mktemp("reload-hurried"), reload_timeout="300ms")
    yield served
    served.client.close()
    served.process.stop()


class Probe:
    """GET /y/ping every 50 ms in a thread; the slowest answer (and any failure) while it runs."""

    def __init__(self, url: str) -> None:
        self.url, self.slowest, self.failures, self.count = url, 0.0, [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Probe:
        self._thread.start()
        eventually(lambda: self.count, timeout=10)  # probing before the edit, not only after it
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status = client.get(f"{self.url}/y/ping").status_code
                    if status != 200:
                        self.failures.append(status)
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.slowest = max(self.slowest, time.monotonic() - started)
                self.count += 1
                self._stop.wait(0.05)


def refused_then_recovers(gateway: Gateway, file: str, bomb: str, good: str, new_path: str) -> None:
    """Write `bomb` over `file`: refused in one line while requests answer; idle after; then `good` reloads."""
    before = len(gateway.refusals(file))
    with Probe(gateway.process.url) as probe:
        write(gateway.folder / file, bomb)
        eventually(lambda: len(gateway.refusals(file)), lambda n: n > before, timeout=15)
    assert probe.failures == [] and probe.count > 0
    assert probe.slowest < 1.0, f"a request took {probe.slowest:.2f} s during the reload"
    cpu = gateway.cpu_seconds()
    time.sleep(1.0)
    assert gateway.cpu_seconds() - cpu < 0.25, "the gateway did not go back to idle after refusing the file"
    service = "y" if file.endswith(".yaml") else "j"
    assert gateway.client.get(f"/{service}/ping").json() == {"pong": "yaml" if service == "y" else "json"}
    write(gateway.folder / file, good)
    assert eventually(lambda: gateway.client.get(f"/{service}{new_path}").status_code, lambda s: s == 200, timeout=15)
    assert len(gateway.refusals(file)) == before + 1, gateway.refusals(file)


def billion_laughs() -> str:
    levels = ['  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    return spec_yaml(tail="x-laughs:\n" + "\n".join(levels) + "\n")


def slow_aliases() -> str:
    """Under the alias-bomb limit (~2.7 million nodes once expanded), yet over a second to parse, check and hash."""
    levels = ["  l0: &l0 lol"]
    levels += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 8)}]" for i in range(1, 8)]
    return spec_yaml(tail="x-slow:\n" + "\n".join(levels) + "\n")


def test_a_billion_laughs_edit_is_refused_and_a_later_edit_reloads(gateway: Gateway) -> None:
    refused_then_recovers(gateway, "api.yaml", billion_laughs(), spec_yaml("/after-laughs"), "/after-laughs")
    assert "alias" in gateway.refusals("api.yaml")[-1]


def test_yaml_nested_100k_deep_is_refused_and_a_later_edit_reloads(gateway: Gateway) -> None:
    deep = spec_yaml(tail="x-deep: " + "[" * 100_000 + "]" * 100_000 + "\n")
    refused_then_recovers(gateway, "api.yaml", deep, spec_yaml("/after-deep-yaml"), "/after-deep-yaml")
    # PyYAML's scanner is quadratic in flow nesting: the deadline, not the recursion limit, stops this one
    assert any(why in gateway.refusals("api.yaml")[-1] for why in ("nests too deeply", "longer than reload_timeout"))


def test_json_nested_100k_deep_is_refused_and_a_later_edit_reloads(gateway: Gateway) -> None:
    deep = spec_json()[:-1] + ', "x-deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
    refused_then_recovers(gateway, "api.json", deep, spec_json("/after-deep-json"), "/after-deep-json")
    assert "nests too deeply" in gateway.refusals("api.json")[-1]


def test_a_20_mb_spec_over_the_size_limit_is_refused_unread(gateway: Gateway) -> None:
    huge = spec_json(**{"x-filler": ["x" * 1000] * 20_000})
    assert len(huge) > 20_000_000
    refused_then_recovers(gateway, "api.json", huge, spec_json("/after-huge"), "/after-huge")
    assert "over reload_max_spec_size (16 MiB)" in gateway.refusals("api.json")[-1]


def test_a_spec_slow_to_load_is_stopped_at_the_reload_timeout(hurried_gateway: Gateway) -> None:
    gateway = hurried_gateway
    refused_then_recovers(gateway, "api.yaml", slow_aliases(), spec_yaml("/after-slow"), "/after-slow")
    assert "longer than reload_timeout (0.3 s)" in gateway.refusals("api.yaml")[-1]


def test_the_admin_stubs_reload_is_bounded_too(gateway: Gateway) -> None:
    folder = gateway.folder / "stubs" / "y"
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "ping.yaml", "request: {method: GET, path: /ping}\nresponse: {status: 200, body: {pong: stub}}\n")
    write(folder / "deep.json", "[" * 100_000 + "]" * 100_000)
    write(folder / "laughs.yaml", "request: {method: GET, path: /laughs}\nresponse: {status: 200}\nmeta:\n"
          + billion_laughs().split("x-laughs:\n", 1)[1])
    headers = {"Content-Type": "application/json"}
    answer = gateway.client.post("/_gw/api/stubs/reload", content="{}", headers=headers).json()
    assert "stubs" in answer, answer
    assert answer["stubs"] >= 1 and any("deep.json" in e and "nests too deeply" in e for e in answer["errors"])
    assert any("laughs.yaml" in e and "alias" in e for e in answer["errors"]), answer["errors"]
    assert gateway.client.get("/y/ping").json() == {"pong": "stub"}
    write(folder / "slow.yaml", "x: " + "[" * 100_000 + "]" * 100_000 + "\n")  # quadratic to scan
    with Probe(gateway.process.url) as probe:
        answer = gateway.client.post("/_gw/api/stubs/reload", content="{}", headers=headers).json()
    # refused either way, and only that file: past the deadline on a busy box, or as too deep once scanned
    # (the spec test above pins the deadline itself with a file that is slow on any box)
    slow = [e for e in answer["errors"] if "slow.yaml" in e]
    assert slow and any(("longer than reload_timeout" in e or "nests too deeply" in e) for e in slow), answer["errors"]
    assert probe.slowest < 1.0 and probe.failures == []
    assert gateway.client.get("/y/ping").json() == {"pong": "stub"}  # the stubs loaded before are kept
    for name in ("ping.yaml", "deep.json", "laughs.yaml", "slow.yaml"):
        (folder / name).unlink()


def test_reload_bounds_are_settings_with_defaults_and_env_overrides() -> None:
    defaults = build_config({}, "test")
    assert (defaults.reload_timeout, defaults.reload_max_spec_size, defaults.reload_max_memory) == (10.0, 50 * 2**20, 2 * 2**30)
    data: dict[str, object] = {"reload_timeout": "500ms"}
    apply_env(data, {"GW_RELOAD_MAX_SPEC_SIZE": "5MiB", "GW_RELOAD_MAX_MEMORY": "512MiB"})
    config = build_config(data, "test")
    assert (config.reload_timeout, config.reload_max_spec_size, config.reload_max_memory) == (0.5, 5 * 2**20, 512 * 2**20)
    with pytest.raises(ConfigError, match="reload_timeout"):
        build_config({"reload_timeout": "soon"}, "test")


def test_a_reload_past_its_memory_cap_is_refused(tmp_path: Path) -> None:
    """In a fresh process: a forked worker first reuses memory its parent has freed, which a long test run has plenty of."""
    spec = tmp_path / "api.json"
    write(spec, spec_json(**{"x-filler": [{"n": i, "s": "x" * 20} for i in range(100_000)]}))  # ~4 MB of JSON
    small = tmp_path / "small.json"
    write(small, spec_json("/small"))
    script = f"""
from gw.settings.config import build_config
from gw.runtime.reload_worker import Bounds, trial
from gw.spec.load import SpecError
bounds = Bounds(timeout=20, max_spec_size=2**30, max_memory=32 * 2**20)
config = build_config({{"services": {{"j": {{"spec": {str(spec)!r}}}, "s": {{"spec": {str(small)!r}}}}}}}, "test")
try:
    trial(config, config.services["j"], bounds)
except SpecError as exc:
    print(exc)
print(sorted(trial(config, config.services["s"], bounds)[0]["paths"]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    refused, loaded = done.stdout.strip().splitlines()
    assert "api.json: " in refused and "reload_max_memory (32 MiB)" in refused, done.stdout + done.stderr
    assert loaded == "['/ping', '/small']"  # a small spec loads within the same cap
