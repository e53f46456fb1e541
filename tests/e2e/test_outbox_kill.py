"""A worker killed between a crawl batch's final commit and the moment its jobs reach Redis:
the batch's change detection (and read-model refresh) still runs, exactly once.

The window is made deterministic from outside the product: the test holds an uncommitted outbox
row with the job id of the batch's change detection, so the worker's final transaction waits at
its INSERT (a unique key in doubt); it then freezes the worker's Redis (a proxy the test controls
stops passing bytes), rolls its row back so the transaction commits, sees the run succeeded with
its jobs in the outbox, and SIGKILLs the worker. A new worker and the scheduler's relay loop
must take it from there."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlparse

import httpx
import pytest
from arq.connections import ArqRedis
from arq.jobs import Job, JobResult
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.alerts.jobs import AlertJob
from services.core.jobs import deserialize
from services.core.settings import Settings
from services.core.uow import unit_of_work
from services.product.crawl import CrawlPlanner, crawl_job_id
from services.product.jobs import ProductJob
from services.product.models import CrawlRun
from tests.e2e.conftest import Stack
from tests.factories import seed_tracked
from tests.outbox_support import HoldableProxy, outbox_rows

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e, pytest.mark.timeout(180)]


T = TypeVar("T")


async def _eventually(check: Callable[[], Awaitable[T]], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout_s}s")


def _started(log: str, function: str, job_id: str) -> int:
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return sum(
        1
        for line in lines
        if line.get("message") == "job started"
        and line.get("function") == function
        and line.get("job_id") == job_id
    )


@pytest.fixture
async def proxy(settings: Settings) -> AsyncIterator[HoldableProxy]:
    """A proxy to the test Redis that the test can freeze."""
    url = urlparse(settings.redis.url)
    holdable = HoldableProxy(url.hostname or "127.0.0.1", url.port or 6379)
    await holdable.start()
    yield holdable
    await holdable.close()


async def test_worker_killed_between_commit_and_enqueue_still_detects_changes_once(
    stack: Stack,
    settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    arq: ArqRedis,
    proxy: HoldableProxy,
) -> None:
    await seed_tracked(sessionmaker, count=40)
    sim_port = int(stack.env["SHELFWATCH_SIM_PORT"])
    stack.start("sim", "apify-sim", "--port", str(sim_port))
    stack.wait_port("sim", sim_port, 60)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim_port}") as sim:
        r = await sim.put("/_sim/config", json={"latency_ms": 50})
        assert r.status_code == 200, r.text

    async with unit_of_work(sessionmaker, arq) as uow:
        (run_id,) = (await CrawlPlanner(uow, settings).plan()).runs

    worker_env = {
        # The first worker reaches Redis only through the proxy.
        "SHELFWATCH_REDIS__URL": urlparse(settings.redis.url)
        ._replace(netloc=f"127.0.0.1:{proxy.port}")
        .geturl(),
        "SHELFWATCH_APIFY__PAGE_SIZE": "20",
        # Short timeouts: the killed crawl job's in-progress mark (the longest timeout of the
        # worker's functions + 10 s) lapses within the test, so its re-run is seen too. A crawl
        # job's is BATCH_DEADLINE_S / 4; 120 is the shortest deadline the settings accept.
        "SHELFWATCH_QUEUE__JOB_TIMEOUT_S": "20",
        "SHELFWATCH_APIFY__REQUEST_TIMEOUT_S": "5",
        "SHELFWATCH_CRAWL__BATCH_DEADLINE_S": "120",
    }
    detect_id = f"{AlertJob.DETECT_CHANGES}:{run_id}"
    refresh_id = f"{ProductJob.REFRESH_READ_MODELS}:{run_id}"
    lock = await engine.connect()
    try:
        # The batch's final transaction will wait at its outbox INSERT until we let it go: only
        # it asks for this job id (an earlier one, handing over to a deferred job while Apify
        # runs, passes).
        await lock.begin()
        await lock.execute(
            text(
                "INSERT INTO outbox (id, function, queue, job_id) "
                "VALUES (gen_random_uuid(), :function, 'default', :job_id)"
            ),
            {"function": str(AlertJob.DETECT_CHANGES), "job_id": detect_id},
        )
        stack.start("worker-1", "worker", "--queue", "default", extra_env=worker_env)

        async def waiting_at_outbox() -> bool:
            async with sessionmaker() as session:
                waiting = await session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO outbox%'"
                    )
                )
            return bool(waiting)

        await _eventually(waiting_at_outbox, 60, "the final transaction to reach the outbox")
        proxy.hold()  # from here on the worker reaches Redis no more
        await lock.rollback()
    finally:
        await lock.close()

    async def committed_with_jobs() -> bool:
        async with sessionmaker() as session:
            run = await session.get(CrawlRun, run_id)
        waiting = {r["job_id"] for r in await outbox_rows(sessionmaker)}
        return bool(run and run.status == "succeeded") and {detect_id, refresh_id} <= waiting

    await _eventually(committed_with_jobs, 30, "the final commit")
    worker = stack.processes.pop("worker-1")
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    await proxy.close()
    assert {r["job_id"] for r in await outbox_rows(sessionmaker)} == {detect_id, refresh_id}
    assert await Job(detect_id, arq, _deserializer=deserialize).status() == "not_found"

    relay_env = {"SHELFWATCH_QUEUE__OUTBOX_RELAY_AFTER_S": "1"}
    stack.start("scheduler", "scheduler", extra_env=relay_env)
    stack.start("worker-2", "worker", "--queue", "default")

    async def finished(job_id: str) -> JobResult | None:
        return await Job(job_id, arq, _deserializer=deserialize).result_info()

    detected = await _eventually(lambda: finished(detect_id), 60, "change detection")
    await _eventually(lambda: finished(refresh_id), 60, "the read-model refresh")
    # The killed batch job itself runs again once its in-progress mark expires: it finds the run
    # finished and asks for nothing more.
    crawl = await _eventually(
        lambda: finished(crawl_job_id(run_id)), 90, "the interrupted crawl job to re-run"
    )
    assert detected is not None and detected.success, detected
    assert crawl is not None and crawl.result["skipped"] is True
    assert await outbox_rows(sessionmaker) == []
    logs = stack.log("worker-1") + stack.log("worker-2")
    assert _started(logs, AlertJob.DETECT_CHANGES, detect_id) == 1
    assert _started(logs, ProductJob.REFRESH_READ_MODELS, refresh_id) == 1
    assert stack.stop("scheduler") == 0
    assert stack.stop("worker-2") == 0
