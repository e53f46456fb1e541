"""On-demand refresh: one product crawled now on the critical queue, within the plan's limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import any_, literal, select

from services.auth.models import User
from services.core.errors import Throttled
from services.core.jobs import Queue
from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.product.crawl import REFRESH_BATCH_TASK, CrawlPlanner, crawl_job_id
from services.product.models import CrawlRun, CrawlRunStatus, Product
from services.product.schemas import RefreshAccepted


def _until_midnight(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))


class RefreshService:
    def __init__(self, uow: UnitOfWork, redis: Redis, settings: Settings) -> None:
        self.uow = uow
        self.redis = redis
        self.settings = settings

    async def _pending_run(self, product: Product, now: datetime) -> CrawlRun | None:
        if product.crawl_pending_until is None or product.crawl_pending_until < now:
            return None
        result = await self.uow.session.execute(
            select(CrawlRun)
            .where(
                literal(product.id) == any_(CrawlRun.product_ids),
                CrawlRun.status.in_([CrawlRunStatus.QUEUED.value, CrawlRunStatus.RUNNING.value]),
            )
            .order_by(CrawlRun.created_at.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def request(self, user: User, product: Product, force: bool) -> RefreshAccepted:
        """Fresh data answers at once (unless forced); a pending crawl is reused; else queue."""
        now = datetime.now(UTC)
        window = timedelta(seconds=self.settings.apify.freshness_window_s)
        if not force and product.last_good_at is not None and product.last_good_at > now - window:
            return RefreshAccepted(status="fresh", as_of=product.last_good_at)
        pending = await self._pending_run(product, now)
        if pending is not None:
            task = REFRESH_BATCH_TASK if pending.trigger == "refresh" else "product.crawl_batch"
            return RefreshAccepted(
                status="already_queued",
                job_id=crawl_job_id(pending.id, task),
                crawl_run_id=pending.id,
            )
        await self._count_against_plan(user, now)
        result = await CrawlPlanner(self.uow, self.settings).create_batches(
            [product.id], now, trigger="refresh", queue=Queue.CRITICAL
        )
        run_id = result.runs[0]
        return RefreshAccepted(
            status="queued", job_id=crawl_job_id(run_id, REFRESH_BATCH_TASK), crawl_run_id=run_id
        )

    async def _count_against_plan(self, user: User, now: datetime) -> None:
        key = f"refresh-count:{user.id}:{now.date().isoformat()}"
        try:
            used = int(await self.redis.incr(key))
            if used == 1:
                await self.redis.expire(key, 2 * 86_400)
        except RedisError:
            return  # without Redis the daily count cannot be kept; the crawl still runs
        if used > user.plan.refreshes_per_day:
            raise Throttled(
                f"Your plan allows {user.plan.refreshes_per_day} refreshes a day",
                code="refresh_limit_reached",
                headers={"Retry-After": str(_until_midnight(now))},
            )
