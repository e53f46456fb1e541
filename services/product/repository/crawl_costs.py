"""What crawling costs: the crawl-run records summed per day and split per product."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Numeric, cast, func, select

from services.core.repository import Repository
from services.product.models import CrawlRun, Product


class CrawlCostRepository(Repository):
    """SQL over crawl_runs: costs grouped by UTC day and by product."""

    async def per_day(self, since: datetime) -> list[tuple[date, int, int, Decimal]]:
        day = cast(func.timezone("UTC", CrawlRun.created_at), Date)
        rows = await self.session.execute(
            select(
                day,
                func.count(),
                func.coalesce(func.sum(CrawlRun.asin_count), 0),
                func.coalesce(func.sum(CrawlRun.cost_usd), 0),
            )
            .where(CrawlRun.created_at >= since)
            .group_by(day)
            .order_by(day.desc())
        )
        return [(d, int(n), int(a), Decimal(c or 0)) for d, n, a, c in rows]

    async def per_product(
        self, since: datetime, limit: int
    ) -> list[tuple[int, str, str, int, Decimal]]:
        # A run's cost is shared evenly by the products it was asked to crawl.
        runs = (
            select(
                func.unnest(CrawlRun.product_ids).label("product_id"),
                (
                    cast(func.coalesce(CrawlRun.cost_usd, 0), Numeric(14, 6))
                    / func.greatest(func.cardinality(CrawlRun.product_ids), 1)
                ).label("share"),
            )
            .where(CrawlRun.created_at >= since)
            .subquery()
        )
        pid = cast(runs.c.product_id, BigInteger)
        cost = func.sum(runs.c.share)
        rows = await self.session.execute(
            select(Product.id, Product.marketplace, Product.asin, func.count(), cost)
            .join(runs, Product.id == pid)
            .group_by(Product.id)
            .order_by(cost.desc(), Product.id)
            .limit(limit)
        )
        return [(i, m, a, int(n), Decimal(c)) for i, m, a, n, c in rows]
