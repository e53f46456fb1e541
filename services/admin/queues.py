"""Queue control over ARQ's Redis keys: counts, job listings, job actions, pause flags, workers.

Workers write the small indexes in ``services.admin.keys`` (running, retrying, finished, per-minute
counters, worker registry); this module reads them together with ARQ's own keys.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from arq.connections import ArqRedis
from arq.constants import (
    abort_jobs_ss,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.jobs import deserialize_job, deserialize_result
from redis.asyncio import Redis
from redis.exceptions import WatchError

from services.admin import keys
from services.admin.schemas import JobRead, JobState, MinuteCount, ScheduleEntry
from services.core.heartbeat import live_workers
from services.core.jobs import META_KWARG, Queue, deserialize, queue_key
from services.core.metrics import QUEUE_IN_PROGRESS, QUEUE_PAUSED, WORKERS_ALIVE

# Argument names whose values never leave the worker: shown as "***".
_SECRET = re.compile(r"pass|secret|token|key|auth|credential|signature|cookie", re.IGNORECASE)
REDACTED = "***"
# How far a search by function or id reads into one state's jobs before it stops.
SEARCH_SCAN_LIMIT = 50_000
_CHUNK = 500


def _aw(value: Awaitable[Any] | Any) -> Awaitable[Any]:
    """redis-py types its hash commands for both clients at once; ours is the async one."""
    return cast(Awaitable[Any], value)


def now_ms() -> int:
    return int(time.time() * 1000)


def ms_to_dt(ms: float | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def redact(value: Any) -> Any:
    """A copy of job arguments with every secret-looking key's value hidden."""
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and _SECRET.search(k) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def error_parts(result: Any) -> tuple[str, str, str | None]:
    """(type, message, traceback) of a failed job's stored result (our serializer's dict)."""
    if isinstance(result, dict):
        return (
            str(result.get("type", "Error")),
            str(result.get("message", "")),
            result.get("traceback"),
        )
    return ("Error", str(result), None)


def request_id_of(kwargs: dict[str, Any]) -> str | None:
    meta = kwargs.get(META_KWARG)
    return str(meta["request_id"]) if isinstance(meta, dict) and meta.get("request_id") else None


def public_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k != META_KWARG}


# --- what workers record ------------------------------------------------------------------


async def is_paused(redis: Redis, queue: Queue) -> bool:
    return bool(await redis.exists(keys.paused_key(queue)))


async def record_started(redis: Redis, queue: Queue, job_id: str) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.running_key(queue), {job_id: now_ms()})
        pipe.zrem(keys.retrying_key(queue), job_id)
        await pipe.execute()


async def record_stopped(redis: Redis, queue: Queue, job_id: str) -> None:
    await redis.zrem(keys.running_key(queue), job_id)


