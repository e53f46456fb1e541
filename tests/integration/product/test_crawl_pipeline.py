"""The crawl pipeline through services and the real Apify client against the simulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.jobs import Queue, queue_key
from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.product.apify.client import ApifyConnector
from services.product.crawl import CrawlBatchRunner, CrawlPlanner, crawl_job_id
from services.product.models import CrawlRun, ListingVersion, Product, Snapshot
from simulator.server import SimulatorServer
from tests.factories import seed_tracked

pytestmark = pytest.mark.asyncio
UowFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


async def plan(new_uow: UowFactory, settings: Settings, now: datetime | None = None) -> list:
    async with new_uow() as uow:
        return (await CrawlPlanner(uow, settings).plan(now)).runs


async def count(session: AsyncSession, model: type, *where: object) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_product_tracked_by_many_sellers_is_crawled_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    redis: Redis,
) -> None:
    await seed_tracked(sessionmaker, count=3, sellers=50)
    runs = await plan(new_uow, crawl_settings)
    assert len(runs) == 1
    async with sessionmaker() as session:
        run = await session.get(CrawlRun, runs[0])
        assert run is not None
        assert run.asin_count == 3
    # One job per batch, with a deterministic id, on the default queue.
    assert await redis.zscore(queue_key(Queue.DEFAULT), crawl_job_id(runs[0])) is not None


async def test_batches_are_sized_and_planning_twice_plans_nothing_new(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, crawl_settings: Settings
) -> None:
    await seed_tracked(sessionmaker, count=120)
    first = await plan(new_uow, crawl_settings)
    assert len(first) == 3  # ceil(120 / 50)
    assert await plan(new_uow, crawl_settings) == []
    async with sessionmaker() as session:
        sizes = sorted((await session.execute(select(CrawlRun.asin_count))).scalars())
    assert sizes == [20, 50, 50]


async def test_batch_crawl_writes_one_snapshot_per_product_and_is_idempotent(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    gateway: ApifyConnector,
    simulator: SimulatorServer,
) -> None:
    product_ids = await seed_tracked(sessionmaker, count=45)
    (run_id,) = await plan(new_uow, crawl_settings)
    runner = CrawlBatchRunner(new_uow, gateway, crawl_settings)

    result = await runner.run(run_id)
    assert result.status == "succeeded"
    assert result.items + result.missing == 45

    async with sessionmaker() as session:
        snaps = await count(session, Snapshot, Snapshot.crawl_run_id == run_id)
        assert snaps == 45 - result.missing
        run = await session.get(CrawlRun, run_id)
        assert run is not None
        assert run.apify_run_id
        assert run.pages_ingested == 3  # 45 items in pages of 20
        assert run.duration_s is not None
        assert run.cost_usd is not None
        ok = await count(
            session, Snapshot, Snapshot.crawl_run_id == run_id, Snapshot.status == "ok"
        )
        assert ok == run.ok_count > 0
        versions = await count(session, ListingVersion, ListingVersion.product_id.in_(product_ids))
        assert versions == ok
        fresh = await count(session, Product, Product.last_good_at.is_not(None))
        assert fresh == ok

    # The same batch again: nothing new, not even a second actor run.
    again = await runner.run(run_id)
    assert again.skipped
    # Forced back to "running" as if the worker died before finishing: it resumes, adds nothing.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(CrawlRun).where(CrawlRun.id == run_id).values(status="running", pages_ingested=1)
        )
    runs_before = len(simulator.runs())
    resumed = await runner.run(run_id)
    assert resumed.status == "succeeded"
    assert len(simulator.runs()) == runs_before
    async with sessionmaker() as session:
        assert await count(session, Snapshot, Snapshot.crawl_run_id == run_id) == snaps
        versions_after = await count(
            session, ListingVersion, ListingVersion.product_id.in_(product_ids)
        )
        assert versions_after == versions


async def test_listing_versions_only_when_content_changes(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    gateway: ApifyConnector,
    simulator: SimulatorServer,
) -> None:
    await seed_tracked(sessionmaker, count=30, frequency="hourly")
    runner = CrawlBatchRunner(new_uow, gateway, crawl_settings)
    now = datetime.now(UTC)
    (first,) = await plan(new_uow, crawl_settings, now)
    await runner.run(first)
    # Same simulated day an hour later: identical content, so no new version.
    crawl_settings.apify.freshness_window_s = 0
    (second,) = await plan(new_uow, crawl_settings, now + timedelta(hours=1, minutes=1))
    await runner.run(second)
    async with sessionmaker() as session:
        second_versions = await count(
            session, ListingVersion, ListingVersion.crawl_run_id == second
        )
        first_versions = await count(session, ListingVersion, ListingVersion.crawl_run_id == first)
    assert first_versions > 0
    assert second_versions == 0


async def test_missing_asins_are_released_for_a_later_batch_then_given_up(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    gateway: ApifyConnector,
    simulator: SimulatorServer,
) -> None:
    await seed_tracked(sessionmaker, count=20)
    simulator.update_config(missing_asin_rate=1.0)  # every ASIN silently absent
    crawl_settings.apify.max_missing_attempts = 2
    runner = CrawlBatchRunner(new_uow, gateway, crawl_settings)

    (first,) = await plan(new_uow, crawl_settings)
    result = await runner.run(first)
    assert result.missing == 20
    async with sessionmaker() as session:
        assert await count(session, Snapshot) == 0
        held = await count(session, Product, Product.crawl_pending_until.is_not(None))
        assert held == 0  # released for the next batch

    (second,) = await plan(new_uow, crawl_settings)  # they are planned again at once
    await runner.run(second)
    async with sessionmaker() as session:
        errors = await count(session, Snapshot, Snapshot.status == "error")
    assert errors == 20  # second miss reached the limit: recorded, not lost


async def test_transient_api_faults_are_retried_by_the_client(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    gateway: ApifyConnector,
    simulator: SimulatorServer,
) -> None:
    await seed_tracked(sessionmaker, count=30)
    simulator.update_config(rate_429=0.3, rate_5xx=0.2)
    (run_id,) = await plan(new_uow, crawl_settings)
    result = await CrawlBatchRunner(new_uow, gateway, crawl_settings).run(run_id)
    assert result.status == "succeeded"
    assert result.items + result.missing == 30


async def test_blocked_and_partial_items_are_stored_with_their_status(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    gateway: ApifyConnector,
    simulator: SimulatorServer,
) -> None:
    await seed_tracked(sessionmaker, count=40)
    simulator.update_config(blocked_rate=0.5, missing_fields_rate=0.5)
    (run_id,) = await plan(new_uow, crawl_settings)
    await CrawlBatchRunner(new_uow, gateway, crawl_settings).run(run_id)
    async with sessionmaker() as session:
        statuses = dict(
            (await session.execute(text("SELECT status, count(*) FROM snapshots GROUP BY 1"))).all()
        )
        stale = await count(
            session, Product, Product.last_status != "ok", Product.last_good_at.is_not(None)
        )
    assert statuses.get("blocked", 0) > 0
    assert statuses.get("blocked", 0) + statuses.get("partial", 0) < 40 + 1
    assert stale == 0  # a product never crawled well has no "last good" time


async def test_holding_a_whole_cycle_is_one_statement(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # PostgreSQL takes at most 32 767 bind parameters; a cycle holds far more products.
    from services.product.repository import CrawlRunRepository

    async with sessionmaker() as session, session.begin():
        await CrawlRunRepository(session).hold(list(range(1, 50_001)), datetime.now(UTC))


async def test_operators_see_what_crawling_costs(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    gateway: ApifyConnector,
    client: httpx.AsyncClient,
    make_seller: Callable[..., Awaitable[dict[str, str]]],
) -> None:
    from cli.admin import create_admin

    await seed_tracked(sessionmaker, count=30)
    (run_id,) = await plan(new_uow, crawl_settings)
    result = await CrawlBatchRunner(new_uow, gateway, crawl_settings).run(run_id)
    await create_admin(crawl_settings, "ops@example.com", "a-Strong-passw0rd")
    login = await client.post(
        "/api/v1/auth/login", json={"email": "ops@example.com", "password": "a-Strong-passw0rd"}
    )
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    r = await client.get("/api/v1/admin/crawl-runs", headers=admin)
    assert r.status_code == 200
    body = r.json()
    assert (body["runs"], body["asins"], body["items"]) == (1, 30, result.items)
    assert Decimal(body["cost_usd"]) > 0
    assert body["runs_list"][0]["apify_run_id"]
    seller = await make_seller()
    assert (await client.get("/api/v1/admin/crawl-runs", headers=seller)).status_code == 403


async def test_duplicate_items_keep_the_good_copy_and_never_move_state_twice(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from services.product.apify.item import CrawlStatus
    from services.product.repository import SnapshotRepository
    from tests.factories import item, make_run

    (pid,) = await seed_tracked(sessionmaker, count=1)
    now = datetime.now(UTC)
    run = await make_run(sessionmaker, [pid], now)
    blocked = item(status=CrawlStatus.BLOCKED, price=None)
    async with sessionmaker() as session, session.begin():
        result = await SnapshotRepository(session).write_page(
            run, now, [(pid, blocked), (pid, item())]
        )
    assert result.ok == 1
    # The same product again on a later page of the same run: stored once, state untouched.
    async with sessionmaker() as session, session.begin():
        await SnapshotRepository(session).write_page(run, now, [(pid, blocked)])
    async with sessionmaker() as session:
        product = await session.get(Product, pid)
        statuses = (await session.execute(select(Snapshot.status))).scalars().all()
    assert product is not None
    assert product.last_status == "ok"
    assert statuses == ["ok"]


async def test_the_first_crawl_pass_takes_only_tracked_never_crawled_unheld_products(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    redis: Redis,
) -> None:
    new, crawled, held, stopped = await seed_tracked(sessionmaker, count=4)
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Product).where(Product.id == crawled).values(last_crawled_at=now)
        )
        await session.execute(
            update(Product)
            .where(Product.id == held)
            .values(crawl_pending_until=now + timedelta(minutes=5))
        )
        await session.execute(
            text("UPDATE tracked_products SET is_active = false WHERE product_id = :p"),
            {"p": stopped},
        )
    async with new_uow() as uow:
        result = await CrawlPlanner(uow, crawl_settings).plan_first(now)
    assert result.products == 1
    async with sessionmaker() as session:
        run = await session.get(CrawlRun, result.runs[0])
        assert run is not None
        assert (run.product_ids, run.trigger) == ([new], "first")
    # On the critical queue, as a seller's refresh: someone is waiting for this data.
    job = crawl_job_id(result.runs[0], "product.refresh_batch")
    assert await redis.zscore(queue_key(Queue.CRITICAL), job) is not None
    async with new_uow() as uow:  # held now: a second pass plans nothing
        assert (await CrawlPlanner(uow, crawl_settings).plan_first(now)).products == 0
