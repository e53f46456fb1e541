"""The transactional outbox: every job is written in the transaction that asks for it and relayed
to Redis after the commit.

- A rolled-back transaction drops its rows with everything else: no job points at unwritten data.
- The edge that committed relays its rows at once; rows left behind (Redis down, the process
  killed between commit and relay) are sent by the relay loop of the scheduler process.
- Each row is sent under a deterministic ARQ job id (the asked-for id, else the row id) and the
  rows being sent are locked (``FOR UPDATE SKIP LOCKED``), so concurrent relays never send one
  row twice and a repeated send (a crash between the send and the delete) is refused by ARQ.

ARQ refuses a job id while its job or its result exists. A queued (or running, or retrying) job
and a *successful* result both mean the job asked for is done or will be: the row counts as sent.
A *failed* result must not swallow a new request for the job (for example a crawl batch announced
again after an earlier detection attempt failed for good): that result key is deleted (the failure
stays in the dead-letter archive) and the job is enqueued again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import deserialize_result
from redis.exceptions import RedisError, WatchError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.jobs import META_KWARG, JobRequest, Queue, deserialize, queue_key, serialize
from services.core.logging import request_id_var
from services.core.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_RELAYED
from services.core.models import OutboxJob
from services.core.repository import OutboxRepository

logger = logging.getLogger(__name__)

# Attempts at one send when results appear and vanish under it (a job finishing meanwhile).
_SEND_ROUNDS = 3


class SendOutcome(StrEnum):
    SENT = "sent"
    ALREADY_QUEUED = "already_queued"
    ALREADY_DONE = "already_done"


class RelayPath(StrEnum):
    COMMIT = "commit"
    LOOP = "loop"


def outbox_rows(requests: Sequence[JobRequest], now: datetime) -> list[dict[str, Any]]:
    """The rows for these job requests: JSON-ready arguments carrying the current request id,
    an absolute not-before for deferred jobs, one row per job id."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    meta = {"request_id": request_id_var.get()}
    for request in requests:
        if request.job_id is not None:
            if request.job_id in seen:
                continue
            seen.add(request.job_id)
        kwargs: dict[str, Any] = deserialize(serialize({**request.kwargs, META_KWARG: meta}))
        rows.append(
            {
                "id": uuid.uuid4(),
                "function": request.function,
                "queue": request.queue.value,
                "job_id": request.job_id,
                "kwargs": kwargs,
                "not_before": now + timedelta(seconds=request.defer_by_s)
                if request.defer_by_s
                else None,
            }
        )
    return rows


async def write(session: AsyncSession, requests: Sequence[JobRequest]) -> list[uuid.UUID]:
    """Write the jobs into the outbox inside the caller's transaction; returns the row ids
    written (a job id already waiting is left to the row that holds it)."""
    rows = outbox_rows(requests, datetime.now(UTC))
    written = await OutboxRepository(session).add(rows)
    return [r["id"] for r in rows if r["id"] in written]


def arq_job_id(row: OutboxJob) -> str:
    return row.job_id or row.id.hex


async def _forget_failed_result(redis: ArqRedis, job_id: str) -> bool | None:
    """Delete the job's result if it records a failure. True: deleted; False: the job
    succeeded; None: no result (any more), or it changed while we looked."""
    key = result_key_prefix + job_id
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.watch(key)
        raw = await pipe.get(key)
        if raw is None:
            return None
        if deserialize_result(raw, deserializer=deserialize).success:
            return False
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.delete(key)
        try:
            await pipe.execute()
        except WatchError:
            return None
        return True


