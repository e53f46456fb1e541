"""On-demand refresh: one product crawled now on the critical queue, within the plan's limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.auth.service import AccountService
from services.core.errors import Throttled
from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.product.crawl import CrawlPlanner, batch_job
from services.product.jobs import ProductJob, crawl_job_id
from services.product.models import Product
from services.product.repository import CrawlRunRepository
from services.product.schemas import CrawlTrigger, RefreshAccepted, RefreshOutcome, Seller


def _until_midnight(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))


class RefreshService:
    def __init__(self, uow: UnitOfWork, redis: Redis | None, settings: Settings) -> None:
        self.uow = uow
        self.redis = redis
        self.settings = settings
        self.runs = CrawlRunRepository(uow.session)

    async def request(self, user: Seller, product: Product, force: bool) -> RefreshAccepted:
        """Fresh data answers at once (unless forced); a pending crawl is reused; else queue."""
        now = datetime.now(UTC)
        window = timedelta(seconds=self.settings.apify.freshness_window_s)
        if not force and product.last_good_at is not None and product.last_good_at > now - window:
            return RefreshAccepted(status=RefreshOutcome.FRESH, as_of=product.last_good_at)
        pending = None
        if product.crawl_pending_until is not None and product.crawl_pending_until >= now:
            pending = await self.runs.open_run_for_product(product.id)
        if pending is not None:
            task, _ = batch_job(pending.trigger)
            return RefreshAccepted(
                status=RefreshOutcome.ALREADY_QUEUED,
                job_id=crawl_job_id(pending.id, task),
                crawl_run_id=pending.id,
            )
        await self._count_against_plan(user, now)
        result = await CrawlPlanner(self.uow, self.settings).create_batches(
            [product.id], now, trigger=CrawlTrigger.REFRESH
        )
        run_id = result.runs[0]
        return RefreshAccepted(
            status=RefreshOutcome.QUEUED,
            job_id=crawl_job_id(run_id, ProductJob.REFRESH_BATCH),
            crawl_run_id=run_id,
        )

    async def _count_against_plan(self, user: Seller, now: datetime) -> None:
        if self.redis is None:
            return
        key = f"refresh-count:{user.id}:{now.date().isoformat()}"
        try:
            used = int(await self.redis.incr(key))
            if used == 1:
                await self.redis.expire(key, 2 * 86_400)
        except RedisError:
            return  # without Redis the daily count cannot be kept; the crawl still runs
        allowed = (await AccountService(self.uow.session).limits(user.id)).refreshes_per_day
        if used > allowed:
            raise Throttled(
                f"Your plan allows {allowed} refreshes a day",
                code="refresh_limit_reached",
                headers={"Retry-After": str(_until_midnight(now))},
            )
