"""Planning crawl batches and running one batch: Apify run → pages → snapshots."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.core.jobs import Hook, Queue
from services.core.metrics import (
    CRAWL_COST,
    CRAWL_ITEMS,
    CRAWL_MISSING,
    CRAWL_RUN_DURATION,
    CRAWL_RUNS,
)
from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.product.apify.adapters import ActorAdapter, adapter_for
from services.product.apify.client import ApifyConnector, RunInfo
from services.product.apify.item import CrawlStatus, ParsedItem
from services.product.cache import ReadCache, state_key
from services.product.jobs import ProductJob, crawl_job_id
from services.product.marketplaces import Marketplace, product_url
from services.product.models import CrawlRun, CrawlRunStatus
from services.product.repository import (
    CrawlRunRepository,
    ProductRepository,
    SnapshotRepository,
)
from services.product.schemas import CrawlTrigger

logger = logging.getLogger(__name__)

__all__ = ["CrawlBatchRunner", "CrawlPlanner", "crawl_job_id"]

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
# (job name, queue) of each job hung on a hook by the task layer.
Followers = Sequence[tuple[str, Queue]]


def batch_job(trigger: str) -> tuple[ProductJob, Queue]:
    """The job (and its queue) that runs a batch: a seller's refresh goes first."""
    if trigger == CrawlTrigger.REFRESH:
        return ProductJob.REFRESH_BATCH, Queue.CRITICAL
    return ProductJob.CRAWL_BATCH, Queue.DEFAULT


@dataclass(frozen=True, slots=True)
class PlanResult:
    products: int
    runs: list[uuid.UUID]


class CrawlPlanner:
    """Groups due products into batches, one crawl run (and one job) per batch."""

    def __init__(self, uow: UnitOfWork, settings: Settings) -> None:
        self.uow = uow
        self.settings = settings
        self.runs = CrawlRunRepository(uow.session)

    async def plan(self, now: datetime | None = None, limit: int = 1_000_000) -> PlanResult:
        now = now or datetime.now(UTC)
        apify = self.settings.apify
        due = await self.runs.due_product_ids(
            now=now,
            fresh_before=now - timedelta(seconds=apify.freshness_window_s),
            daily_hour=self.settings.crawl.daily_hour_utc,
            jitter_s=self.settings.crawl.jitter_s,
            limit=limit,
        )
        return await self.create_batches(due, now, trigger=CrawlTrigger.SCHEDULE)

    async def create_batches(
        self, product_ids: list[int], now: datetime, trigger: CrawlTrigger
    ) -> PlanResult:
        """Hold the products, write one queued run per batch, ask for one job per run."""
        if not product_ids:
            return PlanResult(0, [])
        apify = self.settings.apify
        size = apify.batch_size
        # Held long enough for the run to finish; a batch that dies releases them by expiry.
        await self.runs.hold(product_ids, now + timedelta(seconds=apify.run_wait_s * 2 + 600))
        runs = [
            CrawlRun(
                id=uuid.uuid4(),
                actor=apify.actor,
                product_ids=product_ids[i : i + size],
                asin_count=len(product_ids[i : i + size]),
                status=CrawlRunStatus.QUEUED,
                trigger=trigger.value,
                captured_at=now,
            )
            for i in range(0, len(product_ids), size)
        ]
        await self.runs.add_runs(runs)
        task, queue = batch_job(trigger)
        for run in runs:
            self.uow.jobs.enqueue(
                task, queue=queue, job_id=crawl_job_id(run.id, task), run_id=str(run.id)
            )
        logger.info(
            "crawl planned",
            extra={"products": len(product_ids), "runs": len(runs), "trigger": trigger.value},
        )
        return PlanResult(len(product_ids), [r.id for r in runs])


