"""The product side's keys in the read cache (``services.core.read_cache``), and where each of
its cached views lives: one definition, used by the service that builds and reads them and by
the gateway's edge, which reads a cached route's entry in the round trip that counts the
request."""

from __future__ import annotations

import hashlib
import json
import uuid

from services.core.read_cache import CachedView
from services.product.schemas import TrackedProductFilter

# A named range's answer carries its start and end (now minus the range, now): cached whole,
# it may show them this many seconds late, never stale data (a crawl changes the version).
HISTORY_VIEW_TTL_S = 60


def state_key(product_id: int) -> str:
    return f"cache:product-state:{product_id}"


def list_version_key(user_id: object) -> str:
    return f"cache:list-version:{user_id}"


def _digest(filters: TrackedProductFilter) -> str:
    """A list page's filters as a short, stable part of its cache key."""
    params = filters.model_dump(mode="json")
    return hashlib.sha256(json.dumps(params).encode()).hexdigest()[:24]


def list_view(user_id: uuid.UUID, filters: TrackedProductFilter) -> CachedView:
    """One page of the seller's list (``Page[TrackedProductRow]``)."""
    return CachedView(
        (list_version_key(user_id),), f"cache:list-json:{user_id}:", f":{_digest(filters)}"
    )


def detail_view(
    user_id: uuid.UUID, tracking_id: uuid.UUID, alerts_version_key: str | None
) -> CachedView:
    """A tracked product's detail: under the seller's list version and, when it shows their
    recent alerts, their alerts' version."""
    versions = [list_version_key(user_id)]
    if alerts_version_key is not None:
        versions.append(alerts_version_key)
    return CachedView(tuple(versions), f"cache:detail-json:{user_id}:", f":{tracking_id}")


def history_view(
    user_id: uuid.UUID, tracking_id: uuid.UUID, metric: str, range_: str | None
) -> CachedView:
    """A named history range of one metric (custom ranges are never cached)."""
    return CachedView(
        (list_version_key(user_id),),
        f"cache:history-view:{user_id}:",
        f":{tracking_id}:{metric}:{range_ or ''}",
        HISTORY_VIEW_TTL_S,
    )
