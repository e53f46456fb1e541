"""The transactional outbox: jobs are written with their transaction and relayed to Redis after
it commits; a rollback sends nothing, an outage loses nothing, a second send is harmless."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.jobs import Job
from arq.worker import Worker, func
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.errors import Conflict
from services.core.jobs import META_KWARG, Queue, deserialize, queue_key, serialize
from services.core.logging import request_id_var
from services.core.models import OutboxJob
from services.core.outbox import SendOutcome, relay_due, send
from services.core.uow import unit_of_work
from tests.outbox_support import outbox_rows, unreachable_arq

pytestmark = pytest.mark.asyncio
PURGE = "auth.purge_expired_tokens"


async def test_job_of_a_rolled_back_transaction_is_never_sent(
    sessionmaker: async_sessionmaker[AsyncSession], arq: ArqRedis, redis: Redis
) -> None:
    with pytest.raises(Conflict):
        async with unit_of_work(sessionmaker, arq) as uow:
            uow.jobs.enqueue(PURGE, queue=Queue.LOW, job_id="rolled-back")
            raise Conflict("something clashed")
    assert await outbox_rows(sessionmaker) == []
    # Nothing left behind for the relay loop either.
    assert (await relay_due(sessionmaker, arq, older_than_s=0, batch=10)).sent == 0
    assert await redis.zcard(queue_key(Queue.LOW)) == 0


async def test_committed_jobs_are_relayed_at_once_and_leave_the_outbox(
    sessionmaker: async_sessionmaker[AsyncSession], arq: ArqRedis, redis: Redis
) -> None:
    async with unit_of_work(sessionmaker, arq) as uow:
        uow.jobs.enqueue(PURGE, queue=Queue.LOW, job_id="at-once")
        # Inside the transaction nothing has been sent yet.
        assert await redis.zcard(queue_key(Queue.LOW)) == 0
    assert await redis.zscore(queue_key(Queue.LOW), "at-once") is not None
    assert await outbox_rows(sessionmaker) == []


async def test_a_double_ask_is_one_row(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    for _ in range(2):
        async with unit_of_work(sessionmaker, None) as uow:  # committed, not relayed
            uow.jobs.enqueue(PURGE, queue=Queue.LOW, job_id="asked-twice")
            uow.jobs.enqueue(PURGE, queue=Queue.LOW, job_id="asked-twice")
    assert [r["job_id"] for r in await outbox_rows(sessionmaker)] == ["asked-twice"]


async def test_a_committed_job_is_sent_once_even_when_relayed_twice(
    sessionmaker: async_sessionmaker[AsyncSession], arq: ArqRedis, redis: Redis
) -> None:
    async with unit_of_work(sessionmaker, None) as uow:
        uow.jobs.enqueue(PURGE, queue=Queue.LOW, job_id="twice")
        uow.jobs.enqueue(PURGE, queue=Queue.LOW)  # no job id: the row id stands in
    # Young rows belong to the process that committed them: the loop leaves them alone.
    assert (await relay_due(sessionmaker, arq, older_than_s=60, batch=10)).sent == 0
    # A relay that sent both rows and died before deleting them...
    async with sessionmaker() as session:
        rows = list((await session.execute(select(OutboxJob))).scalars())
    assert [await send(arq, row) for row in rows] == [SendOutcome.SENT, SendOutcome.SENT]
    # ...and the loop sending them again: ARQ already holds both, the rows go.
    tick = await relay_due(sessionmaker, arq, older_than_s=0, batch=10)
    assert (tick.sent, tick.backlog) == (2, 0)
    assert await redis.zcard(queue_key(Queue.LOW)) == 2
    assert REGISTRY.get_sample_value(
        "shelfwatch_outbox_relayed_total", {"path": "loop", "outcome": "already_queued"}
    )


async def test_concurrent_relays_never_send_one_row_twice(
    sessionmaker: async_sessionmaker[AsyncSession], arq: ArqRedis, redis: Redis
) -> None:
    async with unit_of_work(sessionmaker, None) as uow:
        for i in range(30):
            uow.jobs.enqueue(PURGE, queue=Queue.LOW, job_id=f"row-{i}")
    ticks = await asyncio.gather(
        *(relay_due(sessionmaker, arq, older_than_s=0, batch=100) for _ in range(3))
    )
    # Each row was claimed by exactly one relay (SKIP LOCKED): 30 sends, not 30 per relay.
    assert sum(t.sent for t in ticks) == 30
    assert await redis.zcard(queue_key(Queue.LOW)) == 30
    assert await outbox_rows(sessionmaker) == []


async def test_redis_down_at_commit_keeps_the_row_until_the_relay_loop_sends_it(
    sessionmaker: async_sessionmaker[AsyncSession], arq: ArqRedis, redis: Redis
) -> None:
    down = unreachable_arq()
    token = request_id_var.set("req-during-outage")
    try:
        # The commit stands although Redis is away: the request does not fail.
        async with unit_of_work(sessionmaker, down) as uow:
            uow.jobs.enqueue(PURGE, queue=Queue.LOW, job_id="owed", defer_by_s=None)
    finally:
        request_id_var.reset(token)
    (row,) = await outbox_rows(sessionmaker)
    assert row["job_id"] == "owed"
    assert row["attempts"] == 1
    assert "Error" in row["last_error"]
    assert row["kwargs"][META_KWARG] == {"request_id": "req-during-outage"}

    tick = await relay_due(sessionmaker, down, older_than_s=0, batch=10)  # still down
    assert (tick.sent, tick.backlog) == (0, 1)
    assert REGISTRY.get_sample_value("shelfwatch_outbox_backlog_jobs") == 1
    assert (await outbox_rows(sessionmaker))[0]["attempts"] == 2
    await down.aclose()

    tick = await relay_due(sessionmaker, arq, older_than_s=0, batch=10)  # Redis is back
    assert (tick.sent, tick.backlog) == (1, 0)
    assert REGISTRY.get_sample_value("shelfwatch_outbox_backlog_jobs") == 0
    assert await redis.zscore(queue_key(Queue.LOW), "owed") is not None
    info = await Job("owed", arq, _deserializer=deserialize).info()
    assert info is not None
    # The request id still rides along with the job, sent long after the request ended.
    assert info.kwargs[META_KWARG] == {"request_id": "req-during-outage"}


async def test_deferred_job_keeps_its_not_before(
    sessionmaker: async_sessionmaker[AsyncSession], arq: ArqRedis, redis: Redis
) -> None:
    async with unit_of_work(sessionmaker, arq) as uow:
        uow.jobs.enqueue(PURGE, queue=Queue.LOW, job_id="later", defer_by_s=3600)
    score = await redis.zscore(queue_key(Queue.LOW), "later")
    assert score is not None
    info = await Job("later", arq, _deserializer=deserialize).info()
    assert info is not None
    assert score - info.enqueue_time.timestamp() * 1000 > 3500 * 1000


FLAKY = "test.outbox_flaky"


async def _run_queue_once(arq: ArqRedis, outcomes: list[str]) -> None:
    """A real ARQ worker drains the low queue once: the job fails or succeeds as scripted."""

    async def flaky(ctx: dict[str, Any], **kwargs: Any) -> str:
        outcome = outcomes.pop(0)
        if outcome == "fail":
            raise ValueError("failed for good")
        return outcome

    worker = Worker(
        functions=[func(flaky, name=FLAKY)],
        queue_name=queue_key(Queue.LOW),
        redis_pool=arq,
        burst=True,
        max_tries=1,
        keep_result=3600,
        handle_signals=False,
        poll_delay=0.05,
        job_serializer=serialize,
        job_deserializer=deserialize,
    )
    # Not worker.close(): it would close the shared pool this test keeps using.
    await worker.main()


async def test_a_new_request_is_never_refused_because_of_an_earlier_failed_result(
    sessionmaker: async_sessionmaker[AsyncSession], arq: ArqRedis, redis: Redis
) -> None:
    job_id = f"{FLAKY}:run-1"

    async def ask() -> None:
        async with unit_of_work(sessionmaker, arq) as uow:
            uow.jobs.enqueue(FLAKY, queue=Queue.LOW, job_id=job_id)

    outcomes = ["fail", "ok"]
    await ask()
    await _run_queue_once(arq, outcomes)
    result = await Job(job_id, arq, _deserializer=deserialize).result_info()
    assert result is not None and not result.success  # its failed result is kept an hour

    # Asked for again: the failed attempt's result must not swallow the new request.
    await ask()
    assert await redis.zscore(queue_key(Queue.LOW), job_id) is not None
    await _run_queue_once(arq, outcomes)
    result = await Job(job_id, arq, _deserializer=deserialize).result_info()
    assert result is not None and result.success and result.result == "ok"

    # Asked for once more after it succeeded: done is done, nothing is queued.
    await ask()
    assert await redis.zcard(queue_key(Queue.LOW)) == 0
    assert await outbox_rows(sessionmaker) == []


async def test_a_deferred_job_left_behind_past_its_time_is_sent_to_run_now(
    sessionmaker: async_sessionmaker[AsyncSession], arq: ArqRedis, redis: Redis
) -> None:
    async with unit_of_work(sessionmaker, None) as uow:
        uow.jobs.enqueue(PURGE, queue=Queue.LOW, job_id="overdue", defer_by_s=60)
    async with sessionmaker() as session, session.begin():
        # Left behind by a Redis outage of two days: its time came long ago.
        await session.execute(
            update(OutboxJob).values(not_before=datetime.now(UTC) - timedelta(days=2))
        )
    tick = await relay_due(sessionmaker, arq, older_than_s=0, batch=10)
    assert (tick.sent, tick.backlog) == (1, 0)
    score = await redis.zscore(queue_key(Queue.LOW), "overdue")
    assert score is not None and abs(score / 1000 - datetime.now(UTC).timestamp()) < 60
    assert await redis.pttl("arq:job:overdue") > 0  # alive, not expired on arrival
