"""Benchmark: queue fairness and throughput.

Redis DB 10. N no-op jobs wait on ``low`` before one worker process starts: the product's own
worker stack (bench/queue_worker.py = ``shelfwatch worker`` plus two no-op tasks; default
concurrency split 6:3:1, INFO job logs as in production). While it drains ``low``, a critical
no-op job is sent every 100 ms the way the API sends a refresh (``send_job``); each one's pickup
latency (ARQ's start time minus enqueue time) is read back from its result. Then the same
critical jobs on the idle worker, for reference; then N no-op jobs drained by a bare ARQ worker
(ARQ's defaults) on the same Redis. Targets: critical pickup p99 <= 1 s while low drains; low
throughput >= 50 % of bare ARQ's.

    uv run python -m bench.queue_fairness [--jobs 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import time
import uuid
from collections.abc import Callable
from typing import Any

from arq.constants import default_queue_name, job_key_prefix
from arq.jobs import Job, serialize_job
from redis.asyncio import Redis

from bench.common import LOGS, Bench, bench, machine, percentile, table, verdict
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

REDIS_DB = 10
MAX_P99_S = 1.0
MIN_SHARE = 0.5
CRITICAL_EVERY_S = 0.1


async def _fill(
    redis: Redis, queue: str, function: str, n: int, serializer: Callable[[Any], bytes]
) -> None:
    """N jobs written the way ``enqueue_job`` writes them, pipelined (enqueueing one by one
    would take longer than draining)."""
    now_ms = int(time.time() * 1000)
    payload = serialize_job(function, (), {}, None, now_ms, serializer=serializer)
    for first in range(0, n, 5000):
        async with redis.pipeline(transaction=False) as pipe:
            ids = [uuid.uuid4().hex for _ in range(first, min(n, first + 5000))]
            for job_id in ids:
                pipe.psetex(job_key_prefix + job_id, 86_400_000, payload)
            pipe.zadd(queue, dict.fromkeys(ids, now_ms))
            await pipe.execute()


async def _drain_rate(
    redis: Redis, queue: str, n: int, budget_s: float
) -> tuple[float, float, int]:
    """(jobs/s, seconds, jobs left) from the first job taken off the queue until the queue is
    empty, or until ``budget_s`` has passed (the rate so far then)."""
    started = time.perf_counter()
    first_at, left_at_first = None, n
    while True:
        left = await redis.zcard(queue)
        now = time.perf_counter()
        if first_at is None and left < n:
            first_at, left_at_first = now, left
        if first_at is not None and (left == 0 or now - first_at > budget_s):
            elapsed = max(now - first_at, 1e-6)
            return (left_at_first - left) / elapsed, elapsed, left
        if first_at is None and now - started > 120:
            raise RuntimeError(f"{queue}: no job taken in 120 s; see .shelfwatch/bench-logs")
        await asyncio.sleep(0.05)


async def _pickups(arq: Any, job_ids: list[str], timeout_s: float = 120) -> list[float]:
    """Each job's pickup latency (ARQ's start time minus enqueue time), from its result."""
    latencies = []
    deadline = time.perf_counter() + timeout_s
    for job_id in job_ids:
        job = Job(job_id, arq, _queue_name=queue_key(Queue.CRITICAL), _deserializer=deserialize)
        info = await job.result_info()
        while info is None and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
            info = await job.result_info()
        if info is not None:
            latencies.append((info.start_time - info.enqueue_time).total_seconds())
    return latencies


async def _trickle(arq: Any, stop: asyncio.Event, limit: int | None = None) -> list[str]:
    ids: list[str] = []
    while not stop.is_set() and (limit is None or len(ids) < limit):
        job_id = await send_job(
            arq, JobRequest("bench.noop_critical", Queue.CRITICAL, {}, uuid.uuid4().hex)
        )
        if job_id:
            ids.append(job_id)
        await asyncio.sleep(CRITICAL_EVERY_S)
    return ids


async def _wait_log(path: Any, text: bytes, timeout_s: float = 120) -> None:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if path.exists() and text in path.read_bytes():
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{path.name}: no {text!r} in {timeout_s:.0f} s")


async def _ours(state: Bench, args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings().model_copy(deep=True)
    settings.redis.url = state.redis_url
    arq = await create_arq_pool(settings)
    redis = Redis.from_url(state.redis_url)
    low = queue_key(Queue.LOW)
    try:
        await _fill(redis, low, "bench.noop_low", args.jobs, serialize)
        log = LOGS / "queue-worker.log"
        log.unlink(missing_ok=True)
        worker = state.spawn(
            [], state.env(SHELFWATCH_LOG_LEVEL="INFO"), log.name, module="bench.queue_worker"
        )
        # Critical jobs only once the worker is serving: its start-up is not pickup latency.
        while await redis.zcard(low) >= args.jobs:  # noqa: ASYNC110 - nothing to signal
            await asyncio.sleep(0.05)
        stop = asyncio.Event()
        trickle = asyncio.create_task(_trickle(arq, stop))
        rate, seconds, left = await _drain_rate(redis, low, args.jobs, args.budget)
        stop.set()
        busy_ids = await trickle
        busy = await _pickups(arq, busy_ids)
        idle_ids = await _trickle(arq, asyncio.Event(), limit=20)
        idle = await _pickups(arq, idle_ids)
        state.stop(worker)
    finally:
        await arq.aclose()
        await redis.aclose()
    return {"rate": rate, "seconds": seconds, "left": left, "busy": busy, "idle": idle}


async def _bare(state: Bench, args: argparse.Namespace) -> dict[str, Any]:
    redis = Redis.from_url(state.redis_url)
    queue = default_queue_name + ":bench-bare"
    try:
        await _fill(redis, queue, "noop", args.jobs, pickle.dumps)
        worker = state.spawn(
            [state.redis_url, queue], state.env(), "queue-bare.log", module="bench.bare_arq"
        )
        rate, seconds, left = await _drain_rate(redis, queue, args.jobs, args.budget)
        state.stop(worker)
    finally:
        await redis.aclose()
    return {"rate": rate, "seconds": seconds, "left": left}


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    async with bench("queue", REDIS_DB) as state:
        await state.fresh_database()
        ours = await _ours(state, args)
        await state.flush_redis()
        bare = await _bare(state, args)
    return {"ours": ours, "bare": bare}


def report(r: dict[str, Any], args: argparse.Namespace) -> str:
    ours, bare = r["ours"], r["bare"]
    share = ours["rate"] / bare["rate"]
    busy_p99 = percentile(ours["busy"], 99)
    idle_p99 = percentile(ours["idle"], 99)

    def ms(values: list[float], pct: float) -> str:
        return f"{percentile(values, pct) * 1000:.0f} ms"

    rows = [
        (
            "low drain: jobs/s",
            f"{ours['rate']:,.1f} ({ours['seconds']:.1f} s, {ours['left']:,} left)",
            f"{bare['rate']:,.1f} ({bare['seconds']:.1f} s, {bare['left']:,} left)",
            f"{share:.0%}",
            f">= {MIN_SHARE:.0%}: {verdict(share >= MIN_SHARE)}",
        ),
        (
            "critical pickup p50 / p99 / max",
            f"{ms(ours['busy'], 50)} / {ms(ours['busy'], 99)} / {ms(ours['busy'], 100)} "
            f"(n={len(ours['busy'])}, low draining)",
            f"idle worker: {ms(ours['idle'], 50)} / {ms(ours['idle'], 99)} (n={len(ours['idle'])})",
            f"{busy_p99 / idle_p99:.1f}x idle" if idle_p99 > 0 else "-",
            f"p99 <= {MAX_P99_S:.0f} s: {verdict(busy_p99 <= MAX_P99_S)}",
        ),
    ]
    notes = [
        f"machine: {machine()}",
        f"{args.jobs:,} no-op jobs on low, one worker process at the default concurrency "
        f"(split 6:3:1 over critical/default/low); a critical no-op every "
        f"{CRITICAL_EVERY_S * 1000:.0f} ms while low drains; bare ARQ: Worker defaults "
        "(max_jobs 10, pickle), burst mode, same Redis",
    ]
    return (
        table(
            "Queue fairness",
            ["measure", "shelfwatch worker", "bare ARQ / reference", "ratio", "target"],
            rows,
        )
        + "\n\n"
        + "\n".join(f"- {n}" for n in notes)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument(
        "--budget", type=float, default=60, help="seconds of draining before the rate is taken"
    )
    args = parser.parse_args()
    print(report(asyncio.run(_run(args)), args), flush=True)


if __name__ == "__main__":
    main()
