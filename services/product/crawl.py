"""Planning crawl batches and running one batch: Apify run → pages → snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.core.jobs import Hook, Queue
from services.core.metrics import (
    CRAWL_COST,
    CRAWL_ITEMS,
    CRAWL_MISSING,
    CRAWL_RUN_DURATION,
    CRAWL_RUNS,
)
from services.core.outage import is_transient
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.product.apify.adapters import ActorAdapter, adapter_for
from services.product.apify.client import ApifyConnector, RunInfo
from services.product.apify.item import CrawlStatus, ParsedItem
from services.product.cache import state_key
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

__all__ = [
    "CrawlBatchRunner",
    "CrawlPlanner",
    "crawl_job_id",
    "parse_page",
    "resend_stalled_batches",
]

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
# (job name, queue) of each job hung on a hook by the task layer.
Followers = Sequence[tuple[str, Queue]]


def batch_job(trigger: str) -> tuple[ProductJob, Queue]:
    """The job (and its queue) that runs a batch: a seller's refresh goes first."""
    if trigger in (CrawlTrigger.REFRESH, CrawlTrigger.FIRST):
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

    async def plan_first(self, now: datetime | None = None, limit: int = 1_000) -> PlanResult:
        """Batch the tracked products that were never crawled, ahead of the next cycle."""
        now = now or datetime.now(UTC)
        never = await self.runs.never_crawled_product_ids(now, limit)
        return await self.create_batches(never, now, trigger=CrawlTrigger.FIRST)

    async def create_batches(
        self, product_ids: list[int], now: datetime, trigger: CrawlTrigger
    ) -> PlanResult:
        """Hold the products, write one queued run per batch, ask for one job per run."""
        if not product_ids:
            return PlanResult(0, [])
        apify = self.settings.apify
        size = apify.batch_size
        # Held for the batch's whole deadline; a batch that dies releases them by expiry.
        await self.runs.hold(product_ids, now + timedelta(seconds=self.settings.crawl.hold_s))
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
            # A StrEnum member hashes and compares as its value: no ``.value`` (a Python-level
            # descriptor) per item.
            found = self.by_key.get((item.marketplace, item.asin))
            if found is not None:
                return found
        return self.by_asin.get(item.asin)


def parse_page(
    adapter: ActorAdapter,
    lookup: ProductLookup,
    page: Sequence[Any],
    actor: str,
    run_id: uuid.UUID,
) -> tuple[list[tuple[int, ParsedItem]], int]:
    """(product id, item) of each item of a dataset page that names a product of the batch, and
    how many items did not; counts the items read per status."""
    parsed: list[tuple[int, ParsedItem]] = []
    unattributed = 0
    for raw in page:
        try:
            item = adapter.parse(raw)
        except Exception:  # one malformed item must not sink the page (the job would fail)
            logger.warning("item could not be parsed", extra={"run_id": str(run_id)}, exc_info=True)
            item = None
        pid = lookup.find(item) if item is not None else None
        if item is None or pid is None:
            unattributed += 1
            continue
        parsed.append((pid, item))
    # Once per status and page: a labelled counter costs a lookup and a lock each time.
    for status, count in Counter(item.status for _, item in parsed).items():
        CRAWL_ITEMS.labels(actor, status.value).inc(count)
    return parsed, unattributed


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


# How far before the recorded intent an Apify run may have started (clocks disagree a little).
START_LOOKUP_SLACK = timedelta(minutes=5)


class LeaseLost(Exception):
    """Another job took the batch's lease: this one stops where it is."""


@dataclass
class Lease:
    lost: bool = False
    renewer: asyncio.Task[None] | None = None

    def check(self) -> None:
        if self.lost:
            raise LeaseLost

    def stop(self) -> None:
        """Stop renewing (the lease is about to be handed over)."""
        if self.renewer is not None:
            self.renewer.cancel()


@dataclass
class _Batch:
    """What a step needs of its crawl run, read once in a short transaction."""

    run_id: uuid.UUID
    actor: str
    trigger: str
    captured_at: datetime
    product_ids: list[int]
    apify_run_id: str | None
    started_at: datetime | None
    start_offset: int


