"""All SQL of the product module except the bulk snapshot writer (see ingest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.product.models import CrawlRun, Product, Snapshot, TrackedProduct


class ProductRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_or_create(self, marketplace: str, asin: str) -> Product:
        """The catalogue row of (marketplace, ASIN), created on first use, race-free."""
        await self.session.execute(
            insert(Product)
            .values(marketplace=marketplace, asin=asin)
            .on_conflict_do_nothing(index_elements=["marketplace", "asin"])
        )
        result = await self.session.execute(
            select(Product).where(Product.marketplace == marketplace, Product.asin == asin)
        )
        return result.scalar_one()

    async def get(self, product_id: int) -> Product | None:
        return await self.session.get(Product, product_id)

    async def identities(self, product_ids: Sequence[int]) -> list[tuple[int, str, str]]:
        rows = await self.session.execute(
            select(Product.id, Product.marketplace, Product.asin).where(Product.id.in_(product_ids))
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def latest_snapshot(self, product_id: int) -> Snapshot | None:
        result = await self.session.execute(
            select(Snapshot)
            .where(Snapshot.product_id == product_id)
            .order_by(Snapshot.captured_at.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def latest_good_snapshot(self, product_id: int) -> Snapshot | None:
        result = await self.session.execute(
            select(Snapshot)
            .where(Snapshot.product_id == product_id, Snapshot.status == "ok")
            .order_by(Snapshot.captured_at.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def snapshot_count(self, product_id: int) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).select_from(Snapshot).where(Snapshot.product_id == product_id)
            )
            or 0
        )


class TrackingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_for_user(self, user_id: uuid.UUID, product_id: int) -> TrackedProduct | None:
        result = await self.session.execute(
            select(TrackedProduct).where(
                TrackedProduct.user_id == user_id, TrackedProduct.product_id == product_id
            )
        )
        return result.scalar_one_or_none()

    async def get_by_id_for_user(
        self, user_id: uuid.UUID, tracking_id: uuid.UUID
    ) -> TrackedProduct | None:
        result = await self.session.execute(
            select(TrackedProduct).where(
                TrackedProduct.user_id == user_id, TrackedProduct.id == tracking_id
            )
        )
        return result.scalar_one_or_none()

    async def count_active_for_user(self, user_id: uuid.UUID) -> int:
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(TrackedProduct)
                .where(TrackedProduct.user_id == user_id, TrackedProduct.is_active.is_(True))
            )
            or 0
        )

    async def add(self, tracking: TrackedProduct) -> TrackedProduct:
        self.session.add(tracking)
        await self.session.flush()
        return tracking


# Products due for a crawl: tracked by someone, not fresh, not held by a batch, and past the
# slot of their most frequent tracking. Daily and weekly slots fall at the configured hour plus a
# per-product jitter, so a fleet of products does not hit Apify at the same second.
_DUE_SQL = """
WITH freq AS (
    SELECT product_id,
           min(CASE frequency WHEN 'hourly' THEN 1 WHEN 'daily' THEN 2 ELSE 3 END) AS f
    FROM tracked_products
    WHERE is_active
    GROUP BY product_id
), due AS (
    SELECT p.id, p.marketplace,
           CASE freq.f
               WHEN 1 THEN CAST(:now AS timestamptz) - interval '1 hour' + interval '5 minutes'
               ELSE date_trunc('day', CAST(:now AS timestamptz) - make_interval(
                        hours => :daily_hour, secs => (p.id * 7919) % :jitter_s))
                    + make_interval(hours => :daily_hour, secs => (p.id * 7919) % :jitter_s)
                    - CASE freq.f WHEN 3 THEN interval '6 days' ELSE interval '0' END
           END AS slot,
           p.last_crawled_at
    FROM products p JOIN freq ON freq.product_id = p.id
    WHERE (p.last_good_at IS NULL OR p.last_good_at < CAST(:fresh_before AS timestamptz))
      AND (p.crawl_pending_until IS NULL OR p.crawl_pending_until < CAST(:now AS timestamptz))
)
SELECT id FROM products
WHERE id IN (SELECT id FROM due WHERE last_crawled_at IS NULL OR last_crawled_at < slot)
ORDER BY marketplace, id
LIMIT :limit
FOR UPDATE SKIP LOCKED
"""


class CrawlRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def due_product_ids(
        self,
        now: datetime,
        fresh_before: datetime,
        daily_hour: int,
        jitter_s: int,
        limit: int,
    ) -> list[int]:
        """Lock and return the products due for a crawl (skipping rows another planner holds)."""
        rows = await self.session.execute(
            text(_DUE_SQL),
            {
                "now": now,
                "fresh_before": fresh_before,
                "daily_hour": daily_hour,
                "jitter_s": max(1, jitter_s),
                "limit": limit,
            },
        )
        return [r[0] for r in rows]

    async def hold(self, product_ids: Sequence[int], until: datetime) -> None:
        # One array parameter, not one parameter per id: a cycle holds 100 000 products.
        await self.session.execute(
            text("UPDATE products SET crawl_pending_until = :until WHERE id = ANY(:ids)"),
            {"until": until, "ids": list(product_ids)},
        )

    async def add_runs(self, runs: list[CrawlRun]) -> None:
        self.session.add_all(runs)
        await self.session.flush()

    async def get(self, run_id: uuid.UUID, for_update: bool = False) -> CrawlRun | None:
        stmt = select(CrawlRun).where(CrawlRun.id == run_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def update(self, run_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(**values))

    async def recent(self, limit: int) -> list[CrawlRun]:
        result = await self.session.execute(
            select(CrawlRun).order_by(CrawlRun.created_at.desc()).limit(limit)
        )
        return list(result.scalars())

    async def totals_since(self, since: datetime) -> tuple[int, int, int, int, int, Any]:
        """(runs, asins, items, failed, missing, cost) of the runs created since ``since``."""
        row = (
            await self.session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(CrawlRun.asin_count), 0),
                    func.coalesce(func.sum(CrawlRun.item_count), 0),
                    func.coalesce(func.sum(CrawlRun.failed_count), 0),
                    func.coalesce(func.sum(CrawlRun.missing_count), 0),
                    func.coalesce(func.sum(CrawlRun.cost_usd), 0),
                ).where(CrawlRun.created_at >= since)
            )
        ).one()
        return (int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]), row[5])
