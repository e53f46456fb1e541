"""One Lua script's calls, automatically pipelined: every call made in one turn of the event
loop goes to Redis in one pipeline (one connection taken from the pool, one write, one read).

redis-py sends each command on its own: under load a gateway spends most of a cached read's
CPU on taking a connection, the socket write and the wake-up for the answer, once per request.
Calls still run one by one in Redis, each atomic as before; only the trip is shared. A call's
error (a script error, or the connection failing) reaches that call's caller only, or every
caller of the batch when the trip itself failed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

import hiredis
from prometheus_client import Histogram
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

PIPELINE_CALLS = Histogram(
    "shelfwatch_redis_pipeline_calls",
    "Script calls sent to Redis together in one automatic pipeline",
    ["script"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)

_Call = tuple[Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class PipelinedScript:
    """``await script(keys, args)``, as redis-py's registered script, batched per loop turn."""

    def __init__(self, redis: Redis, source: str, name: str) -> None:
        self.redis = redis
        self.source = source
        # Redis names a script by its SHA-1 (EVALSHA): an identifier, not a security measure.
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        self._calls_observed = PIPELINE_CALLS.labels(name)
        self._waiting: list[_Call] = []
        # The sending tasks, held until done: the loop keeps only weak references to tasks.
        self._sending: set[asyncio.Task[None]] = set()

    def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((keys, args, answer))
        if len(self._waiting) == 1:
            # Sent on the next turn, after every request already running in this one has
            # made its call.
            loop.call_soon(self._send_waiting)
        return answer

    def _send_waiting(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.ensure_future(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Call]) -> None:
        self._calls_observed.observe(len(batch))
        try:
            answers = await self._run(batch)
            missing = [i for i, a in enumerate(answers) if isinstance(a, NoScriptError)]
            if missing:
                # Redis restarted or its scripts were flushed: load it once, send those again.
                await self.redis.script_load(self.source)
                again = await self._run([batch[i] for i in missing])
                for i, answer in zip(missing, again, strict=True):
                    answers[i] = answer
        except BaseException as exc:  # the trip failed: every caller of it hears why
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), answer in zip(batch, answers, strict=True):
            if future.done():  # its request was cancelled (the client went away)
                continue
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    async def _run(self, batch: Sequence[_Call]) -> list[Any]:
        """The batch's calls in one write on one pooled connection, their replies in order.
        Packed by hiredis (C) rather than redis-py's pipeline, whose Python packing and
        bookkeeping per command were most of the trip's cost. Not retried: a count sent
        twice would count twice; the callers hear the failure instead."""
        packed = b"".join(
            hiredis.pack_command(("EVALSHA", self.sha, len(keys), *keys, *args))
            for keys, args, _ in batch
        )
        pool = self.redis.connection_pool
        connection = await pool.get_connection()
        try:
            await connection.send_packed_command(packed, check_health=False)
            answers: list[Any] = []
            for _ in batch:
                try:
                    answers.append(await connection.read_response())
                except ResponseError as error:  # that call's own error; the stream goes on
                    answers.append(error)
        except BaseException:
            await connection.disconnect()  # replies may be left unread on it
            raise
        finally:
            await pool.release(connection)
        return answers