def _done(run: CrawlRun, skipped: bool) -> BatchResult:
    return BatchResult(
        str(run.id),
        run.status,
        run.item_count,
        run.ok_count,
        run.failed_count,
        run.missing_count,
        skipped=skipped,
    )


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

    async def run(self, run_id: uuid.UUID, job_id: str | None = None) -> BatchResult:
        """One step of the batch: start (or find) its Apify run, then either ingest the ended
        run or, while it still runs, hand the batch to a later job and free this worker slot.

        No transaction is open and no row is locked during any Apify call: each database step
        is its own short unit of work, and the batch is held by a lease instead.
        """
        started = time.perf_counter()
        crawl = self.settings.crawl
        # The lease token is the job's own id, so a retry of the same job keeps its lease.
        token = job_id or f"direct:{uuid.uuid4()}"
        async with self.new_uow() as uow:
            runs = CrawlRunRepository(uow.session)
            run = await runs.get(run_id)
            if run is None:
                raise ValueError(f"crawl run {run_id} does not exist")
            if run.status in (CrawlRunStatus.SUCCEEDED, CrawlRunStatus.FAILED):
                # A retry after the commit that ended the run: Redis may have refused the
                # follow-up jobs right after it. Their ids are per run (and the followers safe to
                # run twice), so asking again costs nothing when they did get through.
                uow.jobs.announce(
                    Hook.CRAWL_RUN_FINISHED, self.after_ingest, str(run_id), run_id=str(run_id)
                )
                return _done(run, skipped=True)
            if not await runs.claim(run_id, token, crawl.lease_s):
                logger.info(
                    "crawl batch held by another job", extra={"run_id": str(run_id), "job": token}
                )
                return _done(run, skipped=True)
            identities = await ProductRepository(uow.session).identities(run.product_ids)
            intent_before = run.start_requested_at
            if run.apify_run_id is None and intent_before is None:
                age = (datetime.now(UTC) - run.created_at).total_seconds()
                if age > crawl.start_within_s:
                    return await self._expire(uow, run)
                # Committed before Apify is asked: a job killed around the start finds the run
                # by this intent afterwards instead of starting (and paying for) another.
                await runs.update(run_id, start_requested_at=datetime.now(UTC))
            batch = _Batch(
                run_id=run_id,
                actor=run.actor,
                trigger=run.trigger,
                captured_at=run.captured_at,
                product_ids=list(run.product_ids),
                apify_run_id=run.apify_run_id,
                started_at=run.started_at,
                start_offset=run.pages_ingested * self.settings.apify.page_size,
            )

        adapter = adapter_for(batch.actor)
        try:
            async with self._leased(run_id, token) as lease:
                apify_run_id = await self._started_run(batch, adapter, identities, intent_before)
                info = await self.apify.check(apify_run_id, crawl.poll_wait_s)
                if not info.finished:
                    deadline = (batch.started_at or datetime.now(UTC)) + timedelta(
                        seconds=crawl.apify_run_timeout_s + crawl.poll_interval_s
                    )
                    if datetime.now(UTC) < deadline:
                        lease.stop()
                        return await self._come_back_later(batch, token)
                    # Apify should have timed it out by now: stop the bill, keep what it pushed.
                    info = await self.apify.abort(info.run_id)
                lookup = ProductLookup(identities)
                pages = self.apify.pages(info.dataset_id, batch.start_offset, adapter.decode_page)
                async for offset, page in pages:
                    lease.check()
                    await self._ingest_page(
                        run_id, batch.captured_at, batch.actor, adapter, lookup, page, offset
                    )
                lease.check()
        except LeaseLost:
            logger.warning("crawl batch lease lost", extra={"run_id": str(run_id), "job": token})
            return BatchResult(str(run_id), CrawlRunStatus.RUNNING.value, 0, 0, 0, 0, True)
        except Exception as exc:
            if not is_transient(exc):
                raise
            # The job is retried after a backoff (an upstream, PostgreSQL or Redis away): keep
            # the batch for it meanwhile, so the stalled-batch pass does not send a second job
            # for a batch that is not stalled. Best effort: the database may be the one away.
            keep_s = self.settings.queue.retry_max_delay_s + crawl.lease_s
            with contextlib.suppress(Exception):
                async with self.new_uow() as uow:
                    await CrawlRunRepository(uow.session).renew(run_id, token, keep_s)
            raise

        return await self._finish(
            run_id,
            info,
            batch.actor,
            batch.captured_at,
            batch.product_ids,
            time.perf_counter() - started,
        )

    async def _started_run(
        self,
        batch: _Batch,
        adapter: ActorAdapter,
        identities: list[tuple[int, str, str]],
        intent_before: datetime | None,
    ) -> str:
        """The batch's Apify run: the recorded one, the one an earlier job started but did not
        live to record, or a new one."""
        if batch.apify_run_id is not None:
            return batch.apify_run_id
        urls = [product_url(Marketplace(m), asin) for _, m, asin in identities]
        run_input = adapter.build_input(urls)
        info: RunInfo | None = None
        if intent_before is not None:
            info = await self.apify.find_run(
                batch.actor,
                run_input,
                started_after=intent_before - START_LOOKUP_SLACK,
                exclude=self._claimed_elsewhere,
            )
            if info is not None:
                logger.info(
                    "crawl batch found its earlier Apify run",
                    extra={"run_id": str(batch.run_id), "apify_run_id": info.run_id},
                )
        if info is None:
            info = await self.apify.start_run(
                batch.actor,
                run_input,
                max_items=min(self.settings.apify.max_items_per_run, len(urls) * 2),
                timeout_s=self.settings.crawl.apify_run_timeout_s,
            )
        started_at = info.started_at or datetime.now(UTC)
        async with self.new_uow() as uow:
            await CrawlRunRepository(uow.session).update(
                batch.run_id,
                apify_run_id=info.run_id,
                dataset_id=info.dataset_id,
                status=CrawlRunStatus.RUNNING,
                started_at=started_at,
            )
        batch.apify_run_id, batch.started_at = info.run_id, started_at
        return info.run_id

    async def _claimed_elsewhere(self, apify_run_ids: list[str]) -> set[str]:
        async with self.new_uow() as uow:
            return await CrawlRunRepository(uow.session).claimed_apify_run_ids(apify_run_ids)

    async def _come_back_later(self, batch: _Batch, token: str) -> BatchResult:
        """Hand the batch to a job deferred by the poll interval, numbered so ARQ takes it."""
        crawl = self.settings.crawl
        task, queue = batch_job(batch.trigger)
        async with self.new_uow() as uow:
            next_job = await CrawlRunRepository(uow.session).hand_over(
                batch.run_id,
                token,
                crawl_job_id(batch.run_id, task),
                crawl.poll_interval_s + crawl.lease_s,
            )
            if next_job is not None:
                uow.jobs.enqueue(
                    task,
                    queue=queue,
                    job_id=next_job,
                    defer_by_s=crawl.poll_interval_s,
                    run_id=str(batch.run_id),
                )
        logger.info(
            "crawl batch still running at Apify",
            extra={"run_id": str(batch.run_id), "next_job": next_job},
        )
        return BatchResult(str(batch.run_id), CrawlRunStatus.RUNNING.value, 0, 0, 0, 0, True)

    async def _expire(self, uow: UnitOfWork, run: CrawlRun) -> BatchResult:
        """Give up a batch that waited too long to start: release its products for the next
        plan (nothing was asked of Apify, so nothing is owed)."""
        runs = CrawlRunRepository(uow.session)
        await runs.update(
            run.id,
            status=CrawlRunStatus.FAILED,
            finished_at=datetime.now(UTC),
            lease_token=None,
            leased_until=None,
            error=f"not started within {self.settings.crawl.start_within_s}s of planning",
        )
        await runs.hold(run.product_ids, datetime.now(UTC))
        CRAWL_RUNS.labels(run.actor, CrawlRunStatus.FAILED.value).inc()
        logger.warning("crawl batch expired before its start", extra={"run_id": str(run.id)})
        return BatchResult(str(run.id), CrawlRunStatus.FAILED.value, 0, 0, 0, 0)

    @asynccontextmanager
    async def _leased(self, run_id: uuid.UUID, token: str) -> AsyncIterator[Lease]:
        """Renew the batch's lease every third of its length while the block runs."""
        lease = Lease()
        lease_s = self.settings.crawl.lease_s

        async def renew() -> None:
            while True:
                await asyncio.sleep(lease_s / 3)
                try:
                    async with self.new_uow() as uow:
                        held = await CrawlRunRepository(uow.session).renew(run_id, token, lease_s)
                except Exception:  # a database blip: try again at the next tick
                    logger.warning("crawl lease not renewed", exc_info=True)
                    continue
                if not held:
                    lease.lost = True
                    return

        renewer = asyncio.create_task(renew())
        lease.renewer = renewer
        try:
            yield lease
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _ingest_page(
        self,
        run_id: uuid.UUID,
        captured_at: datetime,
        actor: str,
        adapter: ActorAdapter,
        lookup: ProductLookup,
        page: list[Any],
        offset: int,
    ) -> None:
        parsed, unattributed = parse_page(adapter, lookup, page, actor, run_id)
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
                lease_token=None,
                leased_until=None,
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


