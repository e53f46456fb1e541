"""Crawl runs: planning (which products are due), holding, recording and reporting runs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text, update

from services.core.repository import Repository
from services.product.models import CrawlRun, CrawlRunStatus

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


_NEVER_CRAWLED_SQL = """
SELECT p.id FROM products p
WHERE p.last_crawled_at IS NULL
  AND (p.crawl_pending_until IS NULL OR p.crawl_pending_until < CAST(:now AS timestamptz))
  AND EXISTS (SELECT 1 FROM tracked_products t WHERE t.product_id = p.id AND t.is_active)
ORDER BY p.marketplace, p.id
LIMIT :limit
FOR UPDATE OF p SKIP LOCKED
"""


@dataclass(frozen=True, slots=True)
class CrawlTotals:
    runs: int
    asins: int
    items: int
    failed: int
    missing: int
    cost_usd: Decimal


# A run still owes its job while it is queued or running.
OPEN_STATUSES = (CrawlRunStatus.QUEUED, CrawlRunStatus.RUNNING)


def _after(seconds: float) -> ColumnElement[datetime]:
    """The database's now() plus ``seconds``."""
    return func.now() + func.make_interval(0, 0, 0, 0, 0, 0, float(seconds))


class CrawlRunRepository(Repository):
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

    async def never_crawled_product_ids(self, now: datetime, limit: int) -> list[int]:
        """Lock and return tracked products never crawled and not held by a batch."""
        rows = await self.session.execute(text(_NEVER_CRAWLED_SQL), {"now": now, "limit": limit})
        return [r[0] for r in rows]

    async def hold(self, product_ids: Sequence[int], until: datetime) -> None:
        # One array parameter, not one parameter per id: a cycle holds 100 000 products.
        await self.session.execute(
            text("UPDATE products SET crawl_pending_until = :until WHERE id = ANY(:ids)"),
            {"until": until, "ids": list(product_ids)},
        )

    async def add_runs(self, runs: list[CrawlRun]) -> None:
        await self._flush_new(*runs)

    async def get(self, run_id: uuid.UUID, for_update: bool = False) -> CrawlRun | None:
        stmt = select(CrawlRun).where(CrawlRun.id == run_id)
        if for_update:
            stmt = stmt.with_for_update()
        return await self._one_or_none(stmt)

    async def update(self, run_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(**values))

    async def claim(self, run_id: uuid.UUID, token: str, lease_s: float) -> bool:
        """Take (or keep) the batch's lease for job ``token``: free, already ours, or lapsed.
        The database's clock decides, so workers' clocks need not agree."""
        claimed = await self.session.execute(
            update(CrawlRun)
            .where(
                CrawlRun.id == run_id,
                CrawlRun.status.in_(OPEN_STATUSES),
                or_(
                    CrawlRun.leased_until.is_(None),
                    CrawlRun.lease_token == token,
                    CrawlRun.leased_until < func.now(),
                ),
            )
            .values(lease_token=token, leased_until=_after(lease_s))
            .returning(CrawlRun.id)
        )
        return claimed.first() is not None

    async def renew(self, run_id: uuid.UUID, token: str, lease_s: float) -> bool:
        """Extend the lease if ``token`` still holds it; False once another job took it."""
        renewed = await self.session.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id, CrawlRun.lease_token == token)
            .values(leased_until=_after(lease_s))
            .returning(CrawlRun.id)
        )
        return renewed.first() is not None

    async def hand_over(
        self, run_id: uuid.UUID, token: str, job_prefix: str, lease_s: float
    ) -> str | None:
        """Pass the lease from job ``token`` to the batch's next job, whose id is numbered by
        the run's step counter (so it is new to ARQ); None if ``token`` no longer holds it."""
        row = (
            await self.session.execute(
                update(CrawlRun)
                .where(CrawlRun.id == run_id, CrawlRun.lease_token == token)
                .values(
                    steps=CrawlRun.steps + 1,
                    lease_token=func.concat(job_prefix, ":", CrawlRun.steps + 1),
                    leased_until=_after(lease_s),
                )
                .returning(CrawlRun.lease_token)
            )
        ).first()
        return None if row is None else str(row[0])

    async def lapsed_leases(self, limit: int, never_leased_before: datetime) -> list[CrawlRun]:
        """Lock (skipping rows another pass holds) the open runs whose lease lapsed, and those
        that never had one and were created before ``never_leased_before`` (their first job
        was lost or failed for good before it took the batch)."""
        return await self._all(
            select(CrawlRun)
            .where(
                CrawlRun.status.in_(OPEN_STATUSES),
                or_(
                    CrawlRun.leased_until < func.now(),
                    and_(
                        CrawlRun.leased_until.is_(None),
                        CrawlRun.created_at < never_leased_before,
                    ),
                ),
            )
            .order_by(CrawlRun.leased_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

    async def claimed_apify_run_ids(self, run_ids: Sequence[str]) -> set[str]:
        """Which of these Apify runs some crawl run already recorded."""
        if not run_ids:
            return set()
        rows = await self.session.execute(
            select(CrawlRun.apify_run_id).where(CrawlRun.apify_run_id.in_(list(run_ids)))
        )
        return {r[0] for r in rows if r[0] is not None}

    async def open_run_for_product(self, product_id: int) -> CrawlRun | None:
        """The newest queued or running run whose batch holds this product."""
        return await self._one_or_none(
            select(CrawlRun)
            .where(
                CrawlRun.product_ids.contains([product_id]),
                CrawlRun.status.in_(OPEN_STATUSES),
            )
            .order_by(CrawlRun.created_at.desc())
            .limit(1)
        )

    async def recent(self, limit: int) -> list[CrawlRun]:
        return await self._all(select(CrawlRun).order_by(CrawlRun.created_at.desc()).limit(limit))

    async def totals_since(self, since: datetime) -> CrawlTotals:
        """Sums over the runs created since ``since``."""
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
        return CrawlTotals(
            int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]), Decimal(row[5] or 0)
        )
