"""Hostile connections against `gw serve` with its default limits: the figures of issue 13 items 3 and 4.

    python bench/hostile_connections.py bomb [SRC]   # a 64 MiB header (BOMBS=2: two at once): CPU, memory, others' latency
    python bench/hostile_connections.py held [SRC]   # 500 sockets: 200 silent, 150 half-sent heads, 150 dribbled bodies
    python bench/hostile_connections.py flood [SRC]  # 1,100 silent sockets, then a normal request every second for 20 s

SRC is a source tree to run (default: this one; give a scratch checkout of an older commit to compare).
The gateway starts with the open-file soft limit at 1,024, a common default. Prints one JSON line.
Run by hand on loopback, never in CI: it takes up to a minute.
"""

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from gw.core.port_check import free_port

WHAT = sys.argv[1]
SRC = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), ".."))
PY = sys.executable
_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, _hard) if _hard > 0 else 4096, _hard))  # this client's 1,100 sockets


PORT = free_port()


def limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, _hard))


proc = subprocess.Popen([PY, f"{SRC}/cli.py", "serve", f"{SRC}/tests/specs/echo.yaml", "--port", str(PORT)], cwd=SRC,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        preexec_fn=limit, env={**os.environ, "GW_LOG_LEVEL": "warning"})


def normal(timeout=3):
    t = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/_gw/health", timeout=timeout) as r:
            return r.status, time.monotonic() - t
    except urllib.error.HTTPError as e:
        return e.code, time.monotonic() - t
    except Exception as e:
        return type(e).__name__, time.monotonic() - t


for _ in range(300):
    if normal(1)[0] == 200:
        break
    time.sleep(0.2)
PID = proc.pid


def cpu():
    f = Path(f"/proc/{PID}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def rss():
    for line in Path(f"/proc/{PID}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024


def open_fds():
    return len(os.listdir(f"/proc/{PID}/fd"))


def sock():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=60)
    return s


limits = Path(f"/proc/{PID}/limits").read_text()
result = {"src": SRC, "what": WHAT, "fd_soft_limit": int(limits.split("Max open files")[1].split()[0])}
try:
    if WHAT == "bomb":
        size = 64 * 1024 * 1024
        c0, r0 = cpu(), rss()
        peak = [r0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss())
                time.sleep(0.05)

        lat = []

        def probe():
            while not stop.is_set():
                lat.append(normal(20))
                time.sleep(0.2)

        threads = [threading.Thread(target=sample), threading.Thread(target=probe)]
        for t in threads:
            t.start()
        t0 = time.monotonic()

        def bomb(out):
            s = sock()
            try:
                s.sendall(b"GET /_gw/health HTTP/1.1\r\nHost: x\r\nX-Bomb: ")
                chunk = b"a" * (1 << 20)
                for _ in range(size >> 20):
                    s.sendall(chunk)
                s.sendall(b"\r\n\r\n")
                s.settimeout(120)
                out.append(s.recv(200)[:60])
            except OSError as e:
                out.append(type(e).__name__)
            finally:
                s.close()

        outs = []
        bombs = [threading.Thread(target=bomb, args=(outs,)) for _ in range(int(os.environ.get("BOMBS", "1")))]
        for b in bombs:
            b.start()
        for b in bombs:
            b.join()
        took = time.monotonic() - t0
        time.sleep(2)
        stop.set()
        for t in threads:
            t.join()
        time.sleep(3)
        result.update(answers=[str(o) for o in outs], wall_s=round(took, 2), server_cpu_s=round(cpu() - c0, 2),
                      rss_before_mib=round(r0), rss_peak_mib=round(peak[0]), rss_after_5s_mib=round(rss()),
                      normal_max_latency_s=round(max(x[1] for x in lat), 2) if lat else None,
                      normal_failures=sum(1 for x in lat if x[0] != 200), normal_count=len(lat))
    elif WHAT == "held":
        socks = []
        for _ in range(200):
            socks.append(sock())  # idle: nothing sent
        for _ in range(150):
            s = sock()
            s.sendall(b"GET /_gw/health HTTP/1.1\r\nHost: x\r\nX-Half: ")
            socks.append(s)
        drib = []
        for _ in range(150):
            s = sock()
            s.sendall(b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            drib.append(s)
        socks += drib
        time.sleep(0.5)
        fds0 = open_fds()
        series = {}
        for second in range(1, 46):
            for s in drib:
                try:
                    s.send(b" ")
                except OSError:
                    pass
            time.sleep(1)
            if second in (5, 11, 20, 32, 45):
                series[second] = open_fds()
        result.update(open_fds_after_500=fds0, open_fds_by_second=series)
        for s in socks:
            s.close()
    elif WHAT == "flood":
        socks = []
        errors = 0
        for _ in range(1100):
            try:
                socks.append(sock())
            except OSError:
                errors += 1
        time.sleep(0.5)
        probes = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            status, took = normal(2)
            probes.append((round(time.monotonic() - t0, 1), status))
            time.sleep(1)
        result.update(connect_errors=errors, probes=probes)
        for s in socks:
            s.close()
finally:
    proc.terminate()
    proc.wait(10)
print(json.dumps(result))
