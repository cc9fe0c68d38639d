"""A stub reload that passes `reload_timeout` names the file it was reading when the deadline passed (the reload's
worker tells the gateway each file before it reads it), and keeps the stubs loaded before."""

from __future__ import annotations

from pathlib import Path

from gw.runtime.reload_worker import Bounds, reload_stubs
from gw.stubs import StubStore

STUB = "request: {{method: GET, path: /{name}}}\nresponse: {{status: 200, body: {{name: {name}}}}}\n"


def test_the_file_past_the_deadline_is_named_and_the_stubs_loaded_before_are_kept(tmp_path: Path) -> None:
    folder = tmp_path / "stubs" / "svc"
    folder.mkdir(parents=True)
    (folder / "a_ping.yaml").write_text(STUB.format(name="ping"))
    store = StubStore(tmp_path / "stubs", ["svc"])
    assert [stub.path for stub in store.all()] == ["/ping"]
    (folder / "b_quick.yaml").write_text(STUB.format(name="quick"))
    slow = folder / "c_slow.yaml"
    slow.write_text("x: " + "[" * 150_000 + "]" * 150_000 + "\n")  # PyYAML's scanner: quadratic, seconds on any box
    (folder / "d_after.yaml").write_text(STUB.format(name="after"))
    refused = reload_stubs(store, Bounds(timeout=0.5, max_spec_size=16 * 2**20, max_memory=2**30))
    assert refused == f"{slow}: loading took longer than reload_timeout (0.5 s)"
    assert [stub.path for stub in store.all()] == ["/ping"]  # nothing of the refused reload swapped in
    slow.unlink()
    assert reload_stubs(store, Bounds(timeout=10, max_spec_size=16 * 2**20, max_memory=2**30)) is None
    assert [stub.path for stub in store.all()] == ["/ping", "/quick", "/after"]
