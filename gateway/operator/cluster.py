"""Ask every process of the gateway a question and hear each one's answer.

Some admin calls are about the whole gateway, not the process that happens to take them: how many
requests matched (each process keeps its own journal), or "apply the stubs just created" (each
process keeps its own stub store). With `redis_url` the processes (`--workers N`, or several
`gw serve` behind a balancer) share one Redis: a question goes out on one pub/sub channel that every
process listens to, each answers on the asker's own channel, and PUBLISH says how many processes
heard the question, so the asker knows how many answers make the whole. Nothing is added to a
request's path: the journal stays in each process's memory, and only a question costs Redis calls.

Without Redis one process answers for itself; `--workers N` without Redis has no shared channel, so a
question is refused (503) rather than answered for one worker out of N.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ..runtime.background import Loop
from ..runtime.shared_state import OPERATOR, PREFIX, SharedState, display_url

log = logging.getLogger("gw.cluster")

CHANNEL = PREFIX + "cluster"
ASK_TIMEOUT = 3.0  # seconds every process gets to answer one question
FIRST_RETRY = 0.05  # seconds before listening again after a dropped subscription: deaf meanwhile, so soon
RETRY_AFTER_FAILURE = 1.0  # ... doubling up to this while Redis stays away
Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class ClusterUnavailable(Exception):
    """Not every process of the gateway can be asked now: the answer would be one process's only."""


class Cluster:
    """The gateway's processes as one: `ask(topic, payload)` returns each process's answer (this one's included)."""

    def __init__(self, state: SharedState, workers: int = 1) -> None:
        self.state = state
        self.workers = workers
        self.handlers: dict[str, Handler] = {}
        self._name_this_process()
        self._channel = CHANNEL  # + the database number, once connected: pub/sub channels span a server's databases
        self._waiting: dict[str, _Answers] = {}
        self._client: Any = None
        self._ready = asyncio.Event()
        self._loop = Loop("gw-cluster")
        self._running: set[asyncio.Task[None]] = set()

    @property
    def shared(self) -> bool:
        return self.state.kind == "redis"

    def on(self, topic: str, handler: Handler) -> None:
        self.handlers[topic] = handler

    def check(self) -> None:
        """Refuse at once what could only reach this process of several."""
        if not self.shared and self.workers > 1:
            raise ClusterUnavailable(f"the gateway runs {self.workers} worker processes and each keeps its own "
                                     "journal and stubs: set redis_url so that they share them")

    async def ask(self, topic: str, payload: dict[str, Any], timeout: float = ASK_TIMEOUT) -> list[Any]:
        """Every process's answer; ClusterUnavailable when not all of them can be heard."""
        self.check()
        if not self.shared:
            return [await self.handlers[topic](payload)]
        if not await self.ready(timeout):
            raise ClusterUnavailable(f"not listening on redis at {display_url(self._url)} (yet): try again")
        question = uuid.uuid4().hex
        answers = self._waiting[question] = _Answers()
        try:
            message = json.dumps({"id": question, "topic": topic, "payload": payload, "reply_to": self._replies})
            try:
                heard = int(await asyncio.wait_for(self._client.publish(self._channel, message), OPERATOR.bound))
            except Exception as exc:
                raise ClusterUnavailable(f"redis at {display_url(self._url)}: {exc or type(exc).__name__}") from None
            answers.expect(heard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(answers.complete.wait(), timeout)
            if len(answers.values) < heard:
                raise ClusterUnavailable(f"{len(answers.values)} of {heard} gateway processes answered within "
                                         f"{timeout:g}s")
        finally:
            del self._waiting[question]
        errors = [a["error"] for a in answers.values if "error" in a]
        if errors:
            raise RuntimeError(errors[0])
        return [a["answer"] for a in answers.values]

    # -- listening -------------------------------------------------------------------------------

    @property
    def _url(self) -> str:
        return str(getattr(self.state, "url", ""))

    def _name_this_process(self) -> None:
        self.member = uuid.uuid4().hex  # this process, as the others address it
        self._replies = f"{CHANNEL}:reply:{self.member}"

    def start(self) -> None:
        self._name_this_process()  # again: a worker forked from the process that built the app is another process
        if self.shared:
            self._loop.start(self._listen)

    async def stop(self) -> None:
        await self._loop.stop()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None

    async def ready(self, timeout: float = 5.0) -> bool:
        """Whether this process listens (at once without Redis); waits up to `timeout` for the subscription."""
        if not self.shared:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self._ready.is_set()

    async def _listen(self) -> None:
        import redis.asyncio as redis

        # Its own connection, without the shared state's short read timeout: a subscription waits for messages, and
        # questions and answers are an operator's (they wait out a slow moment, as SharedState.patient does).
        self._client = redis.Redis.from_url(self._url, socket_connect_timeout=OPERATOR.socket, decode_responses=True)
        # Gateways on other databases of the same Redis server are other gateways: they must not hear these questions.
        self._channel = f"{CHANNEL}:{self._client.connection_pool.connection_kwargs.get('db', 0)}"
        warned, pause = False, FIRST_RETRY
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel, self._replies)
                self._ready.set()
                warned, pause = False, FIRST_RETRY
                async for message in pubsub.listen():
                    self._received(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # redis' own errors, refused connections
                self._ready.clear()
                if not warned:
                    log.warning("not hearing the other gateway processes (redis at %s: %s): retrying",
                                display_url(self._url), exc or type(exc).__name__)
                    warned = True
            finally:
                self._ready.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_AFTER_FAILURE)

    def _received(self, message: dict[str, Any]) -> None:
        try:
            data = json.loads(message["data"])
        except (TypeError, ValueError):
            return
        if message.get("channel") == self._replies:
            answers = self._waiting.get(data.get("id"))
            if answers is not None:
                answers.add(data)
            return
        task = asyncio.get_running_loop().create_task(self._answer(data))
        self._running.add(task)  # held until done: the loop keeps weak references only
        task.add_done_callback(self._running.discard)

    async def _answer(self, data: dict[str, Any]) -> None:
        handler = self.handlers.get(str(data.get("topic")))
        reply: dict[str, Any] = {"id": data.get("id"), "member": self.member}
        try:
            if handler is None:
                raise LookupError(f"this process does not know {data.get('topic')!r} (an older version?)")
            reply["answer"] = await handler(data.get("payload") or {})
        except Exception as exc:
            log.exception("answering %s for another gateway process failed", data.get("topic"))
            reply["error"] = f"{type(exc).__name__}: {exc}"
        try:
            text = json.dumps(reply, default=str)
            await asyncio.wait_for(self._client.publish(str(data.get("reply_to")), text), OPERATOR.bound)
        except Exception as exc:
            log.warning("could not answer another gateway process: %s", exc or type(exc).__name__)


class _Answers:
    """The answers to one question, until as many as heard it have answered."""

    def __init__(self) -> None:
        self.values: list[dict[str, Any]] = []
        self.members: set[str] = set()
        self.expected: int | None = None
        self.complete = asyncio.Event()

    def add(self, reply: dict[str, Any]) -> None:
        if reply.get("member") in self.members:
            return
        self.members.add(str(reply.get("member")))
        self.values.append(reply)
        self._check()

    def expect(self, count: int) -> None:
        self.expected = count
        self._check()  # answers may arrive before PUBLISH's own reply does

    def _check(self) -> None:
        if self.expected is not None and len(self.values) >= self.expected:
            self.complete.set()
