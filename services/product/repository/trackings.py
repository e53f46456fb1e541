"""Each seller's trackings of catalogue products, and the seller's list read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, select, text
from sqlalchemy.dialects.postgresql import insert

from services.core.repository import Repository
from services.product.models import Product, TrackedProduct

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

# Each per-product lookup asks the recent partitions first and all of them only when those hold
# nothing (UNION ALL under LIMIT 1 never starts the second branch once the first gave a row):
# the same answer, without probing every monthly partition for every tracked product (the
# history-at-scale benchmark found the list at ~8x its 50 ms budget that way).
_STATE_LOOKUPS = """
LEFT JOIN LATERAL (
    (SELECT * FROM snapshots x WHERE x.product_id = t.product_id AND x.status = 'ok'
       AND x.captured_at > CAST(:week_ago AS timestamptz) - interval '30 days'
     ORDER BY x.captured_at DESC LIMIT 1)
    UNION ALL
    (SELECT * FROM snapshots x WHERE x.product_id = t.product_id AND x.status = 'ok'
     ORDER BY x.captured_at DESC LIMIT 1)
    LIMIT 1
) s ON true
LEFT JOIN LATERAL (
    (SELECT price FROM snapshots x
     WHERE x.product_id = t.product_id AND x.status = 'ok'
       AND x.captured_at <= CAST(:week_ago AS timestamptz)
       AND x.captured_at > CAST(:week_ago AS timestamptz) - interval '30 days'
     ORDER BY x.captured_at DESC LIMIT 1)
    UNION ALL
    (SELECT price FROM snapshots x
     WHERE x.product_id = t.product_id AND x.status = 'ok'
       AND x.captured_at <= CAST(:week_ago AS timestamptz)
     ORDER BY x.captured_at DESC LIMIT 1)
    LIMIT 1
) w ON true
"""

_TITLE_LOOKUP = """
LEFT JOIN LATERAL (
    SELECT title FROM listing_versions v WHERE v.product_id = t.product_id
    ORDER BY v.captured_at DESC, v.id DESC LIMIT 1
) lv ON true
"""

_LATEST = _STATE_LOOKUPS + _TITLE_LOOKUP

_STATE_COLUMNS = """
       s.captured_at AS as_of, s.currency, s.price, s.buybox_price, s.buybox_seller, s.in_stock,
       s.rating, s.review_count, s.bsr, lv.title,
       CASE WHEN w.price > 0 AND s.price IS NOT NULL
            THEN round((s.price - w.price) / w.price * 100, 2) END AS price_change_7d
"""

_LIST_SQL = """
SELECT t.id, t.product_id, p.marketplace, p.asin, t.alias, t.tags, t.role, t.frequency,
       t.is_active, t.created_at, p.last_status, p.last_crawled_at, {state},
       count(*) OVER () AS total
FROM tracked_products t
JOIN products p ON p.id = t.product_id
{latest}
WHERE t.user_id = :user_id {filters}
ORDER BY {order} NULLS LAST, t.id
LIMIT :limit OFFSET :offset
"""

# The page is chosen first and only its rows get the full per-product lookups: sorted by the
# tracking's or product's own columns (the default sort among them) no lookup at all is needed
# to choose it, sorted by state only the two state lookups (the same rows in the same order as
# _LIST_SQL gives).
_PAGE_FIRST_SQL = """
WITH page AS (
    SELECT t.id, t.product_id, p.marketplace, p.asin, t.alias, t.tags, t.role, t.frequency,
           t.is_active, t.created_at, p.last_status, p.last_crawled_at,
           count(*) OVER () AS total,
           row_number() OVER (ORDER BY {order} NULLS LAST, t.id) AS position
    FROM tracked_products t
    JOIN products p ON p.id = t.product_id
    {sort_lookups}
    WHERE t.user_id = :user_id {filters}
    ORDER BY {order} NULLS LAST, t.id
    LIMIT :limit OFFSET :offset
)
SELECT t.id, t.product_id, t.marketplace, t.asin, t.alias, t.tags, t.role, t.frequency,
       t.is_active, t.created_at, t.last_status, t.last_crawled_at, {state},
       t.total
FROM page t
{latest}
ORDER BY t.position
"""
# Sort keys computed from tracked_products and products alone: the page needs no lookup.
_OWN_COLUMN_SORTS = frozenset({"created_at", "alias", "asin"})
# A window's ORDER BY cannot name an output column: the 7-day change as an expression.
_PAGE_SORT_KEYS = {
    **SORTS,
    "price_change_7d": "CASE WHEN w.price > 0 AND s.price IS NOT NULL "
    "THEN round((s.price - w.price) / w.price * 100, 2) END",
}


def list_sql(sort: str, descending: bool, filters: Sequence[str] = (), search: bool = False) -> str:
    """The seller's list query for one sort (``search``: the filters read the listing title,
    which needs every row's lookups)."""
    direction = " DESC" if descending else " ASC"
    if search:
        return _LIST_SQL.format(
            filters=" ".join(filters),
            order=SORTS[sort] + direction,
            state=_STATE_COLUMNS.strip(),
            latest=_LATEST,
        )
    # Sorted by state, every row still needs the two state lookups to be ranked, but only the
    # page's rows get the title lookup and their full state read.
    return _PAGE_FIRST_SQL.format(
        filters=" ".join(filters),
        order=_PAGE_SORT_KEYS[sort] + direction,
        sort_lookups="" if sort in _OWN_COLUMN_SORTS else _STATE_LOOKUPS,
        state=_STATE_COLUMNS.strip(),
        latest=_LATEST,
    )


