"""The cached latest state of a product: written through on ingest, read with a DB fallback."""

from __future__ import annotations

import uuid
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select

from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.product.cache import ReadCache, list_version_key, state_key
from services.product.models import CrawlRun, Snapshot, TrackedProduct
from services.product.repository import ProductRepository
from services.product.schemas import SnapshotRead


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    return SnapshotRead.model_validate(snapshot).model_dump(mode="json")


async def latest_state(
    products: ProductRepository, cache: ReadCache, product_id: int
) -> SnapshotRead | None:
    """The latest good snapshot: from Redis when there, else PostgreSQL (and cached)."""
    cached = await cache.get(state_key(product_id))
    if cached:
        return SnapshotRead.model_validate(cached)
    snapshot = await products.latest_good_snapshot(product_id)
    if snapshot is None:
        return None  # not cached: the first good crawl must show at once
    await cache.set(state_key(product_id), snapshot_json(snapshot))
    return SnapshotRead.model_validate(snapshot)


async def refresh_after_ingest(
    uow: UnitOfWork, redis: Redis, settings: Settings, run_id: uuid.UUID
) -> dict[str, Any]:
    run = await uow.session.get(CrawlRun, run_id)
    if run is None:
        raise ValueError(f"crawl run {run_id} does not exist")
    cache = ReadCache(redis, settings.cache.ttl_s)
    products = ProductRepository(uow.session)
    written = 0
    for product_id in run.product_ids:
        snapshot = await products.latest_good_snapshot(product_id)
        if snapshot is not None:
            await cache.set(state_key(product_id), snapshot_json(snapshot))
            written += 1
    users = (
        await uow.session.execute(
            select(TrackedProduct.user_id)
            .where(TrackedProduct.product_id.in_(run.product_ids))
            .distinct()
        )
    ).scalars()
    keys = [list_version_key(u) for u in users]
    await cache.bump(*keys)
    return {"states": written, "lists_invalidated": len(keys)}
