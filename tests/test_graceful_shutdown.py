"""SIGTERM (docker stop, a Kubernetes rollout) drains: requests in flight finish, new connections are refused,
and the process ends within `server.drain_timeout`."""

from __future__ import annotations

import signal
import time

import httpx

from tests.conftest import TEST_SPECS, eventually, refuses_connections
from tests.upstream import SLOW_MS, UpstreamServer, slow_requests


def test_sigterm_lets_requests_in_flight_finish_and_refuses_new_ones(gw_process, upstream: UpstreamServer) -> None:
    gateway = gw_process(str(TEST_SPECS / "echo.yaml"), "--mode", "live", "--upstream", upstream.url).wait_ready()
    threads, answers = slow_requests(gateway.url, 3)
    eventually(lambda: upstream.stats()["in_flight"], lambda n: n == 3)  # all three are at the slow upstream

    signalled = time.monotonic()
    gateway.proc.send_signal(signal.SIGTERM)
    eventually(lambda: refuses_connections(gateway.port), timeout=5)  # the listener closes at once
    for thread in threads:
        thread.join(15)

    assert [a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers] == [200, 200, 200]
    assert all(a.json() == {"slow": True} for a in answers if isinstance(a, httpx.Response))
    assert gateway.proc.wait(10) in (0, -signal.SIGTERM)  # uvicorn ends by re-raising the signal it drained on
    assert time.monotonic() - signalled < SLOW_MS / 1000 + 5


def test_drain_is_bounded_by_the_drain_timeout(gw_process, upstream: UpstreamServer) -> None:
    gateway = gw_process(str(TEST_SPECS / "echo.yaml"), "--mode", "live", "--upstream", upstream.url,
                         env={"GW_SERVER__DRAIN_TIMEOUT": "500ms"}).wait_ready()
    threads, _answers = slow_requests(gateway.url, 1)
    eventually(lambda: upstream.stats()["in_flight"], lambda n: n == 1)
    signalled = time.monotonic()
    gateway.proc.send_signal(signal.SIGTERM)
    gateway.proc.wait(10)
    assert time.monotonic() - signalled < SLOW_MS / 1000  # did not wait for the 1.5 s request
    for thread in threads:
        thread.join(15)


