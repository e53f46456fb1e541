"""Helpers for outbox tests: a Redis that is down, a Redis the test can freeze, the outbox rows."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.embedded import free_port
from services.core.jobs import Queue, deserialize, queue_key, serialize


def unreachable_arq() -> ArqRedis:
    """An ARQ client of a Redis that is down: a free local port nothing listens on."""
    return ArqRedis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=1,
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=queue_key(Queue.DEFAULT),
    )


async def outbox_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            text("SELECT function, queue, job_id, kwargs, attempts, last_error FROM outbox")
        )
        return [dict(r) for r in rows.mappings()]


class HoldableProxy:
    """A TCP proxy to Redis that the test can *hold*: from then on no byte goes either way while
    every connection stays open, so a process behind it hangs on its next Redis command."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    def hold(self) -> None:
        self.flowing.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await src.read(65536):
                await self.flowing.wait()  # held: the bytes wait here and are never delivered
                dst.write(data)
                await dst.drain()
        dst.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()