class ProductLookup:
    """Maps an item back to the batch's product: by (marketplace, ASIN), else by ASIN alone
    (an actor that reports no storefront URL still names the ASIN)."""

    def __init__(self, identities: list[tuple[int, str, str]]) -> None:
        self.by_key = {(m, asin): pid for pid, m, asin in identities}
        self.by_asin = {asin: pid for pid, _, asin in identities}

    def find(self, item: ParsedItem) -> int | None:
        if item.marketplace is not None:
            found = self.by_key.get((item.marketplace.value, item.asin))
            if found is not None:
                return found
        return self.by_asin.get(item.asin)


@dataclass(frozen=True, slots=True)
class BatchResult:
    run_id: str
    status: str
    items: int
    ok: int
    failed: int
    missing: int
    skipped: bool = False

    def as_dict(self) -> dict[str, str | int | bool]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "items": self.items,
            "ok": self.ok,
            "failed": self.failed,
            "missing": self.missing,
            "skipped": self.skipped,
        }


class CrawlBatchRunner:
    """Runs one planned batch to the end; safe to run again after any interruption."""

    def __init__(
        self,
        new_uow: UnitOfWorkFactory,
        apify: ApifyConnector,
        settings: Settings,
        cache: ReadCache | None = None,
        after_ingest: Followers = (),
    ):
        self.new_uow = new_uow
        self.apify = apify
        self.settings = settings
        self.cache = cache
        # Jobs asked for with the run id once a batch is written (change detection, cache).
        self.after_ingest = after_ingest

    async def run(self, run_id: uuid.UUID) -> BatchResult:
        started = time.perf_counter()
        async with self.new_uow() as uow:
            runs = CrawlRunRepository(uow.session)
            run = await runs.get(run_id, for_update=True)
            if run is None:
                raise ValueError(f"crawl run {run_id} does not exist")
            if run.status in (CrawlRunStatus.SUCCEEDED, CrawlRunStatus.FAILED):
                return BatchResult(
                    str(run_id),
                    run.status,
                    run.item_count,
                    run.ok_count,
                    run.failed_count,
                    run.missing_count,
                    skipped=True,
                )
            identities = await ProductRepository(uow.session).identities(run.product_ids)
            adapter = adapter_for(run.actor)
            if run.apify_run_id is None:
                # Started and recorded in one step: a retry resumes this run instead of paying
                # for a second one.
                urls = [product_url(Marketplace(m), asin) for _, m, asin in identities]
                info = await self.apify.start_run(
                    run.actor,
                    adapter.build_input(urls),
                    max_items=min(self.settings.apify.max_items_per_run, len(urls) * 2),
                )
                await runs.update(
                    run_id,
                    apify_run_id=info.run_id,
                    dataset_id=info.dataset_id,
                    status=CrawlRunStatus.RUNNING,
                    started_at=datetime.now(UTC),
                )
                apify_run_id = info.run_id
            else:
                apify_run_id = run.apify_run_id
            captured_at, actor, product_ids = run.captured_at, run.actor, list(run.product_ids)
            start_offset = run.pages_ingested * self.settings.apify.page_size

        info = await self.apify.wait(apify_run_id, self.settings.apify.run_wait_s)
        lookup = ProductLookup(identities)
        async for offset, page in self.apify.pages(info.dataset_id, start_offset):
            await self._ingest_page(run_id, captured_at, actor, adapter, lookup, page, offset)

        return await self._finish(
            run_id, info, actor, captured_at, product_ids, time.perf_counter() - started
        )

    async def _ingest_page(
        self,
        run_id: uuid.UUID,
        captured_at: datetime,
        actor: str,
        adapter: ActorAdapter,
        lookup: ProductLookup,
        page: list[dict[str, object]],
        offset: int,
    ) -> None:
        parsed: list[tuple[int, ParsedItem]] = []
        unattributed = 0
        for raw in page:
            try:
                item = adapter.parse(raw)
            except Exception:  # one malformed item must not sink the page (the job would fail)
                logger.warning(
                    "item could not be parsed", extra={"run_id": str(run_id)}, exc_info=True
                )
                item = None
            pid = lookup.find(item) if item is not None else None
            if item is None or pid is None:
                unattributed += 1
                continue
            parsed.append((pid, item))
            CRAWL_ITEMS.labels(actor, item.status.value).inc()
        async with self.new_uow() as uow:
            result = await SnapshotRepository(uow.session).write_page(run_id, captured_at, parsed)
            await CrawlRunRepository(uow.session).update(
                run_id, pages_ingested=offset // self.settings.apify.page_size + 1
            )
        if self.cache is not None:
            # Readers must not see the state from before this page; the after-ingest job
            # writes the new one back.
            await self.cache.delete(*(state_key(pid) for pid in result.product_ids))
        if unattributed:
            logger.warning(
                "items without a known product",
                extra={"run_id": str(run_id), "count": unattributed},
            )
        logger.info(
            "crawl page ingested",
            extra={"run_id": str(run_id), "offset": offset, "items": result.items, "ok": result.ok},
        )

    async def _finish(
        self,
        run_id: uuid.UUID,
        info: RunInfo,
        actor: str,
        captured_at: datetime,
        product_ids: list[int],
        duration_s: float,
    ) -> BatchResult:
        async with self.new_uow() as uow:
            snapshots = SnapshotRepository(uow.session)
            seen = await snapshots.ingested_product_ids(run_id, captured_at, product_ids)
            missing = [pid for pid in product_ids if pid not in seen]
            given_up = await self._record_missing(snapshots, run_id, captured_at, missing)
            counts = await snapshots.status_counts(run_id, captured_at, product_ids)
            ok = counts.get("ok", 0)
            status = (
                CrawlRunStatus.SUCCEEDED if info.status == "SUCCEEDED" else CrawlRunStatus.FAILED
            )
            await CrawlRunRepository(uow.session).update(
                run_id,
                status=status,
                finished_at=datetime.now(UTC),
                item_count=len(seen),
                ok_count=ok,
                failed_count=len(seen) - ok,
                missing_count=len(missing),
                duration_s=round(duration_s, 3),
                cost_usd=info.cost_usd,
                error=None
                if status is CrawlRunStatus.SUCCEEDED
                else f"actor run ended {info.status}: {info.status_message or ''}".strip(),
            )
            uow.jobs.announce(
                Hook.CRAWL_RUN_FINISHED, self.after_ingest, str(run_id), run_id=str(run_id)
            )
        CRAWL_RUNS.labels(actor, status.value).inc()
        CRAWL_MISSING.labels(actor).inc(len(missing))
        CRAWL_RUN_DURATION.labels(actor).observe(duration_s)
        if info.cost_usd is not None:
            CRAWL_COST.labels(actor).inc(float(info.cost_usd))
        logger.info(
            "crawl batch finished",
            extra={
                "run_id": str(run_id),
                "status": status.value,
                "items": len(seen),
                "ok": ok,
                "missing": len(missing),
                "given_up": len(given_up),
                "duration_s": round(duration_s, 3),
            },
        )
        return BatchResult(str(run_id), status.value, len(seen), ok, len(seen) - ok, len(missing))

    async def _record_missing(
        self,
        snapshots: SnapshotRepository,
        run_id: uuid.UUID,
        captured_at: datetime,
        product_ids: Sequence[int],
    ) -> list[int]:
        """Release products absent from a run for a later batch; after too many misses record an
        error snapshot instead. Returns the ids that were given up on this time."""
        give_up_after = self.settings.apify.max_missing_attempts
        counts = await ProductRepository(snapshots.session).count_missing(product_ids)
        given_up = [pid for pid, misses in counts if misses >= give_up_after]
        if given_up:
            error = ParsedItem(
                asin="",
                marketplace=None,
                status=CrawlStatus.ERROR,
                error=f"missing from the actor's results {give_up_after} times in a row",
            )
            await snapshots.write_page(run_id, captured_at, [(pid, error) for pid in given_up])
        return given_up
