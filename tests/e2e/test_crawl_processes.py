"""The crawl pipeline with real processes: a scheduled cycle end to end, and a worker killed
with SIGKILL in the middle of a batch that leaves no duplicate and no gap."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest
from arq.connections import ArqRedis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.embedded import free_port
from services.core.jobs import create_arq_pool
from services.core.settings import Settings
from services.core.uow import unit_of_work
from services.product.crawl import CrawlPlanner
from services.product.models import CrawlRun, Snapshot
from tests.e2e.conftest import Stack
from tests.factories import seed_tracked

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e, pytest.mark.timeout(180)]
PASSWORD = "a-Strong-passw0rd"


async def _eventually(check: object, timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await check()  # type: ignore[operator]
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {timeout_s}s")


async def test_tracking_then_the_scheduler_produces_snapshots(stack: Stack) -> None:
    port = free_port()
    # The first-crawl pass waits out its longest gathering window, so the data this test sees
    # comes from the scheduler's start-up plan (tests/e2e/test_first_crawl.py covers that pass).
    stack.env["SHELFWATCH_CRAWL__FIRST_CRAWL_BATCH_S"] = "60"
    stack.start("sim", "apify-sim", "--port", stack.env["SHELFWATCH_SIM_PORT"])
    stack.start("gateway", "gateway", "--port", str(port))
    stack.start("worker", "worker")
    stack.wait_port("sim", int(stack.env["SHELFWATCH_SIM_PORT"]), 60)
    stack.wait_port("gateway", port, 90)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        info = (await http.get("/api/v1/system")).json()
        assert info["data_source"] == "simulator"
        await http.post(
            "/api/v1/auth/register", json={"email": "e2e@example.com", "password": PASSWORD}
        )
        r = await http.post(
            "/api/v1/auth/login", json={"email": "e2e@example.com", "password": PASSWORD}
        )
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        ids = []
        for asin in ("B0D2XRXNGY", "B000E2E001", "B000E2E002"):
            r = await http.post(
                "/api/v1/products", headers=auth, json={"product": asin, "marketplace": "US"}
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        # The scheduler plans at start-up; one cycle later the products have data.
        stack.start("scheduler", "scheduler")

        async def crawled() -> bool:
            await asyncio.sleep(0.7)  # one list call a second stays inside the plan's rate
            r = await http.get("/api/v1/products", headers=auth)
            assert r.status_code == 200, r.text
            return all(row["last_crawl_status"] is not None for row in r.json()["items"])

        await _eventually(crawled, 50, "a crawl of every tracked product")
        assert "scheduler started" in stack.log("scheduler")
        detail = (await http.get(f"/api/v1/products/{ids[0]}", headers=auth)).json()
        if detail["last_crawl_status"] == "ok":
            assert detail["latest"]["price"] is not None
            assert detail["as_of"] is not None
            assert detail["latest"]["bsr"]
    assert stack.stop("scheduler") == 0
    assert stack.stop("worker") == 0


async def test_sigkill_mid_batch_leaves_no_duplicate_and_no_gap(
    stack: Stack,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    total = 400
    await seed_tracked(sessionmaker, count=total)
    sim_port = int(stack.env["SHELFWATCH_SIM_PORT"])
    stack.start("sim", "apify-sim", "--port", str(sim_port))
    stack.wait_port("sim", sim_port, 60)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim_port}") as sim:
        r = await sim.put("/_sim/config", json={"latency_ms": 150})
        assert r.status_code == 200, r.text

    tuned = settings.model_copy(deep=True)
    tuned.apify.batch_size = total
    arq: ArqRedis = await create_arq_pool(tuned)
    async with unit_of_work(sessionmaker, arq) as uow:
        (run_id,) = (await CrawlPlanner(uow, tuned).plan()).runs
    await arq.aclose()

    # Default crawl timings: a crawl job's ARQ timeout is BATCH_DEADLINE_S / 4 (450 s), so
    # ARQ's own re-run of the killed job would come far too late; the lease brings it back.
    job_timeout_s = settings.crawl.job_timeout_s
    worker_env = {"SHELFWATCH_APIFY__PAGE_SIZE": "20"}
    stack.start("worker-1", "worker", "--queue", "default", extra_env=worker_env)
    stack.start("scheduler", "scheduler")  # its stalled-batch pass runs every few seconds

    async def pages_ingested() -> int:
        async with sessionmaker() as session:
            run = await session.get(CrawlRun, run_id)
            return run.pages_ingested if run and run.pages_ingested >= 3 else 0

    await _eventually(pages_ingested, 60, "three pages ingested")
    worker = stack.processes.pop("worker-1")
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    killed_at = time.monotonic()
    async with sessionmaker() as session:
        run = await session.get(CrawlRun, run_id)
        assert run is not None
        assert run.status == "running"  # killed mid-batch
        pages_at_kill = run.pages_ingested
        partial = await session.scalar(select(func.count()).select_from(Snapshot))
        assert 0 < partial < total

    stack.start("worker-2", "worker", extra_env=worker_env)

    async def resumed() -> bool:
        async with sessionmaker() as session:
            run = await session.get(CrawlRun, run_id)
            return bool(run and run.pages_ingested > pages_at_kill)

    await _eventually(resumed, 90, "the batch to be picked up again")
    pickup_s = time.monotonic() - killed_at
    # The lease (15 s) plus one stalled-batch pass (every 10 s) plus a worker's start-up.
    assert pickup_s < 60 < job_timeout_s, pickup_s
    print(f"picked up {pickup_s:.1f}s after SIGKILL (crawl job timeout {job_timeout_s}s)")

    async def finished() -> bool:
        async with sessionmaker() as session:
            run = await session.get(CrawlRun, run_id)
            return bool(run and run.status == "succeeded")

    await _eventually(finished, 90, "the batch to finish after the restart")
    async with sessionmaker() as session:
        rows, distinct = (
            await session.execute(
                text("SELECT count(*), count(DISTINCT product_id) FROM snapshots")
            )
        ).one()
        run = await session.get(CrawlRun, run_id)
    assert run is not None
    assert rows == distinct  # no duplicate
    assert rows == total - run.missing_count  # no gap
    assert run.missing_count == 0
    assert any(r.get("outcome") == "succeeded" for r in stack.records("worker-2"))
    assert "stalled crawl batch sent again" in stack.log("worker-2")
    # One Apify run for the whole batch: the restart resumed it, it did not pay for another.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim_port}") as sim:
        assert (await sim.get("/_sim/runs")).json()["total"] == 1
