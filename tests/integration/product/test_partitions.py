"""Snapshot partitions: created ahead, stray default rows rescued, old months dropped."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.product.repository.partitions import PartitionManager, partition_name

pytestmark = pytest.mark.asyncio


async def _partitions(session: AsyncSession) -> list[str]:
    return await PartitionManager(session).existing()


async def test_partitions_are_created_ahead_and_rows_rescued_from_default(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    far = date(2031, 5, 1)
    async with sessionmaker() as session, session.begin():
        # A row for a month without partition falls into the default partition.
        await session.execute(
            text(
                "INSERT INTO snapshots (product_id, crawl_run_id, captured_at, status) "
                "VALUES (1, :run, '2031-05-15T10:00:00Z', 'ok')"
            ),
            {"run": uuid.uuid4()},
        )
        report = await PartitionManager(session).ensure_ahead(far, months_ahead=2)
    assert report.created == [partition_name(date(2031, m, 1)) for m in (5, 6, 7)]
    assert report.moved_rows == 1
    async with sessionmaker() as session:
        in_default = await session.scalar(text("SELECT count(*) FROM snapshots_default"))
        in_may = await session.scalar(text('SELECT count(*) FROM "snapshots_p2031_05"'))
        assert (in_default, in_may) == (0, 1)
        # Running again creates nothing.
        assert (await PartitionManager(session).ensure_ahead(far, months_ahead=2)).created == []
        await session.rollback()
    async with sessionmaker() as session, session.begin():
        for name in report.created:
            await session.execute(text(f'DROP TABLE "{name}"'))


async def test_retention_drops_whole_months_past_the_window(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        await PartitionManager(session).ensure_ahead(date(2020, 1, 1), months_ahead=1)
        dropped = await PartitionManager(session).drop_older_than(
            retention_days=30, now=datetime(2020, 3, 5, tzinfo=UTC)
        )
        names = await _partitions(session)
    assert dropped == ["snapshots_p2020_01"]  # February still has days inside the window
    assert "snapshots_p2020_02" in names
    async with sessionmaker() as session, session.begin():
        await session.execute(text('DROP TABLE "snapshots_p2020_02"'))


async def test_latest_snapshot_query_uses_the_product_index(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        await session.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in await session.execute(
                text(
                    "EXPLAIN SELECT * FROM snapshots WHERE product_id = 42 "
                    "ORDER BY captured_at DESC LIMIT 1"
                )
            )
        )
    assert "ix_snapshots_product_id_captured_at" in plan or "snapshots_p" in plan
    assert "Index" in plan
