"""The shared catalogue: products and their crawl state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text, tuple_
from sqlalchemy.dialects.postgresql import insert

from services.core.repository import Repository
from services.product.models import Product


class ProductRepository(Repository):
    async def get_or_create(self, marketplace: str, asin: str) -> Product:
        """The catalogue row of (marketplace, ASIN), created on first use, race-free."""
        (product,) = await self.get_or_create_many([(marketplace, asin)])
        return product

    async def get_or_create_many(self, keys: Sequence[tuple[str, str]]) -> list[Product]:
        """The catalogue rows of many (marketplace, ASIN), in two statements, race-free."""
        if not keys:
            return []
        unique = list(dict.fromkeys(keys))
        await self.session.execute(
            insert(Product)
            .values([{"marketplace": m, "asin": a} for m, a in unique])
            .on_conflict_do_nothing(index_elements=["marketplace", "asin"])
        )
        found = await self._all(
            select(Product).where(tuple_(Product.marketplace, Product.asin).in_(unique))
        )
        by_key = {(p.marketplace, p.asin): p for p in found}
        return [by_key[k] for k in keys]

    async def get(self, product_id: int) -> Product | None:
        return await self.session.get(Product, product_id)

    async def find(self, marketplace: str, asin: str) -> Product | None:
        return await self._one_or_none(
            select(Product).where(Product.marketplace == marketplace, Product.asin == asin)
        )

    async def many(self, product_ids: Sequence[int]) -> list[Product]:
        return await self._all(select(Product).where(Product.id.in_(list(product_ids))))

    async def identities(self, product_ids: Sequence[int]) -> list[tuple[int, str, str]]:
        # Ordered, so a batch's actor input is the same on every try (its run is found by it).
        rows = await self.session.execute(
            select(Product.id, Product.marketplace, Product.asin)
            .where(Product.id.in_(list(product_ids)))
            .order_by(Product.id)
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def crawl_marks(
        self, product_ids: Sequence[int]
    ) -> dict[int, tuple[datetime | None, str | None, datetime | None]]:
        """(last crawled at, newest listing version's content hash, its capture time) of each
        product."""
        rows = await self.session.execute(
            text(
                "SELECT id, last_crawled_at, listing_hash, listing_hash_at FROM products "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": list(product_ids)},
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    async def record_crawled(
        self,
        captured_at: datetime,
        statuses: dict[int, str],
        listing_hashes: dict[int, str] | None = None,
    ) -> None:
        """Move each product's crawl state on to this capture (only ever forwards), and its
        newest listing hash to the one of a listing version this capture stored (unless the
        product has a newer one already: a late page of an older crawl)."""
        hashes = listing_hashes or {}
        await self.session.execute(
            text(_UPDATE_PRODUCTS),
            {
                "captured_at": captured_at,
                "ids": list(statuses),
                "statuses": list(statuses.values()),
                "hashes": [hashes.get(pid) for pid in statuses],
            },
        )

    async def count_missing(self, product_ids: Sequence[int]) -> list[tuple[int, int]]:
        """Release products absent from a run; returns (id, misses in a row) of each."""
        if not product_ids:
            return []
        rows = await self.session.execute(
            text(
                "UPDATE products SET missing_count = missing_count + 1, crawl_pending_until = NULL "
                "WHERE id = ANY(:ids) RETURNING id, missing_count"
            ),
            {"ids": list(product_ids)},
        )
        return [(r[0], r[1]) for r in rows]


_UPDATE_PRODUCTS = """
UPDATE products p SET
    last_crawled_at = GREATEST(p.last_crawled_at, CAST(:captured_at AS timestamptz)),
    last_status = v.status,
    last_good_at = CASE WHEN v.status = 'ok'
                        THEN GREATEST(p.last_good_at, CAST(:captured_at AS timestamptz))
                        ELSE p.last_good_at END,
    missing_count = 0,
    crawl_pending_until = NULL,
    listing_hash = CASE WHEN v.hash IS NOT NULL AND (p.listing_hash_at IS NULL
                             OR p.listing_hash_at <= CAST(:captured_at AS timestamptz))
                        THEN v.hash ELSE p.listing_hash END,
    listing_hash_at = CASE WHEN v.hash IS NOT NULL AND (p.listing_hash_at IS NULL
                                OR p.listing_hash_at <= CAST(:captured_at AS timestamptz))
                           THEN CAST(:captured_at AS timestamptz) ELSE p.listing_hash_at END
FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[]), CAST(:hashes AS text[]))
    AS v(id, status, hash)
WHERE p.id = v.id
"""