async def send(redis: ArqRedis, row: OutboxJob) -> SendOutcome:
    """Enqueue one outbox row under its deterministic job id (see the module docstring)."""
    job_id = arq_job_id(row)
    # A not-before already past is "now": ARQ counts a job's expiry from its score, so a stale
    # one would give the job an expiry in the past.
    defer_until = row.not_before if row.not_before and row.not_before > datetime.now(UTC) else None
    for _ in range(_SEND_ROUNDS):
        job = await redis.enqueue_job(
            row.function,
            _job_id=job_id,
            _queue_name=queue_key(Queue(row.queue)),
            _defer_until=defer_until,
            **row.kwargs,
        )
        if job is not None:
            return SendOutcome.SENT
        if await redis.exists(job_key_prefix + job_id):
            return SendOutcome.ALREADY_QUEUED
        forgotten = await _forget_failed_result(redis, job_id)
        if forgotten is False:
            return SendOutcome.ALREADY_DONE
        if forgotten:
            logger.info(
                "failed result cleared for a new request",
                extra={"function": row.function, "job": job_id},
            )
    raise RuntimeError(f"job {job_id} could not be enqueued: its result kept changing")


async def _relay(
    session: AsyncSession, redis: ArqRedis, rows: Sequence[OutboxJob], path: RelayPath
) -> int:
    """Send the claimed rows in order, delete the ones that reached Redis. A Redis failure
    stops the pass (the rest stay for the loop); any other failure of one row is recorded on it
    and the pass goes on, so one bad row never holds the others back. Runs inside the caller's
    transaction."""
    repo = OutboxRepository(session)
    done: list[uuid.UUID] = []
    for row in rows:
        try:
            outcome = await send(redis, row)
        except Exception as exc:
            await repo.record_failure(row.id, f"{type(exc).__name__}: {exc}")
            OUTBOX_RELAYED.labels(path.value, "failed").inc()
            outage = isinstance(exc, RedisError | OSError)
            logger.warning(
                "outbox relay failed; the row stays for the relay loop",
                extra={
                    "function": row.function,
                    "job": arq_job_id(row),
                    "path": path.value,
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )
            if outage:
                break
            continue
        done.append(row.id)
        OUTBOX_RELAYED.labels(path.value, outcome.value).inc()
        if outcome is not SendOutcome.SENT:
            logger.info(
                "job already in Redis",
                extra={
                    "function": row.function,
                    "job": arq_job_id(row),
                    "outcome": outcome.value,
                    "path": path.value,
                },
            )
    await repo.delete(done)
    return len(done)


async def relay_written(
    sessionmaker: async_sessionmaker[AsyncSession], redis: ArqRedis, ids: Sequence[uuid.UUID]
) -> int:
    """Right after a commit: send the rows it wrote. Never raises for an outage: the commit
    stands and the relay loop sends whatever is left."""
    if not ids:
        return 0
    try:
        async with sessionmaker() as session, session.begin():
            repo = OutboxRepository(session)
            await repo.skip_flush_on_commit()
            rows = await repo.claim(ids)
            return await _relay(session, redis, rows, RelayPath.COMMIT)
    except Exception:
        logger.warning("outbox relay after commit failed; the relay loop will send", exc_info=True)
        return 0


@dataclass(frozen=True, slots=True)
class RelayTick:
    sent: int
    backlog: int


async def relay_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
    older_than_s: float,
    batch: int,
) -> RelayTick:
    """One pass of the relay loop: send up to ``batch`` rows older than ``older_than_s`` (younger
    ones are their committer's to send), then refresh the backlog gauges."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        await repo.skip_flush_on_commit()
        rows = await repo.claim_due(cutoff, batch)
        sent = await _relay(session, redis, rows, RelayPath.LOOP) if rows else 0
        count, oldest = await repo.backlog()
    OUTBOX_BACKLOG.set(count)
    OUTBOX_OLDEST_AGE.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0)
    if sent:
        logger.info("outbox relayed", extra={"sent": sent, "backlog": count})
    return RelayTick(sent, count)


async def run_relay_loop(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
    interval_s: float,
    older_than_s: float,
    batch: int,
) -> None:
    """Relay left-behind rows until cancelled; a full batch goes again at once, an error
    (PostgreSQL or Redis away) waits for the next tick."""
    while True:
        started = time.monotonic()
        try:
            tick = await relay_due(sessionmaker, redis, older_than_s, batch)
            if tick.sent >= batch:
                continue
        except Exception:
            logger.warning("outbox relay pass failed", exc_info=True)
        await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))
