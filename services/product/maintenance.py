"""Upkeep the workers run around crawls: the cached read models rewritten after each ingest, and
the snapshot partitions created ahead and dropped past retention on schedule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.core.read_cache import ReadCache
from services.core.uow import OnSession, UnitOfWork
from services.product.cache import list_version_key, state_key
from services.product.read_models import snapshot_json
from services.product.repository import (
    CrawlRunRepository,
    PartitionManager,
    SnapshotRepository,
    TrackingRepository,
)


class ProductMaintenance:
    """The product module's maintenance tasks' work, one method a task."""

    def __init__(self, uow: UnitOfWork, cache: ReadCache | None = None) -> None:
        self.uow = uow
        self.cache = cache or ReadCache(None, 0)

    trackings = OnSession(TrackingRepository)
    snapshots = OnSession(SnapshotRepository)
    runs = OnSession(CrawlRunRepository)

    async def refresh_read_models(self, run_id: uuid.UUID) -> dict[str, int]:
        """After an ingest: write the run's latest states into the cache and invalidate the
        affected sellers' lists, in a fixed number of statements."""
        run = await self.runs.get(run_id)
        if run is None:
            raise ValueError(f"crawl run {run_id} does not exist")
        written = 0
        for snapshot in await self.snapshots.latest_good_many(run.product_ids):
            await self.cache.set(state_key(snapshot.product_id), snapshot_json(snapshot))
            written += 1
        users = await self.trackings.user_ids_for_products(run.product_ids)
        keys = [list_version_key(u) for u in users]
        await self.cache.bump(*keys)
        return {"states": written, "lists_invalidated": len(keys)}

    async def maintain_partitions(
        self, months_ahead: int, retention_days: int
    ) -> dict[str, list[str] | int]:
        """Create snapshot partitions ahead and drop those past the retention window."""
        manager = PartitionManager(self.uow.session)
        report = await manager.ensure_ahead(datetime.now(UTC).date(), months_ahead)
        dropped = await manager.drop_older_than(retention_days)
        return {"created": report.created, "moved_rows": report.moved_rows, "dropped": dropped}
