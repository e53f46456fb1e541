"""Read-side SQL of the product module: the seller's list, history series, listing versions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

SORTS = {
    "created_at": "t.created_at",
    "alias": "lower(coalesce(t.alias, ''))",
    "asin": "p.asin",
    "price": "s.price",
    "rating": "s.rating",
    "reviews": "s.review_count",
    "price_change_7d": "price_change_7d",
    "as_of": "s.captured_at",
}

_LIST_SQL = """
SELECT t.id, t.product_id, p.marketplace, p.asin, t.alias, t.tags, t.role, t.frequency,
       t.is_active, t.created_at, p.last_status, p.last_crawled_at,
       s.captured_at AS as_of, s.currency, s.price, s.buybox_price, s.buybox_seller, s.in_stock,
       s.rating, s.review_count, s.bsr, lv.title,
       CASE WHEN w.price > 0 AND s.price IS NOT NULL
            THEN round((s.price - w.price) / w.price * 100, 2) END AS price_change_7d,
       count(*) OVER () AS total
FROM tracked_products t
JOIN products p ON p.id = t.product_id
LEFT JOIN LATERAL (
    SELECT * FROM snapshots x WHERE x.product_id = t.product_id AND x.status = 'ok'
    ORDER BY x.captured_at DESC LIMIT 1
) s ON true
LEFT JOIN LATERAL (
    SELECT price FROM snapshots x
    WHERE x.product_id = t.product_id AND x.status = 'ok'
      AND x.captured_at <= CAST(:week_ago AS timestamptz)
    ORDER BY x.captured_at DESC LIMIT 1
) w ON true
LEFT JOIN LATERAL (
    SELECT title FROM listing_versions v WHERE v.product_id = t.product_id
    ORDER BY v.captured_at DESC, v.id DESC LIMIT 1
) lv ON true
WHERE t.user_id = :user_id {filters}
ORDER BY {order} NULLS LAST, t.id
LIMIT :limit OFFSET :offset
"""


async def list_tracked(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    week_ago: datetime,
    tag: str | None,
    role: str | None,
    active: bool | None,
    crawl_status: str | None,
    q: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    filters, params = (
        [],
        {
            "user_id": user_id,
            "week_ago": week_ago,
            "limit": limit,
            "offset": offset,
        },
    )
    if tag:
        filters.append("AND :tag = ANY(t.tags)")
        params["tag"] = tag
    if role:
        filters.append("AND t.role = :role")
        params["role"] = role
    if active is not None:
        filters.append("AND t.is_active = :active")
        params["active"] = active
    if crawl_status:
        filters.append("AND p.last_status = :crawl_status")
        params["crawl_status"] = crawl_status
    if q:
        filters.append("AND (t.alias ILIKE :q OR p.asin ILIKE :q OR lv.title ILIKE :q)")
        params["q"] = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    order = SORTS[sort] + (" DESC" if descending else " ASC")
    sql = _LIST_SQL.format(filters=" ".join(filters), order=order)
    rows = list((await session.execute(text(sql), params)).mappings())
    total = int(rows[0]["total"]) if rows else 0
    return rows, total


_HISTORY_SQL = """
SELECT captured_at, price, buybox_price, rating, review_count, in_stock, bsr, currency
FROM snapshots
WHERE product_id = :product_id AND status = 'ok'
  AND captured_at >= CAST(:start AS timestamptz) AND captured_at < CAST(:end AS timestamptz)
ORDER BY captured_at
"""


async def history_rows(
    session: AsyncSession, product_id: int, start: datetime, end: datetime
) -> list[Any]:
    rows = await session.execute(
        text(_HISTORY_SQL), {"product_id": product_id, "start": start, "end": end}
    )
    return list(rows.mappings())


async def listing_versions(session: AsyncSession, product_id: int, limit: int) -> list[Any]:
    rows = await session.execute(
        text(
            "SELECT id, captured_at, title, brand, bullets, description, images, video_count, "
            "category_path FROM listing_versions WHERE product_id = :pid "
            "ORDER BY captured_at DESC, id DESC LIMIT :limit"
        ),
        {"pid": product_id, "limit": limit + 1},
    )
    return list(rows.mappings())