async def resend_stalled_batches(
    uow: UnitOfWork,
    settings: Settings,
    limit: int = 1000,
    waiting: Callable[[str], Awaitable[bool]] | None = None,
) -> int:
    """Send a new job for every open batch whose lease lapsed (its worker died, or its job
    failed or timed out), handing it the lease to start; returns how many were sent.

    A lease that lapsed while its job still waits in its queue (``waiting``: a busy queue, a
    hand-over deferred behind a long planning cycle) is extended instead: that batch is late,
    not stalled, and re-sending it would count against a healthy batch's tries. A batch that
    never took a lease is left to its first job until the deadline, then given up, so no run
    stays queued for ever.

    Each new job's id is numbered by the batch's step counter, so no key an earlier attempt
    left in Redis (its in-progress marker, its failed result) makes ARQ refuse it. A batch
    past its deadline, or re-sent ``queue.max_tries`` times already, is given up and its
    products released instead.
    """
    crawl = settings.crawl
    runs = CrawlRunRepository(uow.session)
    now = datetime.now(UTC)
    sent = 0
    deadline = timedelta(seconds=crawl.batch_deadline_s)
    for run in await runs.lapsed_leases(limit, never_leased_before=now - deadline):
        # Read before any UPDATE below expires the loaded row.
        run_id, token, resends, actor = run.id, run.lease_token, run.resends, run.actor
        trigger, product_ids = run.trigger, list(run.product_ids)
        overdue = now - run.created_at > deadline
        if not overdue and token is None:
            continue  # its first job still has until the deadline to take the batch
        if not overdue and token is not None and waiting is not None and await waiting(token):
            await runs.renew(run_id, token, crawl.lease_s)
            continue
        if overdue or token is None or resends >= settings.queue.max_tries:
            reason = "past its deadline" if overdue else f"re-sent {resends} times"
            await runs.update(
                run_id,
                status=CrawlRunStatus.FAILED,
                finished_at=now,
                lease_token=None,
                leased_until=None,
                error=f"abandoned: no job finished it ({reason})",
            )
            await runs.hold(product_ids, now)
            CRAWL_RUNS.labels(actor, CrawlRunStatus.FAILED.value).inc()
            logger.error("stalled crawl batch given up", extra={"run_id": str(run_id)})
            continue
        task, queue = batch_job(trigger)
        await runs.update(run_id, resends=resends + 1)
        next_job = await runs.hand_over(run_id, token, crawl_job_id(run_id, task), crawl.lease_s)
        if next_job is not None:
            uow.jobs.enqueue(task, queue=queue, job_id=next_job, run_id=str(run_id))
            sent += 1
            logger.warning(
                "stalled crawl batch sent again",
                extra={"run_id": str(run_id), "stale_job": token, "job": next_job},
            )
    return sent
