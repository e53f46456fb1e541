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
from services.product.repository import PageResult, SnapshotRepository, listing_hash
from tests.factories import item, make_run, seed_tracked
from tests.integration.conftest import counted

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


async def hash_state(
    sessionmaker: Sessions, pids: list[int]
) -> dict[int, tuple[str | None, datetime | None]]:
    """(newest listing hash, its capture time) each product row keeps."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Product.id, Product.listing_hash, Product.listing_hash_at).where(
                Product.id.in_(pids)
            )
        )
        return {r[0]: (r[1], r[2]) for r in rows}


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


async def test_the_product_keeps_the_hash_of_its_newest_listing_version(
    sessionmaker: Sessions,
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    day1 = datetime.now(UTC) - timedelta(days=3)
    day2, day3 = day1 + timedelta(days=1), day1 + timedelta(days=2)
    runs = [await make_run(sessionmaker, [pid], day) for day in (day1, day2, day3)]
    renamed = ListingContent(title="Earbuds Pro", brand="B", bullets=("a",), images=("1.jpg",))
    original = item().listing
    assert original is not None

    await write(sessionmaker, runs[0], day1, [(pid, item())])
    assert await hash_state(sessionmaker, [pid]) == {pid: (listing_hash(original), day1)}
    # Unchanged: no version, so the hash stays the one captured on day 1.
    await write(sessionmaker, runs[1], day2, [(pid, item())])
    assert await hash_state(sessionmaker, [pid]) == {pid: (listing_hash(original), day1)}
    # A failed page versions nothing and moves nothing.
    blocked = item(status=CrawlStatus.BLOCKED, price=None, listing=None)
    await write(sessionmaker, runs[2], day3, [(pid, blocked)])
    assert await hash_state(sessionmaker, [pid]) == {pid: (listing_hash(original), day1)}

    day4 = day1 + timedelta(days=3)
    run4 = await make_run(sessionmaker, [pid], day4)
    await write(sessionmaker, run4, day4, [(pid, item(listing=renamed))])
    assert await hash_state(sessionmaker, [pid]) == {pid: (listing_hash(renamed), day4)}


async def test_a_late_page_of_an_older_crawl_is_compared_with_its_own_time_and_moves_no_hash(
    sessionmaker: Sessions,
) -> None:
    pids = await seed_tracked(sessionmaker, count=2)
    day1 = datetime.now(UTC) - timedelta(days=4)
    day2, day3, day4 = (day1 + timedelta(days=n) for n in (1, 2, 3))
    runs = {day: await make_run(sessionmaker, pids, day) for day in (day1, day2, day3, day4)}
    renamed = ListingContent(title="Earbuds Pro", brand="B", bullets=("a",), images=("1.jpg",))
    other = ListingContent(title="Earbuds Max", brand="B", bullets=("b",), images=("2.jpg",))
    first, second = pids

    await write(sessionmaker, runs[day1], day1, [(first, item()), (second, item())])
    await write(
        sessionmaker,
        runs[day3],
        day3,
        [(first, item(listing=renamed)), (second, item(listing=renamed))],
    )
    # Day 2's page arrives last: the first product's listing is day 1's (no change then), the
    # second one's differs from day 1's.
    await write(sessionmaker, runs[day2], day2, [(first, item()), (second, item(listing=other))])

    assert (await stored(sessionmaker, runs[day2]))[1] == 1
    assert await hash_state(sessionmaker, pids) == {
        first: (listing_hash(renamed), day3),
        second: (listing_hash(renamed), day3),
    }
    # Day 4 is compared with day 3's listing, still the newest.
    await write(
        sessionmaker,
        runs[day4],
        day4,
        [(first, item(listing=renamed)), (second, item(listing=renamed))],
    )
    assert (await stored(sessionmaker, runs[day4]))[1] == 0


async def test_a_guarded_write_moves_the_hash_of_the_versions_it_stored(
    sessionmaker: Sessions,
) -> None:
    pids = await seed_tracked(sessionmaker, count=2)
    now = datetime.now(UTC)
    earlier = now - timedelta(days=1)
    old_run = await make_run(sessionmaker, pids, earlier)
    await write(sessionmaker, old_run, earlier, page_of(pids))
    run = await make_run(sessionmaker, pids, now)
    renamed = ListingContent(title="Earbuds Pro", brand="B", bullets=("a",), images=("1.jpg",))
    page = [(pid, item(f"B00000000{n}", listing=renamed)) for n, pid in enumerate(pids, start=1)]

    async with sessionmaker() as first, first.begin():
        await SnapshotRepository(first).write_page(run, now, page[:1])
        # The second writer's COPY waits on the first's key, fails, and takes the guarded path.
        second = asyncio.create_task(write(sessionmaker, run, now, page))
        await asyncio.sleep(1.0)
        assert not second.done()
    await asyncio.wait_for(second, 30)

    assert (await stored(sessionmaker, run))[1] == 2
    assert await hash_state(sessionmaker, pids) == dict.fromkeys(pids, (listing_hash(renamed), now))


async def test_only_products_crawled_up_to_this_capture_are_looked_up_for_stored_rows(
    sessionmaker: Sessions,
) -> None:
    pids = await seed_tracked(sessionmaker, count=3)
    now = datetime.now(UTC)
    run = await make_run(sessionmaker, pids, now)

    with counted() as first:
        await write(sessionmaker, run, now, page_of(pids))
    with counted() as again:
        await write(sessionmaker, run, now, page_of(pids, price="25.00"))

    def lookups(statements: list[str]) -> list[str]:
        return [s for s in statements if "FROM snapshots" in s]

    # No product had reached this capture: nothing to look for.
    assert lookups(first) == []
    # The page again: its products are looked up and left out, not caught by the key.
    assert len(lookups(again)) == 1
    assert not any("TEMP TABLE" in s for s in again)
    prices, versions = await stored(sessionmaker, run)
    assert prices == dict.fromkeys(pids, Decimal("20.00"))
    assert versions == 3
