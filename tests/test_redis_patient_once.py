"""The patient Redis store (runtime/shared_state.py, an operator's changes) sends a call that must not be repeated
once: when its answer is lost with the connection, the change is refused (StateUnavailable), never sent again and
judged by its own echo. A call that may be repeated is sent once more on a fresh connection. A real redis-server
behind a loopback proxy that drops the answer to one marked command and cuts the client's connection."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis

from gw.runtime.shared_state import RedisState, StateUnavailable
from tests.conftest import RedisServer


class DroppingProxy:
    """Passes bytes both ways, except: the first command containing `marker` reaches Redis, its answer does not,
    and the client's connection is cut (a reply lost on the way back)."""

    def __init__(self, port: int, marker: bytes) -> None:
        self.port, self.marker, self.dropped = port, marker, False
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/0"

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        redis_reader, redis_writer = await asyncio.open_connection("127.0.0.1", self.port)
        cut = asyncio.Event()

        async def up() -> None:
            while data := await client_reader.read(65536):
                redis_writer.write(data)
                if self.marker in data and not self.dropped:
                    self.dropped = True
                    cut.set()
                    await asyncio.sleep(0.1)  # Redis has it and answers; the answer goes nowhere
                    client_writer.transport.abort()
                    return

        async def down() -> None:
            while (data := await redis_reader.read(65536)) and not cut.is_set():
                client_writer.write(data)

        try:
            await asyncio.gather(up(), down(), return_exceptions=True)
        finally:
            redis_writer.close()
            client_writer.close()

    def close(self) -> None:
        assert self.server is not None
        self.server.close()


async def set_calls(url: str) -> int:
    """How many SET commands Redis has run (its own count)."""
    client = redis.Redis.from_url(url)
    try:
        return int((await client.info("commandstats")).get("cmdstat_set", {}).get("calls", 0))
    finally:
        await client.aclose()


def test_a_set_if_absent_whose_answer_is_lost_is_refused_and_sent_once(redis_server: RedisServer) -> None:
    async def run() -> tuple[int, str | None]:
        proxy = DroppingProxy(redis_server.port, b"NX")
        direct = RedisState(redis_server.url)
        state = RedisState(await proxy.start())
        try:
            before = await set_calls(redis_server.url)
            with pytest.raises(StateUnavailable):
                await state.patient().set_if_absent("lock", "mine", 30)
            return await set_calls(redis_server.url) - before, await direct.get("lock")
        finally:
            await state.close()
            await direct.close()
            proxy.close()

    assert asyncio.run(run()) == (1, "mine")  # it did land, once; the operator is told it is not known to have


def test_a_read_whose_answer_is_lost_is_sent_once_more_and_answered(redis_server: RedisServer) -> None:
    async def run() -> str | None:
        proxy = DroppingProxy(redis_server.port, b"gw:wanted")
        direct = RedisState(redis_server.url)
        state = RedisState(await proxy.start())
        try:
            await direct.set("wanted", "here")
            return await state.patient().get("wanted")
        finally:
            await state.close()
            await direct.close()
            proxy.close()

    assert asyncio.run(run()) == "here"
