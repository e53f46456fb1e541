"""The page writer is idempotent: a page written twice, a page some of whose rows exist, and a
page another transaction writes at the same moment all end with each row stored once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.product.apify.item import CrawlStatus, ListingContent, ParsedItem
from services.product.models import ListingVersion, Product, Snapshot
from services.product.repository import PageResult, SnapshotRepository
from tests.factories import item, make_run, seed_tracked

pytestmark = pytest.mark.asyncio
Sessions = async_sessionmaker[AsyncSession]


async def write(
    sessionmaker: Sessions, run: uuid.UUID, at: datetime, page: list[tuple[int, ParsedItem]]
) -> PageResult:
    async with sessionmaker() as session, session.begin():
        return await SnapshotRepository(session).write_page(run, at, page)


async def stored(sessionmaker: Sessions, run: uuid.UUID) -> tuple[dict[int, Decimal | None], int]:
    """(price of each product's snapshot in the run, listing versions of the run)."""
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(Snapshot.product_id, Snapshot.price).where(Snapshot.crawl_run_id == run)
            )
        ).all()
        versions = await session.scalar(
            select(func.count()).where(ListingVersion.crawl_run_id == run)
        )
    prices: dict[int, Decimal | None] = dict(rows)
    assert len(prices) == len(rows), "a product has two snapshots in one run"
    return prices, int(versions or 0)


def page_of(pids: list[int], price: str = "20.00") -> list[tuple[int, ParsedItem]]:
    return [
        (pid, item(f"B00000000{n}", price=Decimal(price))) for n, pid in enumerate(pids, start=1)
    ]


async def test_a_page_written_twice_is_stored_once(sessionmaker: Sessions) -> None:
    pids = await seed_tracked(sessionmaker, count=3)
    now = datetime.now(UTC)
    run = await make_run(sessionmaker, pids, now)

    first = await write(sessionmaker, run, now, page_of(pids))
    again = await write(sessionmaker, run, now, page_of(pids, price="25.00"))

    assert (first.items, first.ok, again.items) == (3, 3, 3)
    prices, versions = await stored(sessionmaker, run)
    assert prices == dict.fromkeys(pids, Decimal("20.00"))
    assert versions == 3


async def test_a_page_some_of_whose_rows_exist_adds_only_the_others(
    sessionmaker: Sessions,
) -> None:
    pids = await seed_tracked(sessionmaker, count=4)
    now = datetime.now(UTC)
    run = await make_run(sessionmaker, pids, now)
    blocked = item(status=CrawlStatus.BLOCKED, price=None, listing=None)
    await write(sessionmaker, run, now, [(pids[0], blocked), *page_of(pids[1:2])])

    # The retried page: the first two products are stored already and stay as they were.
    result = await write(sessionmaker, run, now, page_of(pids, price="30.00"))

    assert result.items == 4
    prices, versions = await stored(sessionmaker, run)
    assert prices == {
        pids[0]: None,
        pids[1]: Decimal("20.00"),
        pids[2]: Decimal("30.00"),
        pids[3]: Decimal("30.00"),
    }
    assert versions == 3  # the blocked copy versions nothing, and is not replaced
    async with sessionmaker() as session:
        rows = await session.execute(select(Product.id, Product.last_status))
        states = dict(rows.all())
    assert [states[pid] for pid in pids] == ["blocked", "ok", "ok", "ok"]


async def test_a_listing_version_is_stored_only_when_the_listing_changed(
    sessionmaker: Sessions,
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    day1 = datetime.now(UTC) - timedelta(days=2)
    day2, day3 = day1 + timedelta(days=1), day1 + timedelta(days=2)
    runs = [await make_run(sessionmaker, [pid], day) for day in (day1, day2, day3)]
    renamed = ListingContent(title="Earbuds Pro", brand="B", bullets=("a",), images=("1.jpg",))

    await write(sessionmaker, runs[0], day1, [(pid, item())])
    await write(sessionmaker, runs[1], day2, [(pid, item())])
    await write(sessionmaker, runs[2], day3, [(pid, item(listing=renamed))])

    assert [(await stored(sessionmaker, run))[1] for run in runs] == [1, 0, 1]


async def test_a_page_written_by_two_transactions_at_once_is_stored_once(
    sessionmaker: Sessions,
) -> None:
    pids = await seed_tracked(sessionmaker, count=2)
    now = datetime.now(UTC)
    run = await make_run(sessionmaker, pids, now)

    async with sessionmaker() as first, first.begin():
        await SnapshotRepository(first).write_page(run, now, page_of(pids[:1]))
        # The second writer does not see the first's rows yet, and waits on their key.
        second = asyncio.create_task(write(sessionmaker, run, now, page_of(pids, "30.00")))
        await asyncio.sleep(1.0)
        assert not second.done()
    result = await asyncio.wait_for(second, 30)

    assert result.items == 2
    prices, versions = await stored(sessionmaker, run)
    assert prices == {pids[0]: Decimal("20.00"), pids[1]: Decimal("30.00")}
    assert versions == 2
