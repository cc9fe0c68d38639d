"""wrk, the one load tool every server in bench/run.py is measured with, how its report is read, and what
the load cost in CPU.

A measurement whose report cannot be read, or that saw non-2xx answers or socket errors, is a
broken measurement, never a figure: `Measurement.problem` says why and the run fails on it.

req/s moves with the neighbours' load on a shared box; CPU seconds per request hardly does. So each
sample also reads the CPU time the server's processes (its whole process group) and wrk spent on it.
A measurement is several short samples taken in interleaved rounds (bench/run.py): its figures are
the median of its rounds, `rounds` keeps each one, so ratios can be taken round by round.
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
# wrk's own default (2 s) drops slower answers from the latency figures and calls them socket errors;
# with 10 s a slow server shows in its p99 and only a stalled one breaks the measurement.
TIMEOUT_S = 10


@dataclass(kw_only=True)
class Figures:
    """What one wrk load gave: its figures, the CPU it cost per request, or why it is not a figure."""

    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    requests: int | None = None
    non_2xx: int = 0
    socket_errors: int = 0
    server_cpu_us: float | None = None  # CPU per request, every process of the server's group
    wrk_cpu_us: float | None = None  # CPU per request of the load generator
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem and self.rps is not None


@dataclass
class Sample(Figures):
    """One round's wrk run on a cell."""

    round: int


def median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None


@dataclass
class Measurement(Figures):
    """One server and route at one concurrency: one wrk run, or the median of its rounds (or why it was not run)."""

    section: str  # "stub" or "live"
    scenario: str
    server: str
    connections: int
    url: str = ""
    checked: str = ""  # what the route check saw before the load
    validates: bool | None = None
    rounds: list[Sample] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        """Keep one round; the figures become the median of the good rounds, the counts their sums."""
        self.rounds.append(sample)
        good = [s for s in self.rounds if s.ok]
        for name in ("rps", "p50_ms", "p99_ms", "server_cpu_us", "wrk_cpu_us"):
            setattr(self, name, median([getattr(s, name) for s in good]))
        self.requests = sum(s.requests or 0 for s in self.rounds) or None
        self.non_2xx = sum(s.non_2xx for s in self.rounds)
        self.socket_errors = sum(s.socket_errors for s in self.rounds)
        if sample.problem and not self.problem:
            self.problem = f"round {sample.round}: {sample.problem}"

    def spread(self, name: str = "rps") -> tuple[float, float] | None:
        """(min, max) of a figure over the good rounds; None with fewer than two."""
        values = [v for s in self.rounds if s.ok and (v := getattr(s, name)) is not None]
        return (min(values), max(values)) if len(values) > 1 else None


def group_cpu(group: int) -> float:
    """CPU seconds spent so far by the live processes of a process group (a server and its workers)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()  # after `(comm)`: state, ppid, pgrp, ...
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """CPU seconds of this process's finished children (wrk runs are waited for, servers are not until stopped)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse_wrk(text: str) -> dict[str, float | int | None]:
    """req/s, request count, p50/p99 in ms, non-2xx and socket error counts from `wrk --latency` output."""

    def number(pattern: str) -> str | None:
        match = re.search(pattern, text, re.MULTILINE)
        return match.group(1) if match else None

    def percentile(pct: str) -> float | None:
        match = re.search(rf"^\s*{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.MULTILINE)
        return round(float(match.group(1)) * UNITS_MS[match.group(2)], 3) if match else None

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    rps = number(r"^Requests/sec:\s+([\d.]+)")
    requests = number(r"^\s*(\d+) requests in")
    non_2xx = number(r"Non-2xx or 3xx responses:\s+(\d+)")
    return {
        "rps": float(rps) if rps else None,
        "requests": int(requests) if requests else None,
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
        "non_2xx": int(non_2xx or 0),
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def load_problem(returncode: int, parsed: dict[str, float | int | None], output: str) -> str:
    """Why a wrk run is not a figure ('' when it is): wrk failed, or the server answered errors or dropped sockets."""
    if returncode != 0 or parsed["rps"] is None:
        return f"wrk exit {returncode}: {output.strip()[-300:] or 'no report'}"
    if parsed["non_2xx"]:
        return f"{parsed['non_2xx']} of {parsed['requests']} answers were not 2xx/3xx (a benchmark of errors)"
    if parsed["socket_errors"]:
        line = re.search(r"Socket errors: [^\n]*", output)
        return f"{parsed['socket_errors']} socket errors under load ({line.group(0) if line else 'wrk said so'})"
    return ""


@dataclass(frozen=True)
class Wrk:
    """How hard to push: wrk's path, seconds of load, of warm-up per measurement and per server, connections."""

    path: str
    duration: int
    warmup: int
    server_warmup: int
    connections: int

    def command(self, url: str, connections: int, seconds: int, script: Path | None = None) -> list[str]:
        threads = min(2, connections)
        cmd = [self.path, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={TIMEOUT_S}s", "--latency"]
        return [*cmd, "-s", str(script), url] if script else [*cmd, url]

    def warm(self, url: str, seconds: int, script: Path | None = None) -> None:
        """Unrecorded load (JITs, caches and pools settle before anything is measured)."""
        if seconds > 0:
            subprocess.run(self.command(url, self.connections, seconds, script), capture_output=True)

    def run(self, measurement: Measurement, script: Path | None = None) -> None:
        """Load `measurement.url`; fills in the figures, or `problem` when they are not figures.

        At one connection only p50 is read, and the server was just warmed at full concurrency:
        half the duration and no warm-up are enough (it keeps a default run under 8 minutes).
        """
        url, connections = measurement.url, measurement.connections
        single = connections == 1
        if not single:
            self.warm(url, self.warmup, script)
        seconds = max(2, self.duration // 2) if single else self.duration
        done = subprocess.run(self.command(url, connections, seconds, script), capture_output=True, text=True)
        parsed = parse_wrk(done.stdout)
        for key, value in parsed.items():
            setattr(measurement, key, value)
        measurement.problem = load_problem(done.returncode, parsed, done.stderr or done.stdout)

    def sample(self, url: str, connections: int, seconds: int, group: int, round_no: int,
               script: Path | None = None) -> Sample:
        """One round on a warm server: `seconds` of load, no warm-up, and the CPU the server's group and wrk spent."""
        server_before, wrk_before = group_cpu(group), children_cpu()
        done = subprocess.run(self.command(url, connections, seconds, script), capture_output=True, text=True)
        server_cpu, wrk_cpu = group_cpu(group) - server_before, children_cpu() - wrk_before
        parsed = parse_wrk(done.stdout)
        sample = Sample(round_no, **parsed)  # type: ignore[arg-type]
        sample.problem = load_problem(done.returncode, parsed, done.stderr or done.stdout)
        if sample.requests:
            sample.server_cpu_us = round(server_cpu / sample.requests * 1e6, 1)
            sample.wrk_cpu_us = round(wrk_cpu / sample.requests * 1e6, 1)
        return sample
