"""A worker's poll loop outlives its Redis: stopped and started again under it, the loop keeps
going, keeps all its job slots, and runs what is queued once Redis is back."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from arq.constants import job_key_prefix
from arq.worker import func

from services.core.embedded import EmbeddedRedis
from services.core.jobs import (
    JobRequest,
    Queue,
    create_arq_pool,
    deserialize,
    queue_key,
    send_job,
    serialize,
)
from services.core.settings import Settings
from services.core.worker_loop import ResilientWorker

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


async def test_the_poll_loop_survives_a_redis_restart(settings: Settings) -> None:
    root = Path(tempfile.mkdtemp(prefix="shelfwatch-redis-"))
    server = EmbeddedRedis(root, appendonly=True)
    server.start()
    own = settings.model_copy(deep=True)
    own.redis.url = server.url
    arq = await create_arq_pool(own)
    ran: list[str] = []
    seen = {"before": asyncio.Event(), "after": asyncio.Event()}

    async def remember(ctx: dict[str, Any], tag: str, **_: Any) -> None:
        ran.append(tag)
        seen[tag].set()

    async def finished(job_id: str | None) -> None:
        """Until ARQ has stored the job's outcome and the worker let go of it."""
        while await arq.exists(job_key_prefix + str(job_id)) or worker.job_counter:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    worker = ResilientWorker(
        functions=[func(remember, name="test.remember")],  # type: ignore[arg-type]
        queue_name=queue_key(Queue.DEFAULT),
        redis_pool=arq,
        max_jobs=3,
        handle_signals=False,
        poll_delay=0.05,
        job_serializer=serialize,
        job_deserializer=deserialize,
    )
    slots = worker.sem._value  # ARQ's semaphore starts at max_jobs + 1
    loop = asyncio.create_task(worker.main())
    try:
        first = await send_job(arq, JobRequest("test.remember", Queue.DEFAULT, {"tag": "before"}))
        await asyncio.wait_for(seen["before"].wait(), 10)
        await finished(first)

        server.stop()
        await asyncio.sleep(2.0)  # many polls meet a refused connection
        assert not loop.done(), loop.exception() if loop.done() else None

        server.start()
        second = await send_job(arq, JobRequest("test.remember", Queue.DEFAULT, {"tag": "after"}))
        await asyncio.wait_for(seen["after"].wait(), 15)
        await finished(second)
        assert ran == ["before", "after"]
        assert not loop.done()
        # Every slot is free again: none was lost to a claim that Redis cut short.
        assert worker.job_counter == 0
        assert worker.sem._value == slots
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await arq.aclose()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
