"""Each peer in bench/run.py runs as its own documentation says to run it for speed, and the bare hop is
configured like gw's own hop: a ratio against a peer measured below its best would flatter gw.
(No java, npm or wrk: the commands, the warm-up plan and the hop's client and server settings.)"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bench import bare_hop, peers
from bench.load import Wrk
from bench.routes import EXAMPLE, LIVE, STUB_ROUTES
from bench.run import warm_up


def test_wiremock_runs_without_journal_or_request_logging_as_its_load_test_docs_say(tmp_path: Path) -> None:
    server = peers.wiremock(tmp_path / "wiremock-standalone-3.13.2.jar", tmp_path)
    assert server.cmd[:3] == ["java", "-jar", str(tmp_path / "wiremock-standalone-3.13.2.jar")]
    assert {"--no-request-journal", "--disable-request-logging", "--disable-banner"} <= set(server.cmd)
    assert "--max-request-journal-entries" not in server.cmd  # the journal is off, not a ring
    assert server.warmup == peers.WIREMOCK_WARMUP >= 45
    mappings = json.loads((tmp_path / "wiremock" / "mappings" / "users.json").read_text(encoding="utf-8"))
    assert mappings["mappings"] == peers.wiremock_mappings()  # the same routes gw serves, the POST body still checked


def test_prism_runs_static_forked_and_quiet(tmp_path: Path) -> None:
    server = peers.prism(tmp_path / "prism", tmp_path)
    assert server.cmd[1:3] == ["mock", "specs/users.yaml"]
    assert "--multiprocess" in server.cmd
    assert server.cmd[server.cmd.index("--verboseLevel") + 1] == "warn"
    assert not {"--dynamic", "-d", "--errors"} & set(server.cmd)
    assert server.warmup == peers.PRISM_WARMUP >= 30  # V8's JIT settles under load too


def test_bare_hop_names_uvloop_and_httptools_and_keeps_no_access_log() -> None:
    assert bare_hop.UVICORN["loop"] == "uvloop" and bare_hop.UVICORN["http"] == "httptools"
    assert bare_hop.UVICORN["access_log"] is False and bare_hop.UVICORN["workers"] == 1
    assert bare_hop.missing_speedups() == []  # the venv has both (uvicorn[standard])


def test_bare_hop_client_is_built_like_gws_forwarder() -> None:
    async def settings() -> tuple[object, ...]:
        session = bare_hop.new_session()
        try:
            connector = session.connector
            assert connector is not None
            return (type(session.cookie_jar), session.auto_decompress, connector.limit, connector.limit_per_host)
        finally:
            await session.close()

    assert asyncio.run(settings()) == (aiohttp.DummyCookieJar, False, 0, 256)


@dataclass(frozen=True)
class RecordingWrk(Wrk):
    """wrk that records the warm-up it was asked for instead of running it."""

    calls: list[tuple[str, int, bool]] = field(default_factory=list)

    def warm(self, url: str, seconds: int, script: Path | None = None) -> None:
        self.calls.append((url.rsplit("/", 1)[-1], seconds, script is not None))


@pytest.fixture
def wrk() -> RecordingWrk:
    return RecordingWrk("wrk", duration=5, warmup=1, server_warmup=3, connections=32)


def test_a_jit_peer_is_warmed_on_every_route_for_its_own_warm_up(wrk: RecordingWrk, tmp_path: Path) -> None:
    server = peers.Server("wiremock", [], 1, "/", tmp_path / "log", warmup=60)
    warm_up(wrk, server, list(STUB_ROUTES), tmp_path / "post.lua")
    assert wrk.calls == [("1", 15, False), ("42", 15, False), ("users?limit=5", 15, False), ("register", 15, True)]


def test_other_servers_get_the_runs_server_warmup_on_their_first_route(wrk: RecordingWrk, tmp_path: Path) -> None:
    server = peers.Server("gw 2w", [], 1, "/", tmp_path / "log")
    warm_up(wrk, server, [EXAMPLE, *STUB_ROUTES[1:]], tmp_path / "post.lua")
    assert wrk.calls == [("1", 3, False)]
    wrk.calls.clear()
    warm_up(wrk, peers.Server("hop", [], 1, "/", tmp_path / "log", warmup=30), [LIVE, LIVE], tmp_path / "post.lua")
    assert wrk.calls == [("1", 30, False)]  # one distinct route: all of it there
