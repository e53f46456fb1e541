"""Bulk, idempotent writing of one page of crawl results.

Each page is one transaction: the snapshots go through COPY into a temporary table and from there
into the partitioned table with ``ON CONFLICT DO NOTHING`` on (product, crawl run, captured_at),
so a re-run of the same batch, even after a worker was killed mid-page, adds nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.product.apify.item import CrawlStatus, ListingContent, ParsedItem

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
"""  # noqa: S608 - fixed column names

_UPDATE_PRODUCTS = """
UPDATE products p SET
    last_crawled_at = GREATEST(p.last_crawled_at, CAST(:captured_at AS timestamptz)),
    last_status = v.status,
    last_good_at = CASE WHEN v.status = 'ok'
                        THEN GREATEST(p.last_good_at, CAST(:captured_at AS timestamptz))
                        ELSE p.last_good_at END,
    missing_count = 0,
    crawl_pending_until = NULL
FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[])) AS v(id, status)
WHERE p.id = v.id
"""


def listing_hash(listing: ListingContent) -> str:
    """Stable hash of the listing content, the test for "did it change"."""
    payload = json.dumps(
        [
            listing.title,
            listing.brand,
            list(listing.bullets),
            listing.description,
            list(listing.images),
            listing.video_count,
            list(listing.category_path),
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PageResult:
    items: int
    ok: int
    failed: int
    product_ids: frozenset[int]


MAX_MONEY = Decimal("9999999999.99")  # numeric(12, 2)
MAX_INT = 2**31 - 1


def _money(value: Decimal | None) -> Decimal | None:
    """Out-of-range money from a broken page is stored as unknown, never as a failed page."""
    return value if value is None or Decimal(0) <= value <= MAX_MONEY else None


def _count(value: int | None) -> int | None:
    return value if value is None or 0 <= value <= MAX_INT else None


def _snapshot_record(
    product_id: int, run_id: uuid.UUID, captured_at: datetime, item: ParsedItem
) -> tuple[Any, ...]:
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
        item.rating if item.rating is None or Decimal(0) <= item.rating <= 5 else None,
        _count(item.review_count),
        json.dumps([{"rank": b.rank, "category": b.category} for b in item.bsr]),
        item.error,
    )


def _listing_record(
    product_id: int, run_id: uuid.UUID, captured_at: datetime, listing: ListingContent
) -> tuple[Any, ...]:
    return (
        product_id,
        run_id,
        captured_at,
        listing_hash(listing),
        listing.title,
        listing.brand[:200] if listing.brand else None,
        json.dumps(list(listing.bullets), ensure_ascii=False),
        listing.description,
        json.dumps(list(listing.images)),
        _count(listing.video_count) or 0,
        json.dumps(list(listing.category_path), ensure_ascii=False),
    )


async def _raw_connection(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def write_page(
    session: AsyncSession,
    run_id: uuid.UUID,
    captured_at: datetime,
    items: Sequence[tuple[int, ParsedItem]],
) -> PageResult:
    """Write one page of (product id, parsed item): snapshots, listing versions, product state."""
    by_product: dict[int, ParsedItem] = {}
    for product_id, item in items:
        # An actor may return one product twice: keep a good copy over a failed one.
        kept = by_product.get(product_id)
        if kept is None or (kept.status is not CrawlStatus.OK and item.status is CrawlStatus.OK):
            by_product[product_id] = item
    snapshots = [_snapshot_record(pid, run_id, captured_at, it) for pid, it in by_product.items()]
    # Through the session first: that opens the transaction the COPY below must run in (the
    # temporary tables empty themselves at each commit).
    for statement in _PREPARE:
        await session.execute(text(statement))
    conn = await _raw_connection(session)
    await conn.copy_records_to_table(
        "ingest_snapshots", records=snapshots, columns=list(SNAPSHOT_COLUMNS)
    )
    # Only what this call really inserted moves the product's state and listing on: a copy
    # already stored by an earlier page or an earlier attempt changes nothing.
    inserted = {row[0] for row in await conn.fetch(_MOVE_SNAPSHOTS + " RETURNING product_id")}
    fresh = {pid: it for pid, it in by_product.items() if pid in inserted}
    listings = [
        _listing_record(pid, run_id, captured_at, it.listing)
        for pid, it in fresh.items()
        # Only good data versions the listing; a partial page must not look like a change.
        if it.listing is not None and it.status is CrawlStatus.OK
    ]
    if listings:
        await conn.copy_records_to_table(
            "ingest_listings", records=listings, columns=list(LISTING_COLUMNS)
        )
        await conn.execute(_MOVE_LISTINGS)
    await session.execute(
        text(_UPDATE_PRODUCTS),
        {
            "captured_at": captured_at,
            "ids": list(fresh),
            "statuses": [it.status.value for it in fresh.values()],
        },
    )
    ok = sum(1 for it in by_product.values() if it.status is CrawlStatus.OK)
    return PageResult(
        items=len(by_product),
        ok=ok,
        failed=len(by_product) - ok,
        product_ids=frozenset(by_product),
    )


async def ingested_product_ids(
    session: AsyncSession, run_id: uuid.UUID, captured_at: datetime, product_ids: Sequence[int]
) -> set[int]:
    """Which of the batch's products already have their snapshot for this run."""
    rows = await session.execute(
        text(
            "SELECT product_id FROM snapshots WHERE crawl_run_id = :run "
            "AND captured_at = :captured AND product_id = ANY(:ids)"
        ),
        {"run": run_id, "captured": captured_at, "ids": list(product_ids)},
    )
    return {r[0] for r in rows}


async def record_missing(
    session: AsyncSession,
    run_id: uuid.UUID,
    captured_at: datetime,
    product_ids: Sequence[int],
    give_up_after: int,
) -> list[int]:
    """Release products absent from a run for a later batch; after too many misses record an
    error snapshot instead. Returns the ids that were given up on this time."""
    if not product_ids:
        return []
    rows = await session.execute(
        text(
            "UPDATE products SET missing_count = missing_count + 1, crawl_pending_until = NULL "
            "WHERE id = ANY(:ids) RETURNING id, missing_count"
        ),
        {"ids": list(product_ids)},
    )
    given_up = [r[0] for r in rows if r[1] >= give_up_after]
    if given_up:
        error = ParsedItem(
            asin="",
            marketplace=None,
            status=CrawlStatus.ERROR,
            error=f"missing from the actor's results {give_up_after} times in a row",
        )
        await write_page(session, run_id, captured_at, [(pid, error) for pid in given_up])
    return given_up


async def status_counts(
    session: AsyncSession, run_id: uuid.UUID, captured_at: datetime, product_ids: Sequence[int]
) -> dict[str, int]:
    """Snapshots of this run per crawl status."""
    rows = await session.execute(
        text(
            "SELECT status, count(*) FROM snapshots WHERE crawl_run_id = :run "
            "AND captured_at = :captured AND product_id = ANY(:ids) GROUP BY status"
        ),
        {"run": run_id, "captured": captured_at, "ids": list(product_ids)},
    )
    return {r[0]: int(r[1]) for r in rows}
