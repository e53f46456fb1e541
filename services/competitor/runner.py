"""Running one positioning report, step by step, from a job on the ``low`` queue.

Waiting for fresh data never holds a worker slot: a step that finds the batched crawl still
running re-enqueues the job with a delay and returns. The LLM is asked outside any transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from services.auth.service import AuthService
from services.competitor.comparison import Comparison
from services.competitor.jobs import CompetitorJob
from services.competitor.models import CompetitorReport
from services.competitor.prompts import POSITIONING_PROMPT
from services.competitor.report import rule_based_report
from services.competitor.repository import GroupRepository, ReportRepository
from services.competitor.schemas import MemberFreshness
from services.competitor.service import (
    CompetitorService,
    freshness,
    report_job_id,
)
from services.core.errors import NotFound
from services.core.jobs import Queue
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.llm import LlmResult, LlmService
from services.product.catalog import ProductCatalog

logger = logging.getLogger(__name__)

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


class ReportRunner:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        settings: Settings,
        redis: Redis,
        llm: LlmService,
    ) -> None:
        self.unit_of_work = unit_of_work
        self.settings = settings
        self.redis = redis
        self.llm = llm

    def _services(self, uow: UnitOfWork) -> CompetitorService:
        source = "simulator" if self.settings.apify.simulated else "apify"
        products = ProductCatalog(uow, source, ReadCache(self.redis, self.settings.cache.ttl_s))
        return CompetitorService(uow, products, self.settings)

    def _again(self, uow: UnitOfWork, report: CompetitorReport) -> None:
        report.steps += 1
        uow.jobs.enqueue(
            CompetitorJob.RUN_REPORT,
            queue=Queue.LOW,
            job_id=report_job_id(report.id, report.steps),
            defer_by_s=self.settings.competitor.fresh_data_poll_s,
            report_id=str(report.id),
        )

    async def run(self, report_id: uuid.UUID) -> dict[str, Any]:
        """Advance the report as far as it can go now; safe to run twice."""
        comparison = await self._prepare(report_id)
        if isinstance(comparison, str):
            return {"status": comparison}
        try:
            if self.llm.enabled:
                result: LlmResult[Any] | None = await self.llm.complete(
                    POSITIONING_PROMPT, comparison
                )
            else:
                result = None
        except Exception as exc:  # an unexpected bug must not leave the report "analysing"
            logger.exception("positioning report failed")
            return await self._finish(report_id, None, comparison, f"internal error: {exc}")
        return await self._finish(report_id, result, comparison, None)

    async def _prepare(self, report_id: uuid.UUID) -> Comparison | str:
        """Steps up to the comparison; returns it, or the status when there is nothing more to
        do in this job."""
        window_s = self.settings.competitor.freshness_window_s
        async with self.unit_of_work() as uow:
            reports = ReportRepository(uow.session)
            report = await reports.get(report_id, for_update=True)
            if report is None or report.status in ("done", "failed"):
                return report.status if report else "gone"
            try:
                user = await AuthService(uow.session, self.redis, self.settings.auth).get_user(
                    report.user_id
                )
            except NotFound:
                return "gone"
            group = await GroupRepository(uow.session).get_for_user(user.id, report.group_id)
            if group is None:
                return "gone"
            service = self._services(uow)
            rows, _ = await service.comparison_inputs(user, group)
            tracking_of = {asin: f.tracked_product_id for _, asin, f in rows if f is not None}
            now = datetime.now(UTC)
            if report.status == "queued":
                report.started_at = now
                fresh = freshness(rows, now, window_s)
                report.freshness = [f.model_dump(mode="json") for f in fresh]
                stale = [tracking_of[f.asin] for f in fresh if f.stale and f.asin in tracking_of]
                if stale:
                    refresh = await service.products.request_batch_refresh(
                        user, stale, self.settings, window_s
                    )
                    report.crawl_run_ids = refresh.crawl_run_ids
                    report.status = "refreshing_data"
                    self._again(uow, report)
                    return report.status
                report.status = "analysing"
            elif report.status == "refreshing_data":
                stale_asins = {f["asin"] for f in report.freshness or [] if f["stale"]}
                waiting = [
                    f for _, asin, f in rows if asin in stale_asins and f and f.crawl_pending
                ]
                # The bound is read from settings at each check, so an operator can shorten it.
                deadline = (report.started_at or now) + timedelta(
                    seconds=self.settings.competitor.fresh_data_wait_s
                )
                if waiting and now < deadline:
                    self._again(uow, report)
                    return report.status
                report.status = "analysing"
            comparison = service.compare_rows(group, rows)
            before = {
                f.asin: f for f in map(MemberFreshness.model_validate, report.freshness or [])
            }
            final = freshness(rows, now, window_s)
            for f in final:
                old = before.get(f.asin)
                was_stale = old is not None and old.stale
                f.refreshed = (
                    was_stale
                    and f.as_of is not None
                    and (old is None or old.as_of is None or f.as_of > old.as_of)
                )
                # Report what was stale when the report started, with the age it has now.
                f.stale = was_stale
            report.freshness = [f.model_dump(mode="json") for f in final]
            report.comparison = comparison.model_dump(mode="json")
        return comparison

    async def _finish(
        self,
        report_id: uuid.UUID,
        result: LlmResult[Any] | None,
        comparison: Comparison,
        error: str | None,
    ) -> dict[str, Any]:
        async with self.unit_of_work() as uow:
            report = await ReportRepository(uow.session).get(report_id, for_update=True)
            if report is None or report.status != "analysing":
                return {"status": report.status if report else "gone"}
            report.finished_at = datetime.now(UTC)
            if error is not None:
                report.status, report.failure_reason = "failed", error
            elif result is None:
                report.source = "rule_based"
                report.result = rule_based_report(comparison).model_dump(mode="json")
                report.status = "done"
            else:
                report.source = "llm"
                report.model = result.model
                report.prompt_version = result.prompt_version
                report.simulated = self.settings.openai.simulated
                report.from_cache = result.cached
                report.input_tokens = result.usage.input_tokens
                report.cached_input_tokens = result.usage.cached_input_tokens
                report.output_tokens = result.usage.output_tokens
                report.cost_usd = result.usage.cost_usd
                if result.ok and result.output is not None:
                    report.result = result.output.model_dump(mode="json")
                    report.status = "done"
                else:
                    report.status = "failed"
                    report.failure_reason = result.failure_reason
            return {
                "status": report.status,
                "source": report.source,
                "from_cache": report.from_cache,
            }