_OWN_PRICES_SQL = """
SELECT t.user_id, tag, t.alias, p.asin, s.price
FROM tracked_products t
JOIN products p ON p.id = t.product_id
CROSS JOIN LATERAL unnest(t.tags) AS tag
JOIN LATERAL (
    SELECT price FROM snapshots x
    WHERE x.product_id = t.product_id AND x.status = 'ok'
    ORDER BY x.captured_at DESC LIMIT 1
) s ON true
WHERE t.is_active AND t.role = 'own' AND t.user_id = ANY(:users)
"""


class TrackingRepository(Repository):
    async def get_for_user(self, user_id: uuid.UUID, product_id: int) -> TrackedProduct | None:
        return await self._one_or_none(
            select(TrackedProduct).where(
                TrackedProduct.user_id == user_id, TrackedProduct.product_id == product_id
            )
        )

    async def get_by_id_for_user(
        self, user_id: uuid.UUID, tracking_id: uuid.UUID
    ) -> TrackedProduct | None:
        return await self._one_or_none(
            select(TrackedProduct).where(
                TrackedProduct.user_id == user_id, TrackedProduct.id == tracking_id
            )
        )

    async def get_with_product_for_user(
        self, user_id: uuid.UUID, tracking_id: uuid.UUID
    ) -> tuple[TrackedProduct, Product] | None:
        """One of the seller's trackings and its product, in one round trip."""
        result = await self.session.execute(
            select(TrackedProduct, Product)
            .join(Product, Product.id == TrackedProduct.product_id)
            .where(TrackedProduct.user_id == user_id, TrackedProduct.id == tracking_id)
        )
        row = result.one_or_none()
        return (row[0], row[1]) if row is not None else None

    async def list_active_with_role(
        self, user_id: uuid.UUID, role: str
    ) -> list[tuple[TrackedProduct, Product]]:
        """One seller's active trackings of a role, with their products, oldest first."""
        result = await self.session.execute(
            select(TrackedProduct, Product)
            .join(Product, Product.id == TrackedProduct.product_id)
            .where(
                TrackedProduct.user_id == user_id,
                TrackedProduct.role == role,
                TrackedProduct.is_active.is_(True),
            )
            .order_by(TrackedProduct.created_at)
        )
        return [(t, p) for t, p in result.all()]

    async def product_ids_for_user(
        self, user_id: uuid.UUID, product_ids: Sequence[int]
    ) -> set[int]:
        """Which of these products the seller tracks already (active or stopped)."""
        rows = await self.session.execute(
            select(TrackedProduct.product_id).where(
                TrackedProduct.user_id == user_id,
                TrackedProduct.product_id.in_(list(product_ids)),
            )
        )
        return {r[0] for r in rows}

    async def products_of_trackings(
        self, user_id: uuid.UUID, tracking_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        """Tracking id -> product id, for those of these trackings that are the seller's."""
        rows = await self.session.execute(
            select(TrackedProduct.id, TrackedProduct.product_id).where(
                TrackedProduct.user_id == user_id, TrackedProduct.id.in_(list(tracking_ids))
            )
        )
        return {r[0]: r[1] for r in rows}

    async def count_active_for_user(self, user_id: uuid.UUID) -> int:
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(TrackedProduct)
                .where(TrackedProduct.user_id == user_id, TrackedProduct.is_active.is_(True))
            )
            or 0
        )

    async def add(self, tracking: TrackedProduct) -> TrackedProduct:
        await self._flush_new(tracking)
        return tracking

    async def add_many(self, rows: list[dict[str, Any]]) -> dict[int, uuid.UUID]:
        """Insert trackings, skipping any the seller has meanwhile; returns product id → id."""
        if not rows:
            return {}
        result = await self.session.execute(
            insert(TrackedProduct)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["user_id", "product_id"])
            .returning(TrackedProduct.product_id, TrackedProduct.id)
        )
        return {r[0]: r[1] for r in result}

    async def active_for_products(self, product_ids: Sequence[int]) -> list[TrackedProduct]:
        return await self._all(
            select(TrackedProduct).where(
                TrackedProduct.product_id.in_(list(product_ids)),
                TrackedProduct.is_active.is_(True),
            )
        )

    async def user_ids_for_products(self, product_ids: Sequence[int]) -> list[uuid.UUID]:
        return await self._all(
            select(TrackedProduct.user_id)
            .where(TrackedProduct.product_id.in_(list(product_ids)))
            .distinct()
        )

    async def own_prices_by_tag(self, user_ids: Sequence[uuid.UUID]) -> Sequence[RowMapping]:
        """(user_id, tag, alias, asin, price) of every active own product, once per tag."""
        return await self._rows(text(_OWN_PRICES_SQL), {"users": list(user_ids)})

    async def list_for_user(
        self,
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
    ) -> tuple[list[RowMapping], int]:
        """The seller's list rows with their latest state, and the total before paging."""
        filters: list[str] = []
        params: dict[str, Any] = {
            "user_id": user_id,
            "week_ago": week_ago,
            "limit": limit,
            "offset": offset,
        }
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
            params["q"] = (
                "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
        sql = list_sql(sort, descending, filters, search=bool(q))
        rows = list(await self._rows(text(sql), params))
        total = int(rows[0]["total"]) if rows else 0
        return rows, total
