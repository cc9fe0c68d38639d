"""`gw serve` as a real process on a free loopback port, as a user starts it (the pytest plugin, the test suite).

Its stderr (one access log line per request) goes to a temporary file, not a pipe nobody reads: a
pipe fills after ~64 KiB and the gateway would block writing its log. The file is read when the
gateway fails to start and when it stops.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ...core.port_check import free_port

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through an HTTP(S)_PROXY


def stop_process_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM a process started with `start_new_session=True` and its whole group (workers, node or java
    children), SIGKILL what is left after `grace` seconds. Servers started by gw serve, the tests and bench/ stop so."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def gw_command() -> list[str]:
    """How to run `gw`: the script beside this Python, else this package's CLI module run by this Python (any cwd)."""
    found = shutil.which("gw", path=str(Path(sys.executable).parent))
    if found:
        return [found]
    return [sys.executable, "-m", f"{__package__.partition('.')[0]}.cli"]


class GatewayProcess:
    """`gw serve *args --port <free port>` in a session of its own; `wait_ready()`, then `stop()`."""

    def __init__(self, args: list[str], cwd: str | Path | None = None, env: dict[str, str] | None = None,
                 log_path: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.keep_log = log_path is not None  # a log file the caller named stays after stop()
        log = open(log_path, "wb") if log_path else tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="gw-serve-", suffix=".log", delete=False)
        self.log_path = Path(log.name)
        self._output: str | None = None  # the log's text once stopped (a temporary file is then removed)
        with log:
            self.proc = subprocess.Popen([*gw_command(), "serve", *args, "--port", str(self.port)], cwd=cwd,
                                         env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=log,
                                         start_new_session=True)

    def log(self) -> str:
        """What the gateway has written to stderr so far."""
        if self._output is not None:
            return self._output
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def follow(self, poll: float = 0.05) -> Iterator[str]:
        """Its stderr lines as they are written, until the process has exited and every line is read."""
        return self._follow(open(self.log_path, encoding="utf-8", errors="replace"), poll)

    def _follow(self, stream: IO[str], poll: float) -> Iterator[str]:
        with stream:
            pending = ""
            while True:
                pending += stream.readline()
                if pending.endswith("\n"):
                    yield pending
                    pending = ""
                elif self.proc.poll() is not None:
                    rest = pending + stream.read()
                    if rest:
                        yield from rest.splitlines(keepends=True)
                    return
                else:
                    time.sleep(poll)

    def wait_ready(self, timeout: float = 30) -> GatewayProcess:
        """Wait until /_gw/health answers 200; RuntimeError (with the gateway's stderr) when it exits or times out."""
        if self.ready(timeout):
            return self
        if self.proc.poll() is not None:
            raise RuntimeError(f"gw serve exited {self.proc.returncode}: {self.log().strip()}")
        output = self.stop().strip()
        raise RuntimeError(f"gw serve did not answer {self.url}/_gw/health within {timeout:g} s: {output}")

    def ready(self, timeout: float = 30) -> bool:
        """True once /_gw/health answers 200; False when the process exits first or `timeout` passes (it is left
        running then: the caller tells a hang from a refusal with `proc.poll()`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with _DIRECT.open(f"{self.url}/_gw/health", timeout=1) as answer:
                    if answer.status == 200:
                        return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> str:
        """SIGTERM to its process group (workers included), SIGKILL after 10 s; returns everything it wrote to stderr."""
        stop_process_group(self.proc)
        if self._output is None:
            self._output = self.log()
            if not self.keep_log:
                self.log_path.unlink(missing_ok=True)
        return self._output
