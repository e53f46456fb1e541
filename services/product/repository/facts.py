"""Bulk reads for modules that look at several of a seller's products at once (competitor
groups, optimization): identities, latest good state, current listing, recent series."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import RowMapping, text

from services.core.repository import Repository

_TRACKINGS_SQL = """
SELECT t.id AS tracking_id, t.alias, t.role, t.is_active, p.id AS product_id, p.marketplace,
       p.asin, p.last_status, p.last_good_at, p.last_crawled_at,
       (p.crawl_pending_until IS NOT NULL AND p.crawl_pending_until > now()) AS crawl_pending
FROM tracked_products t JOIN products p ON p.id = t.product_id
WHERE t.user_id = :user_id AND t.id = ANY(:ids)
"""

_LATEST_SQL = """
SELECT DISTINCT ON (product_id) product_id, captured_at, status, currency, price, list_price,
       buybox_price, buybox_seller, fulfillment, is_prime, availability, in_stock, rating,
       review_count, bsr
FROM snapshots WHERE product_id = ANY(:pids) AND status = 'ok'
ORDER BY product_id, captured_at DESC
"""

_LISTING_SQL = """
SELECT DISTINCT ON (product_id) product_id, captured_at, title, brand, bullets, description,
       images, video_count, category_path
FROM listing_versions WHERE product_id = ANY(:pids)
ORDER BY product_id, captured_at DESC, id DESC
"""

_SERIES_SQL = """
SELECT product_id, captured_at, price, rating, review_count
FROM snapshots
WHERE product_id = ANY(:pids) AND status = 'ok' AND captured_at >= CAST(:since AS timestamptz)
ORDER BY product_id, captured_at
"""

_METRIC_ROWS_SQL = """
SELECT captured_at, price, buybox_price, buybox_seller, rating, review_count, in_stock, bsr
FROM snapshots
WHERE product_id = :product_id AND status = 'ok'
  AND captured_at >= CAST(:start AS timestamptz) AND captured_at < CAST(:end AS timestamptz)
ORDER BY captured_at
"""


class FactsRepository(Repository):
    async def trackings(
        self, user_id: uuid.UUID, tracking_ids: Sequence[uuid.UUID]
    ) -> Sequence[RowMapping]:
        """The seller's own trackings among ``tracking_ids`` with their products' crawl state
        (ids of other sellers are simply absent)."""
        return await self._rows(
            text(_TRACKINGS_SQL), {"user_id": user_id, "ids": list(tracking_ids)}
        )

    async def latest_good(self, product_ids: Sequence[int]) -> Sequence[RowMapping]:
        return await self._rows(text(_LATEST_SQL), {"pids": list(product_ids)})

    async def current_listings(self, product_ids: Sequence[int]) -> Sequence[RowMapping]:
        return await self._rows(text(_LISTING_SQL), {"pids": list(product_ids)})

    async def series_since(
        self, product_ids: Sequence[int], since: datetime
    ) -> Sequence[RowMapping]:
        return await self._rows(text(_SERIES_SQL), {"pids": list(product_ids), "since": since})

    async def metric_rows(
        self, product_id: int, start: datetime, end: datetime
    ) -> Sequence[RowMapping]:
        """Good snapshots in [start, end) with the fields daily metric series are built from."""
        return await self._rows(
            text(_METRIC_ROWS_SQL), {"product_id": product_id, "start": start, "end": end}
        )
