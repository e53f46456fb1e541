"""The cached latest state of a product: written through on ingest, read with a DB fallback."""

from __future__ import annotations

from typing import Any

from services.core.read_cache import ReadCache
from services.product.cache import state_key
from services.product.models import Snapshot
from services.product.repository import SnapshotRepository
from services.product.schemas import SnapshotRead


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    return SnapshotRead.model_validate(snapshot).model_dump(mode="json")


async def latest_state(
    snapshots: SnapshotRepository, cache: ReadCache, product_id: int
) -> SnapshotRead | None:
    """The latest good snapshot: from Redis when there, else PostgreSQL (and cached)."""
    cached = await cache.get(state_key(product_id))
    if cached:
        return SnapshotRead.model_validate(cached)
    snapshot = await snapshots.latest_good(product_id)
    if snapshot is None:
        return None  # not cached: the first good crawl must show at once
    await cache.set(state_key(product_id), snapshot_json(snapshot))
    return SnapshotRead.model_validate(snapshot)