async def record_outcome(
    redis: Redis,
    queue: Queue,
    job_id: str,
    *,
    finished: bool,
    success: bool,
    retry_due_ms: int | None,
    keep_result_s: float,
) -> None:
    """Index a finished job (while ARQ keeps its result) or a retry; count it for its minute."""
    now = now_ms()
    minute_key = keys.minute_key(queue, now // 60_000)
    async with redis.pipeline(transaction=False) as pipe:
        if finished:
            index = keys.finished_key(queue, success)
            pipe.zadd(index, {job_id: now})
            pipe.zrem(keys.finished_key(queue, not success), job_id)
            pipe.zremrangebyscore(index, "-inf", now - keep_result_s * 1000)
            pipe.zrem(keys.retrying_key(queue), job_id)
            pipe.hincrby(minute_key, "completed" if success else "failed", 1)
        else:
            pipe.zadd(keys.retrying_key(queue), {job_id: retry_due_ms or now})
            pipe.hincrby(minute_key, "retried", 1)
        pipe.expire(minute_key, keys.STATS_TTL_S)
        await pipe.execute()


async def report_worker(redis: Redis, report: dict[str, Any]) -> None:
    """A worker's latest state, kept after its live heartbeat key expires."""
    await _aw(redis.hset(keys.WORKER_REGISTRY, report["name"], json.dumps(report)))


async def mark_worker_stopped(redis: Redis, name: str) -> None:
    raw = await _aw(redis.hget(keys.WORKER_REGISTRY, name))
    if raw:
        report = json.loads(raw)
        report["stopped"] = True
        report["running"] = []
        await _aw(redis.hset(keys.WORKER_REGISTRY, name, json.dumps(report)))


async def refresh_admin_gauges(redis: Redis) -> None:
    """Workers alive, paused queues and running jobs, for Prometheus."""
    WORKERS_ALIVE.set(len(await live_workers(redis)))
    for queue in Queue:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.exists(keys.paused_key(queue))
            pipe.zcard(keys.running_key(queue))
            paused, running = await pipe.execute()
        QUEUE_PAUSED.labels(queue.value).set(1 if paused else 0)
        QUEUE_IN_PROGRESS.labels(queue.value).set(running)


# --- what the dashboard reads and does ----------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    queued: int
    deferred: int
    in_progress: int
    retrying: int
    failed: int
    completed: int
    oldest_ready_age_s: float
    paused: dict[str, Any] | None
    minutes: list[MinuteCount]


class QueueStore:
    """Reads and changes the jobs of our ARQ queues directly in Redis."""

    def __init__(self, redis: ArqRedis, keep_result_s: float) -> None:
        self.arq = redis
        # The plain client type: its commands are typed as awaitables.
        self.redis: Redis = redis
        self.keep_result_s = keep_result_s

    # -- counts --

    async def counts(self, queue: Queue, minutes: int = 15) -> QueueCounts:
        now = now_ms()
        qkey = queue_key(queue)
        cutoff = now - self.keep_result_s * 1000
        current = now // 60_000
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcount(qkey, "-inf", now)
            pipe.zcount(qkey, f"({now}", "+inf")
            pipe.zrange(keys.running_key(queue), 0, -1)
            pipe.zcard(keys.retrying_key(queue))
            pipe.zremrangebyscore(keys.finished_key(queue, False), "-inf", cutoff)
            pipe.zcard(keys.finished_key(queue, False))
            pipe.zremrangebyscore(keys.finished_key(queue, True), "-inf", cutoff)
            pipe.zcard(keys.finished_key(queue, True))
            pipe.zrangebyscore(qkey, "-inf", now, start=0, num=64, withscores=True)
            pipe.get(keys.paused_key(queue))
            for m in range(current - minutes + 1, current + 1):
                pipe.hgetall(keys.minute_key(queue, m))
            (
                ready,
                deferred,
                running_ids,
                retrying,
                _,
                failed,
                _,
                completed,
                head,
                paused,
                *per,
            ) = await pipe.execute()
        running = {r.decode() for r in running_ids}
        # A job a worker runs stays in ARQ's queue until it finishes: not waiting any more.
        running_ready = 0
        if running:
            async with self.redis.pipeline(transaction=False) as pipe:
                for job_id in running:
                    pipe.zscore(qkey, job_id)
                scores = await pipe.execute()
            running_ready = sum(1 for s in scores if s is not None and s <= now)
        oldest = next((s for j, s in head if j.decode() not in running), None)
        rows = []
        for m, counters in zip(range(current - minutes + 1, current + 1), per, strict=True):
            c = {k.decode(): int(v) for k, v in counters.items()}
            rows.append(
                MinuteCount(
                    minute=datetime.fromtimestamp(m * 60, UTC),
                    completed=c.get("completed", 0),
                    failed=c.get("failed", 0),
                    retried=c.get("retried", 0),
                )
            )
        return QueueCounts(
            queued=max(0, int(ready) - running_ready),
            deferred=int(deferred),
            in_progress=len(running),
            retrying=int(retrying),
            failed=int(failed),
            completed=int(completed),
            oldest_ready_age_s=round(max(0.0, (now - oldest) / 1000), 3) if oldest else 0.0,
            paused=json.loads(paused) if paused else None,
            minutes=rows,
        )

    # -- pause --

    async def pause(self, queue: Queue, by: str) -> None:
        await self.redis.set(keys.paused_key(queue), json.dumps({"by": by, "at": time.time()}))

    async def resume(self, queue: Queue) -> bool:
        return bool(await self.redis.delete(keys.paused_key(queue)))

    # -- listing --

    async def _ids(self, queue: Queue, state: JobState, start: int, num: int) -> list[str]:
        now = now_ms()
        qkey = queue_key(queue)
        if state is JobState.QUEUED:
            raw = await self.redis.zrangebyscore(qkey, "-inf", now, start=start, num=num)
        elif state is JobState.DEFERRED:
            raw = await self.redis.zrangebyscore(qkey, f"({now}", "+inf", start=start, num=num)
        elif state is JobState.IN_PROGRESS:
            raw = await self.redis.zrange(keys.running_key(queue), start, start + num - 1)
        elif state is JobState.RETRYING:
            raw = await self.redis.zrange(keys.retrying_key(queue), start, start + num - 1)
        else:
            index = keys.finished_key(queue, state is JobState.COMPLETED)
            raw = await self.redis.zrevrange(index, start, start + num - 1)
        return [r.decode() for r in raw]

    async def _read_many(self, queue: Queue, state: JobState, ids: list[str]) -> list[JobRead]:
        finished = state in (JobState.COMPLETED, JobState.FAILED)
        prefix = result_key_prefix if finished else job_key_prefix
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.get(prefix + job_id)
                pipe.zscore(queue_key(queue), job_id)
                pipe.get(retry_key_prefix + job_id)
            raw = await pipe.execute()
        jobs = []
        running = (
            set(await self._ids(queue, JobState.IN_PROGRESS, 0, 10_000))
            if state is JobState.QUEUED
            else set()
        )
        for i, job_id in enumerate(ids):
            value, score, tries = raw[3 * i : 3 * i + 3]
            if value is None or job_id in running:
                continue  # finished, expired or started since the ids were read
            jobs.append(self._job(queue, state, job_id, value, score, tries, finished))
        return jobs

    def _job(
        self,
        queue: Queue,
        state: JobState,
        job_id: str,
        value: bytes,
        score: float | None,
        tries: bytes | None,
        finished: bool,
    ) -> JobRead:
        if finished:
            r = deserialize_result(value, deserializer=deserialize)
            error = tb = None
            if not r.success:
                kind, message, tb = error_parts(r.result)
                error = f"{kind}: {message}" if message else kind
            return JobRead(
                job_id=job_id,
                queue=queue,
                state=state,
                function=r.function,
                args=redact(list(r.args)),
                keyword_args=redact(public_kwargs(r.kwargs)),
                tries=r.job_try,
                enqueued_at=r.enqueue_time,
                started_at=r.start_time,
                finished_at=r.finish_time,
                success=r.success,
                result=redact(r.result) if r.success else None,
                error=error,
                traceback=tb,
                request_id=request_id_of(r.kwargs),
            )
        d = deserialize_job(value, deserializer=deserialize)
        return JobRead(
            job_id=job_id,
            queue=queue,
            state=state,
            function=d.function,
            args=redact(list(d.args)),
            keyword_args=redact(public_kwargs(d.kwargs)),
            tries=int(tries) if tries else d.job_try or 0,
            enqueued_at=d.enqueue_time,
            due_at=ms_to_dt(score),
            request_id=request_id_of(d.kwargs),
        )

    async def list_jobs(
        self,
        queue: Queue,
        state: JobState,
        *,
        function: str | None,
        job_id: str | None,
        offset: int,
        limit: int,
    ) -> tuple[list[JobRead], int | None, bool]:
        """A page of one state's jobs, optionally those of one function / whose id contains a
        text; returns (jobs, total or None when filtered, whether more follow)."""
        if not function and not job_id:
            ids = await self._ids(queue, state, offset, limit + 1)
            jobs = await self._read_many(queue, state, ids[:limit])
            return jobs, await self._total(queue, state), len(ids) > limit
        matched: list[JobRead] = []
        start = 0
        while start < SEARCH_SCAN_LIMIT and len(matched) <= offset + limit:
            ids = await self._ids(queue, state, start, _CHUNK)
            if not ids:
                break
            start += len(ids)
            if job_id:
                ids = [i for i in ids if job_id in i]
            for job in await self._read_many(queue, state, ids):
                if not function or job.function == function:
                    matched.append(job)
        return matched[offset : offset + limit], None, len(matched) > offset + limit

    async def _total(self, queue: Queue, state: JobState) -> int:
        c = await self.counts(queue, minutes=1)
        return {
            JobState.QUEUED: c.queued,
            JobState.DEFERRED: c.deferred,
            JobState.IN_PROGRESS: c.in_progress,
            JobState.RETRYING: c.retrying,
            JobState.FAILED: c.failed,
            JobState.COMPLETED: c.completed,
        }[state]

    async def get_job(self, queue: Queue, job_id: str) -> JobRead | None:
        """One job in whatever state it is, from ARQ's keys."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(result_key_prefix + job_id)
            pipe.get(job_key_prefix + job_id)
            pipe.zscore(queue_key(queue), job_id)
            pipe.exists(in_progress_key_prefix + job_id)
            pipe.get(retry_key_prefix + job_id)
            pipe.zscore(keys.retrying_key(queue), job_id)
            result, job, score, running, tries, retrying = await pipe.execute()
        if result is not None:
            r = deserialize_result(result, deserializer=deserialize)
            if keys.queue_of(r.queue_name) not in (queue, None):
                return None
            state = JobState.COMPLETED if r.success else JobState.FAILED
            return self._job(queue, state, job_id, result, None, None, True)
        if job is None or score is None:
            return None
        if running:
            state = JobState.IN_PROGRESS
        elif retrying is not None:
            state = JobState.RETRYING
        elif score > now_ms():
            state = JobState.DEFERRED
        else:
            state = JobState.QUEUED
        return self._job(queue, state, job_id, job, score, tries, False)

    # -- actions --

    async def run_now(self, queue: Queue, job_id: str) -> bool:
        """Make a deferred (or retrying) job due now; False when it is not waiting any more."""
        return await self._if_waiting(
            queue, job_id, lambda pipe: pipe.zadd(queue_key(queue), {job_id: now_ms()}, xx=True)
        )

    async def remove_waiting(self, queue: Queue, job_id: str) -> bool:
        """Take a job that no worker has started out of its queue, with its ARQ keys."""

        def remove(pipe: Any) -> None:
            pipe.zrem(queue_key(queue), job_id)
            pipe.zrem(keys.retrying_key(queue), job_id)
            pipe.delete(job_key_prefix + job_id, retry_key_prefix + job_id)

        return await self._if_waiting(queue, job_id, remove)

    async def _if_waiting(self, queue: Queue, job_id: str, change: Any) -> bool:
        # Same guard as ARQ's worker uses to start a job: WATCH the in-progress key, so a
        # worker taking the job between our check and our write makes the write fail.
        progress = in_progress_key_prefix + job_id
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(progress, queue_key(queue))
                running = await pipe.exists(progress)
                score = await pipe.zscore(queue_key(queue), job_id)
                if running or score is None:
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                change(pipe)
                await pipe.execute()
            except WatchError:
                return False
        return True

    async def is_running(self, job_id: str) -> bool:
        return bool(await self.redis.exists(in_progress_key_prefix + job_id))

    async def abort_running(self, job_id: str) -> None:
        """ARQ's abort: the worker running it cancels the task at its next poll."""
        await self.redis.zadd(abort_jobs_ss, {job_id: now_ms()})

    async def failed_result(self, queue: Queue, job_id: str) -> JobRead | None:
        job = await self.get_job(queue, job_id)
        return job if job is not None and job.state is JobState.FAILED else None

    async def raw_failed(self, job_id: str) -> tuple[str, list[Any], dict[str, Any]] | None:
        """(function, args, kwargs) of a failed result, unredacted, to enqueue it again."""
        raw = await self.redis.get(result_key_prefix + job_id)
        if raw is None:
            return None
        r = deserialize_result(raw, deserializer=deserialize)
        if r.success:
            return None
        return r.function, list(r.args), dict(r.kwargs)

    async def forget_result(self, queue: Queue, job_id: str) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(result_key_prefix + job_id)
            pipe.zrem(keys.finished_key(queue, True), job_id)
            pipe.zrem(keys.finished_key(queue, False), job_id)
            deleted, *_ = await pipe.execute()
        return bool(deleted)

    async def enqueue(
        self, queue: Queue, function: str, job_id: str, args: list[Any], kwargs: dict[str, Any]
    ) -> bool:
        job = await self.arq.enqueue_job(
            function, *args, _job_id=job_id, _queue_name=queue_key(queue), **kwargs
        )
        return job is not None

    async def bulk_enqueue(self, queue: Queue, job_ids: list[str], payload: bytes) -> None:
        """Many jobs with one payload in few round trips (ARQ's enqueue_job takes three each);
        ids are fresh, so ARQ's duplicate check is not needed."""
        score = now_ms()
        for start in range(0, len(job_ids), 1000):
            chunk = job_ids[start : start + 1000]
            async with self.redis.pipeline(transaction=False) as pipe:
                for job_id in chunk:
                    pipe.psetex(job_key_prefix + job_id, 86_400_000, payload)
                pipe.zadd(queue_key(queue), dict.fromkeys(chunk, score))
                await pipe.execute()

    async def failed_ids(self, queue: Queue, function: str | None, cap: int) -> list[str]:
        """Ids of the queue's failed results (of one function), at most cap."""
        ids = [
            r.decode() for r in await self.redis.zrevrange(keys.finished_key(queue, False), 0, -1)
        ]
        if function is None:
            return ids[:cap]
        chosen: list[str] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            values = await self.redis.mget([result_key_prefix + i for i in chunk])
            for job_id, value in zip(chunk, values, strict=True):
                if value and deserialize(value).get("f") == function:
                    chosen.append(job_id)
                    if len(chosen) >= cap:
                        return chosen
        return chosen

    # -- workers --

    async def workers(self, stale_after_s: float) -> list[dict[str, Any]]:
        """Every worker that reported recently, marked alive while its heartbeat key lives."""
        live = {w["name"] for w in await live_workers(self.redis)}
        registry = await _aw(self.redis.hgetall(keys.WORKER_REGISTRY))
        now = time.time()
        out = []
        gone: list[str] = []
        for name_b, raw in registry.items():
            report = json.loads(raw)
            age = now - float(report.get("at", 0))
            alive = name_b.decode() in live and not report.get("stopped")
            if not alive and age > stale_after_s:
                gone.append(name_b.decode())  # long gone: stop listing it
                continue
            report["alive"] = alive
            report["age_s"] = age
            out.append(report)
        if gone:
            await _aw(self.redis.hdel(keys.WORKER_REGISTRY, *gone))
        return sorted(out, key=lambda w: (not w["alive"], str(w["name"])))

    # -- schedule --

    async def schedule_entries(self) -> list[ScheduleEntry]:
        raw = await _aw(self.redis.hgetall(keys.CRON_ENTRIES))
        entries = [ScheduleEntry.model_validate_json(v) for v in raw.values()]
        return sorted(entries, key=lambda e: e.name)

    async def cron_last_runs(self) -> dict[str, dict[str, Any]]:
        raw = await _aw(self.redis.hgetall(keys.CRON_LAST_RUN))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    async def record_cron_run(self, name: str, job_id: str, sent: bool, manual: bool) -> None:
        await record_cron_run(self.redis, name, job_id, sent, manual)

    async def job_outcome(self, queue: Queue, job_id: str) -> str:
        job = await self.get_job(queue, job_id)
        return "unknown (result expired)" if job is None else job.state.value

    # -- redis --

    async def redis_info(self, scan_cap: int) -> dict[str, Any]:
        info = await self.redis.info()
        counts: dict[str, int] = {}
        scanned = 0
        complete = True
        async for key in self.redis.scan_iter(count=1000):
            scanned += 1
            counts[key_prefix(key.decode(errors="replace"))] = (
                counts.get(key_prefix(key.decode(errors="replace")), 0) + 1
            )
            if scanned >= scan_cap:
                complete = False
                break
        return {
            "info": info,
            "dbsize": await self.redis.dbsize(),
            "prefixes": sorted(counts.items(), key=lambda kv: -kv[1]),
            "scanned": scanned,
            "complete": complete,
        }


def key_prefix(key: str) -> str:
    """The family of a key without its ids: "arq:job", "shelfwatch:queue",
    "shelfwatch:admin:stats" (our admin keys one level deeper, they are several families)."""
    parts = key.split(":")
    depth = 3 if parts[:2] == ["shelfwatch", "admin"] and len(parts) > 3 else 2
    return ":".join(parts[:depth])


async def publish_schedule(redis: Redis, entries: list[ScheduleEntry]) -> None:
    """The scheduler's cron entries as it runs them, for the schedule view (replaced whole)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.CRON_ENTRIES)
        for entry in entries:
            pipe.hset(keys.CRON_ENTRIES, entry.name, entry.model_dump_json())
        await pipe.execute()


async def record_cron_run(redis: Redis, name: str, job_id: str, sent: bool, manual: bool) -> None:
    """The last enqueue of a cron entry, for the schedule view."""
    await _aw(
        redis.hset(
            keys.CRON_LAST_RUN,
            name,
            json.dumps({"at": time.time(), "job_id": job_id, "sent": sent, "manual": manual}),
        )
    )
