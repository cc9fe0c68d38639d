"""`gw serve --workers N`: load once, then fork N workers that serve the loaded gateway on one shared socket.

uvicorn's own multi-worker mode spawns fresh interpreters that each import gw and load every spec again:
N times the CPU and memory of one, started all at once on the same cores (GitHub's spec: 12-25 s for two
workers where one took a few). Here the parent loads and builds the app once, binds the socket, freezes
what it loaded out of the garbage collector's sight (so the children's collections do not write to, and
so copy, the pages they share), and forks. Each child runs a `uvicorn.Server` on the inherited socket;
everything bound to a process (event loop, aiohttp sessions, Redis connections, background tasks, the hot
reloader) is created by the app's lifespan, which runs in the child after the fork.

The parent supervises, as uvicorn's supervisor did: a worker that dies is replaced (its live gauges leave the
metrics sums), SIGTERM / SIGINT / SIGQUIT drain every worker within `server.drain_timeout` and end the
parent, SIGHUP restarts the workers, SIGTTIN / SIGTTOU add or remove one. A worker that fails its own
start (lifespan, exit code 3) would fail again: the parent stops and exits with that code.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Callable

import uvicorn
from prometheus_client.multiprocess import mark_process_dead

from ..core.logs import flush_access_log
from ..operator.metrics import MULTIPROC_DIR

log = logging.getLogger("gw")

STARTUP_FAILURE = 3  # uvicorn's exit code for a lifespan that failed to start
KILL_GRACE = 5.0  # seconds beyond the drain timeout before a worker that has not ended is killed
_STOP = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT}
_WATCHED = {*_STOP, signal.SIGCHLD, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU}

ForkHook = Callable[[int], None]  # run in each new worker (its index: 0 is the first) before it serves


class Supervisor:
    """The parent of the forked workers: keeps `workers` of them serving until told to stop."""

    def __init__(self, config: uvicorn.Config, workers: int, drain_timeout: float, on_fork: ForkHook | None = None) -> None:
        self.config = config
        self.wanted = workers
        self.drain_timeout = drain_timeout
        self.on_fork = on_fork
        self.children: dict[int, int] = {}  # pid -> worker index
        self.stopping_since: float | None = None
        self.exit_code = 0
        self._sock: socket.socket | None = None
        self._mask: set[signal.Signals] = set()

    def run(self) -> int:
        """Serve until a stop signal; the exit code for the process."""
        self.config.load()  # the protocol classes and the wrapped app, once, before the fork
        self._sock = self.config.bind_socket()
        gc.freeze()  # (server.py froze the load already) in the workers, collections skip it: shared pages stay shared
        self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)  # taken with sigtimedwait below, race free
        try:
            for index in range(self.wanted):
                self._fork(index)
            while self.children:
                self._step(signal.sigtimedwait(_WATCHED, 0.5))
        finally:
            self._close_socket()
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
        return self.exit_code

    # --- the parent ------------------------------------------------------------------------

    def _step(self, info: signal.struct_siginfo | None) -> None:
        number = info.si_signo if info is not None else None
        if number in _STOP:
            self._stop(number)
        elif number == signal.SIGHUP and self.stopping_since is None:
            self._signal_all(signal.SIGTERM)  # each is replaced as it ends (`_reap`)
        elif number == signal.SIGTTIN and self.stopping_since is None:
            self.wanted += 1
            self._fork(self._free_index())
        elif number == signal.SIGTTOU and self.stopping_since is None and self.wanted > 1:
            self.wanted -= 1
            self._signal(max(self.children, key=self.children.__getitem__), signal.SIGTERM)
        self._reap()
        if self.stopping_since is not None and time.monotonic() - self.stopping_since > self.drain_timeout + KILL_GRACE:
            self._signal_all(signal.SIGKILL)

    def _stop(self, number: int) -> None:
        """Drain: the listener closes here (workers close theirs), every worker gets SIGTERM and finishes what it holds."""
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()
            self._close_socket()
            self._signal_all(signal.SIGTERM)
        elif number == signal.SIGINT:
            self._signal_all(signal.SIGINT)  # a second Ctrl-C: uvicorn stops waiting for connections

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            index = self.children.pop(pid, None)
            if index is None:
                continue
            _forget_live_gauges(pid)
            self._replace(pid, index, status)

    def _replace(self, pid: int, index: int, status: int) -> None:
        if self.stopping_since is not None or index >= self.wanted:
            return
        code = os.waitstatus_to_exitcode(status)
        if code == STARTUP_FAILURE:
            log.error("worker %s (pid %s) could not start; stopping", index, pid)
            self.exit_code = STARTUP_FAILURE
            self._stop(signal.SIGTERM)
            return
        if code not in (0, -signal.SIGTERM, -signal.SIGINT):  # not a restart we asked for (SIGHUP, SIGTTOU)
            log.warning("worker %s (pid %s) ended (%s); starting a new one", index, pid, _how(code))
        self._fork(index)

    def _free_index(self) -> int:
        used = set(self.children.values())
        return next(n for n in range(len(used) + 1) if n not in used)

    def _signal_all(self, number: int) -> None:
        for pid in list(self.children):
            self._signal(pid, number)

    @staticmethod
    def _signal(pid: int, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, number)

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # --- a worker --------------------------------------------------------------------------

    def _fork(self, index: int) -> None:
        if self._sock is None:
            return
        pid = os.fork()
        if pid:
            self.children[pid] = index
            return
        code = 1
        try:
            code = self._serve(index)
        except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it drained on
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("worker %s failed", index)
        finally:
            flush_access_log()  # os._exit runs no atexit hook: the last step's lines are written here
            os._exit(code)

    def _serve(self, index: int) -> int:
        for number in _WATCHED - {signal.SIGINT}:
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
        if self.on_fork is not None:
            self.on_fork(index)
        assert self._sock is not None
        uvicorn.Server(self.config).run(sockets=[self._sock])
        return 0


def _forget_live_gauges(pid: int) -> None:
    """A dead worker's live gauges (open circuits, WebSockets) leave the sums every scrape adds up."""
    if os.environ.get(MULTIPROC_DIR):
        with contextlib.suppress(OSError):
            mark_process_dead(pid)


def _how(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
