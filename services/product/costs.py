"""What crawling costs: the crawl-run records listed with their totals, summed per day and split
per product."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.product.repository import CrawlCostRepository, CrawlRunRepository
from services.product.schemas import (
    CrawlCostBreakdown,
    CrawlCostDay,
    CrawlCostProduct,
    CrawlCostSummary,
    CrawlRunRead,
)

_CENT = Decimal("0.0001")


class CrawlCostService:
    """The product module's public answer to "what does crawling cost?"."""

    def __init__(self, session: AsyncSession) -> None:
        self.repository = CrawlCostRepository(session)
        self.runs = CrawlRunRepository(session)

    async def summary(self, days: int, limit: int) -> CrawlCostSummary:
        """Actor runs of the last ``days`` with their totals: what crawling costs."""
        totals = await self.runs.totals_since(datetime.now(UTC) - timedelta(days=days))
        return CrawlCostSummary(
            runs=totals.runs,
            asins=totals.asins,
            items=totals.items,
            failed=totals.failed,
            missing=totals.missing,
            cost_usd=totals.cost_usd,
            runs_list=[CrawlRunRead.model_validate(r) for r in await self.runs.recent(limit)],
        )

    async def breakdown(self, days: int, top_products: int = 100) -> CrawlCostBreakdown:
        """Cost per UTC day and per product over the last days, with a 30-day projection."""
        since = datetime.now(UTC) - timedelta(days=days)
        per_day = await self.repository.per_day(since)
        per_product = await self.repository.per_product(since, top_products)
        total = sum((c for *_, c in per_day), Decimal(0))
        return CrawlCostBreakdown(
            days=days,
            runs=sum(n for _, n, _, _ in per_day),
            total_cost_usd=total.quantize(_CENT),
            per_day=[
                CrawlCostDay(day=d, runs=n, asins=a, cost_usd=c.quantize(_CENT))
                for d, n, a, c in per_day
            ],
            per_product=[
                CrawlCostProduct(
                    product_id=i,
                    marketplace=m,
                    asin=a,
                    runs=n,
                    cost_usd=c.quantize(_CENT),
                    cost_per_month_usd=(c * 30 / days).quantize(_CENT),
                )
                for i, m, a, n, c in per_product
            ],
        )
