"""Snapshots and listing versions: the bulk, idempotent page writer and every read of them.

Each page is one transaction. The snapshots this run already stored for the page's products are
looked up first and left out (a re-run of the same batch, even after a worker was killed
mid-page, adds nothing twice); the rest go straight into the tables by COPY, listing versions
only where the content hash differs from the product's latest. A snapshot is stored in the same
transaction that moves its product's ``last_crawled_at`` to at least its capture time, which
never moves back, so only products whose crawl state reached this capture can have one: the
others are not looked up (and the key below would still catch one). Should another transaction store
some of the same rows meanwhile (a job that lost its lease finishing its page), that COPY fails
on the key, and the page is written again through a temporary table with
``ON CONFLICT DO NOTHING`` on (product, crawl run, captured_at).

Each product row keeps its newest listing version's hash and capture time, moved on by the same
statement that moves its crawl state; a page's listings are compared with those. Only a late page
of an older crawl (captured before the product's newest version) looks the version in force at
its capture up among the versions.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

import asyncpg
from sqlalchemy import RowMapping, select, text
from sqlalchemy.dialects.postgresql import distinct_on

from services.core.repository import Repository
from services.product.apify.item import BsrEntry, CrawlStatus, ListingContent, ParsedItem
from services.product.models import Snapshot
from services.product.repository.products import ProductRepository

SNAPSHOT_COLUMNS = (
    "product_id",
    "crawl_run_id",
    "captured_at",
    "status",
    "currency",
    "price",
    "list_price",
    "buybox_price",
    "buybox_seller",
    "fulfillment",
    "is_prime",
    "availability",
    "in_stock",
    "rating",
    "review_count",
    "bsr",
    "error",
    "deal",
)
LISTING_COLUMNS = (
    "product_id",
    "crawl_run_id",
    "captured_at",
    "content_hash",
    "title",
    "brand",
    "bullets",
    "description",
    "images",
    "video_count",
    "category_path",
)

_STORED = text(
    "SELECT product_id FROM snapshots WHERE crawl_run_id = :run AND captured_at = :captured "
    "AND product_id = ANY(:ids)"
)
# Each product's latest listing version up to this capture (for a page older than the newest).
_LATEST_HASHES = text("""
SELECT n.id, latest.content_hash
FROM unnest(CAST(:ids AS bigint[])) AS n(id)
JOIN LATERAL (
    SELECT content_hash FROM listing_versions v
    WHERE v.product_id = n.id AND v.captured_at <= :captured
    ORDER BY v.captured_at DESC, v.id DESC LIMIT 1
) latest ON true
""")

# The guarded path, for a page another transaction is writing too.
_PREPARE = (
    "CREATE TEMP TABLE IF NOT EXISTS ingest_snapshots "
    "(LIKE snapshots INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS ingest_listings "
    "(LIKE listing_versions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
)

_MOVE_SNAPSHOTS = f"""
INSERT INTO snapshots ({", ".join(SNAPSHOT_COLUMNS)})
SELECT {", ".join(SNAPSHOT_COLUMNS)} FROM ingest_snapshots
ON CONFLICT DO NOTHING
"""  # noqa: S608 - fixed column names

# A new listing version only where the content hash differs from the product's latest one.
_MOVE_LISTINGS = f"""
INSERT INTO listing_versions ({", ".join(LISTING_COLUMNS)})
SELECT {", ".join("n." + c for c in LISTING_COLUMNS)}
FROM ingest_listings n
LEFT JOIN LATERAL (
    SELECT content_hash FROM listing_versions v
    WHERE v.product_id = n.product_id AND v.captured_at <= n.captured_at
    ORDER BY v.captured_at DESC, v.id DESC LIMIT 1
) latest ON true
WHERE latest.content_hash IS DISTINCT FROM n.content_hash
ON CONFLICT (product_id, crawl_run_id) DO NOTHING
RETURNING product_id, content_hash
"""  # noqa: S608 - fixed column names


# The C string encoder ``json.dumps(..., ensure_ascii=False)`` applies to every string: with it the
# JSON below is built without creating a JSON encoder per call (most of what dumps costs here).
_json_string = encode_basestring


def _json_or_null(value: str | None) -> str:
    return "null" if value is None else _json_string(value)


def _json_strings(values: Sequence[str]) -> str:
    """``json.dumps(list(values), ensure_ascii=False)``, character for character."""
    return "[" + ", ".join(map(_json_string, values)) + "]"


def _listing_json(listing: ListingContent) -> tuple[str, str, str, str]:
    """(content hash, bullets, images, category path): the lists' JSON, as stored, is also part
    of what is hashed, so each is encoded once."""
    bullets = _json_strings(listing.bullets)
    images = _json_strings(listing.images)
    path = _json_strings(listing.category_path)
    # Exactly json.dumps([title, brand, bullets, description, images, video_count, path],
    # ensure_ascii=False): every stored hash stays comparable with new ones.
    payload = (
        f"[{_json_or_null(listing.title)}, {_json_or_null(listing.brand)}, {bullets}, "
        f"{_json_or_null(listing.description)}, {images}, {int(listing.video_count)}, {path}]"
    )
    return hashlib.sha256(payload.encode()).hexdigest(), bullets, images, path


def listing_hash(listing: ListingContent) -> str:
    """Stable hash of the listing content, the test for "did it change"."""
    return _listing_json(listing)[0]


@dataclass(frozen=True, slots=True)
class PageResult:
    items: int
    ok: int
    failed: int
    product_ids: frozenset[int]


MAX_MONEY = Decimal("9999999999.99")  # numeric(12, 2)
MAX_INT = 2**31 - 1


_ZERO, _FIVE = Decimal(0), Decimal(5)


def _money(value: Decimal | None) -> Decimal | None:
    """Out-of-range money from a broken page is stored as unknown, never as a failed page."""
    return value if value is None or _ZERO <= value <= MAX_MONEY else None


def _count(value: int | None) -> int | None:
    return value if value is None or 0 <= value <= MAX_INT else None


def _bsr_json(bsr: Sequence[BsrEntry]) -> str:
    if not bsr:
        return "[]"
    entries = (f'{{"rank": {int(b.rank)}, "category": {_json_string(b.category)}}}' for b in bsr)
    return "[" + ", ".join(entries) + "]"


def _snapshot_record(
    product_id: int, run_id: uuid.UUID, captured_at: datetime, item: ParsedItem
) -> tuple[Any, ...]:
    rating = item.rating
    return (
        product_id,
        run_id,
        captured_at,
        item.status.value,
        item.currency,
        _money(item.price),
        _money(item.list_price),
        _money(item.buybox_price),
        item.buybox_seller[:200] if item.buybox_seller else None,
        item.fulfillment.value if item.fulfillment else None,
        item.is_prime,
        item.availability[:200] if item.availability else None,
        item.in_stock,
        rating if rating is None or _ZERO <= rating <= _FIVE else None,
        _count(item.review_count),
        _bsr_json(item.bsr),
        item.error,
        item.deal,
    )


def _listing_record(
    product_id: int, run_id: uuid.UUID, captured_at: datetime, listing: ListingContent
) -> tuple[Any, ...]:
    content_hash, bullets, images, path = _listing_json(listing)
    return (
        product_id,
        run_id,
        captured_at,
        content_hash,
        listing.title,
        listing.brand[:200] if listing.brand else None,
        bullets,
        listing.description,
        images,
        _count(listing.video_count) or 0,
        path,
    )


class SnapshotRepository(Repository):
    async def _driver_connection(self) -> Any:
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        return raw.driver_connection

    async def write_page(
        self,
        run_id: uuid.UUID,
        captured_at: datetime,
        items: Sequence[tuple[int, ParsedItem]],
    ) -> PageResult:
        """Write one page of (product id, parsed item): snapshots, listing versions, product
        state."""
        by_product: dict[int, ParsedItem] = {}
        for product_id, item in items:
            # An actor may return one product twice: keep a good copy over a failed one.
            kept = by_product.get(product_id)
            if kept is None or (
                kept.status is not CrawlStatus.OK and item.status is CrawlStatus.OK
            ):
                by_product[product_id] = item
        products = ProductRepository(self.session)
        # Through the session first: that opens the transaction the COPYs below run in.
        marks = await products.crawl_marks(list(by_product))
        reached = [
            pid
            for pid, (crawled_at, _, _) in marks.items()
            if crawled_at and crawled_at >= captured_at
        ]
        stored = await self.ingested_product_ids(run_id, captured_at, reached) if reached else set()
        hashes = {
            pid: (content_hash, hash_at)
            for pid, (_, content_hash, hash_at) in marks.items()
            if content_hash is not None and hash_at is not None
        }
        # Only what this call really inserts moves the product's state and listing on: a copy
        # already stored by an earlier page or an earlier attempt changes nothing.
        fresh = {pid: it for pid, it in by_product.items() if pid not in stored}
        versioned: dict[int, str] = {}
        if fresh:
            try:
                async with self.session.begin_nested():
                    versioned = await self._copy(run_id, captured_at, fresh, hashes)
            except asyncpg.UniqueViolationError:
                # Another transaction stored some of these rows after the lookup: the savepoint
                # undid this COPY, write the page again skipping whatever exists by then.
                fresh, versioned = await self._insert_guarded(run_id, captured_at, fresh)
        await products.record_crawled(
            captured_at, {pid: it.status.value for pid, it in fresh.items()}, versioned
        )
        ok = sum(1 for it in by_product.values() if it.status is CrawlStatus.OK)
        return PageResult(
            items=len(by_product),
            ok=ok,
            failed=len(by_product) - ok,
            product_ids=frozenset(by_product),
        )

    async def _copy(
        self,
        run_id: uuid.UUID,
        captured_at: datetime,
        fresh: dict[int, ParsedItem],
        hashes: dict[int, tuple[str, datetime]],
    ) -> dict[int, str]:
        """COPY the page's new snapshots, and the listings that differ from the products'
        newest versions (``hashes``: content hash, capture time), into their tables; returns the
        content hash of each listing version stored."""
        conn = await self._driver_connection()
        snapshots = [_snapshot_record(pid, run_id, captured_at, it) for pid, it in fresh.items()]
        await conn.copy_records_to_table(
            "snapshots", records=snapshots, columns=list(SNAPSHOT_COLUMNS)
        )
        # Only good data versions the listing; a partial page must not look like a change.
        good = {
            pid: it.listing
            for pid, it in fresh.items()
            if it.listing is not None and it.status is CrawlStatus.OK
        }
        if not good:
            return {}
        latest: dict[int, str] = {}
        older: list[int] = []
        for pid in good:
            known = hashes.get(pid)
            if known is None:
                continue
            if known[1] <= captured_at:
                latest[pid] = known[0]
            else:
                older.append(pid)
        if older:
            # A late page: its listing is compared with the version in force when it was
            # captured, not with a newer one.
            rows = await self.session.execute(
                _LATEST_HASHES, {"ids": older, "captured": captured_at}
            )
            latest.update((row[0], row[1]) for row in rows)
        listings = [
            record
            for pid, listing in good.items()
            if (record := _listing_record(pid, run_id, captured_at, listing))[3] != latest.get(pid)
        ]
        if listings:
            await conn.copy_records_to_table(
                "listing_versions", records=listings, columns=list(LISTING_COLUMNS)
            )
        return {record[0]: record[3] for record in listings}

    async def _insert_guarded(
        self, run_id: uuid.UUID, captured_at: datetime, fresh: dict[int, ParsedItem]
    ) -> tuple[dict[int, ParsedItem], dict[int, str]]:
        """Write through temporary tables, skipping rows another transaction stored; returns
        the items this call inserted and the content hash of each listing version it stored."""
        for statement in _PREPARE:
            await self.session.execute(text(statement))
        conn = await self._driver_connection()
        snapshots = [_snapshot_record(pid, run_id, captured_at, it) for pid, it in fresh.items()]
        await conn.copy_records_to_table(
            "ingest_snapshots", records=snapshots, columns=list(SNAPSHOT_COLUMNS)
        )
        inserted = {row[0] for row in await conn.fetch(_MOVE_SNAPSHOTS + " RETURNING product_id")}
        fresh = {pid: it for pid, it in fresh.items() if pid in inserted}
        listings = [
            _listing_record(pid, run_id, captured_at, it.listing)
            for pid, it in fresh.items()
            if it.listing is not None and it.status is CrawlStatus.OK
        ]
        versioned: dict[int, str] = {}
        if listings:
            await conn.copy_records_to_table(
                "ingest_listings", records=listings, columns=list(LISTING_COLUMNS)
            )
            versioned = {row[0]: row[1] for row in await conn.fetch(_MOVE_LISTINGS)}
        return fresh, versioned

    async def ingested_product_ids(
        self, run_id: uuid.UUID, captured_at: datetime, product_ids: Sequence[int]
    ) -> set[int]:
        """Which of the batch's products already have their snapshot for this run."""
        found = await self.session.scalars(
            _STORED, {"run": run_id, "captured": captured_at, "ids": list(product_ids)}
        )
        return set(found.all())

    async def status_counts(
        self, run_id: uuid.UUID, captured_at: datetime, product_ids: Sequence[int]
    ) -> dict[str, int]:
        """Snapshots of this run per crawl status."""
        rows = await self._rows(
            text(
                "SELECT status, count(*) AS n FROM snapshots WHERE crawl_run_id = :run "
                "AND captured_at = :captured AND product_id = ANY(:ids) GROUP BY status"
            ),
            {"run": run_id, "captured": captured_at, "ids": list(product_ids)},
        )
        return {r["status"]: int(r["n"]) for r in rows}

    async def latest_good(self, product_id: int) -> Snapshot | None:
        return await self._one_or_none(
            select(Snapshot)
            .where(Snapshot.product_id == product_id, Snapshot.status == CrawlStatus.OK)
            .order_by(Snapshot.captured_at.desc())
            .limit(1)
        )

    async def latest_good_many(self, product_ids: Sequence[int]) -> list[Snapshot]:
        """The latest good snapshot of each product, in one statement."""
        if not product_ids:
            return []
        return await self._all(
            select(Snapshot)
            .where(Snapshot.product_id.in_(list(product_ids)), Snapshot.status == CrawlStatus.OK)
            .order_by(Snapshot.product_id, Snapshot.captured_at.desc())
            .ext(distinct_on(Snapshot.product_id))
        )

    async def history_rows(
        self, product_id: int, start: datetime, end: datetime
    ) -> Sequence[RowMapping]:
        return await self._rows(
            text(_HISTORY_SQL), {"product_id": product_id, "start": start, "end": end}
        )

    async def price_points(
        self, product_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[RowMapping]:
        """Good snapshots' prices of several products over a range, oldest first per product:
        one query for a page of sparklines."""
        return await self._rows(
            text(_PRICE_POINTS_SQL), {"ids": list(product_ids), "start": start, "end": end}
        )

    async def listing_versions(
        self, product_id: int, limit: int, offset: int = 0
    ) -> Sequence[RowMapping]:
        """The newest ``limit`` + 1 listing versions from ``offset`` (the extra one to diff the
        last against)."""
        return await self._rows(
            text(
                "SELECT id, captured_at, title, brand, bullets, description, images, "
                "video_count, category_path FROM listing_versions WHERE product_id = :pid "
                "ORDER BY captured_at DESC, id DESC LIMIT :limit OFFSET :offset"
            ),
            {"pid": product_id, "limit": limit + 1, "offset": offset},
        )

    async def count_listing_versions(self, product_id: int) -> int:
        rows = await self._rows(
            text("SELECT count(*) AS n FROM listing_versions WHERE product_id = :pid"),
            {"pid": product_id},
        )
        return int(rows[0]["n"])

    async def state_pairs(self, run_id: uuid.UUID, captured_at: datetime) -> Sequence[RowMapping]:
        """Each good snapshot of a run beside the product's previous good one (``p_`` columns),
        with the listing in force at each moment and the BSR lists of the good snapshots of the
        week before (at most seven, oldest first: ``recent_bsr``)."""
        return await self._rows(text(_PAIRS_SQL), {"run": run_id, "captured": captured_at})


_HISTORY_SQL = """
SELECT captured_at, price, buybox_price, rating, review_count, in_stock, bsr, currency
FROM snapshots
WHERE product_id = :product_id AND status = 'ok'
  AND captured_at >= CAST(:start AS timestamptz) AND captured_at < CAST(:end AS timestamptz)
ORDER BY captured_at
"""

_PRICE_POINTS_SQL = """
SELECT product_id, captured_at, price
FROM snapshots
WHERE product_id = ANY(:ids) AND status = 'ok' AND price IS NOT NULL
  AND captured_at >= CAST(:start AS timestamptz) AND captured_at < CAST(:end AS timestamptz)
ORDER BY product_id, captured_at
"""

_PAIRS_SQL = """
SELECT s.product_id, s.captured_at,
       s.price, s.buybox_price, s.buybox_seller, s.in_stock, s.rating, s.review_count, s.bsr,
       s.currency, s.deal,
       prev.price AS p_price, prev.buybox_price AS p_buybox_price,
       prev.buybox_seller AS p_buybox_seller, prev.in_stock AS p_in_stock,
       prev.rating AS p_rating, prev.review_count AS p_review_count, prev.bsr AS p_bsr,
       prev.currency AS p_currency, prev.deal AS p_deal, prev.captured_at AS p_captured_at,
       lv.title, lv.bullets, lv.images,
       plv.title AS p_title, plv.bullets AS p_bullets, plv.images AS p_images,
       recent.bsr AS recent_bsr
FROM snapshots s
JOIN LATERAL (
    SELECT * FROM snapshots p
    WHERE p.product_id = s.product_id AND p.status = 'ok' AND p.captured_at < s.captured_at
    ORDER BY p.captured_at DESC LIMIT 1
) prev ON true
JOIN LATERAL (
    SELECT coalesce(jsonb_agg(r.bsr ORDER BY r.captured_at), '[]'::jsonb) AS bsr
    FROM (
        SELECT h.bsr, h.captured_at FROM snapshots h
        WHERE h.product_id = s.product_id AND h.status = 'ok' AND h.captured_at < s.captured_at
          AND h.captured_at >= s.captured_at - INTERVAL '7 days'
        ORDER BY h.captured_at DESC LIMIT 7
    ) r
) recent ON true
LEFT JOIN LATERAL (
    SELECT title, bullets, images FROM listing_versions v
    WHERE v.product_id = s.product_id AND v.captured_at <= s.captured_at
    ORDER BY v.captured_at DESC, v.id DESC LIMIT 1
) lv ON true
LEFT JOIN LATERAL (
    SELECT title, bullets, images FROM listing_versions v
    WHERE v.product_id = s.product_id AND v.captured_at <= prev.captured_at
    ORDER BY v.captured_at DESC, v.id DESC LIMIT 1
) plv ON true
WHERE s.crawl_run_id = :run AND s.captured_at = :captured AND s.status = 'ok'
"""
