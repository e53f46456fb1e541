"""The rows a page write stores: the listing hash every stored version was compared by, and the
JSON of the lists, built without ``json.dumps`` but the same."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.product.apify.item import BsrEntry, CrawlStatus, ListingContent, ParsedItem
from services.product.repository.snapshots import (
    LISTING_COLUMNS,
    SNAPSHOT_COLUMNS,
    _listing_record,
    _snapshot_record,
    listing_hash,
)

AWKWARD = 'a "quoted" back\\slash, new\nline\ttab \x01\x1f\x7f é 位 € \u2028 \U0001f600 ,: [] {}'
LISTINGS = [
    ListingContent(title=None, brand=None),
    ListingContent(title="", brand="", bullets=("",), images=("",), category_path=("",)),
    ListingContent(
        title="Vireo Chef Knife C20X - Razor Sharp",
        brand="Vireo",
        bullets=("Comfortable Grip: ergonomic handle.", "Lifetime Warranty."),
        description="Vireo C20X Chef Knife.",
        images=("https://m.media-amazon.com/images/I/5KXkv2OPSSL._AC_SL1500_.jpg",),
        video_count=2,
        category_path=("Home & Kitchen", "Chef's Knives"),
    ),
    ListingContent(
        title=AWKWARD,
        brand=AWKWARD[:10],
        bullets=(AWKWARD, AWKWARD[::-1]),
        description=AWKWARD * 3,
        images=(AWKWARD,),
        video_count=0,
        category_path=(AWKWARD, "x"),
    ),
]
RUN, CAPTURED = uuid.uuid4(), datetime(2026, 11, 22, tzinfo=UTC)


def _dumps_hash(listing: ListingContent) -> str:
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


@pytest.mark.parametrize("listing", LISTINGS)
def test_the_listing_hash_is_the_one_stored_versions_carry(listing: ListingContent) -> None:
    """Stored versions were hashed over json.dumps: a different hash for the same content would
    make every product look changed once."""
    assert listing_hash(listing) == _dumps_hash(listing)


@pytest.mark.parametrize("listing", LISTINGS)
def test_listing_rows_hold_the_lists_as_json(listing: ListingContent) -> None:
    row = dict(zip(LISTING_COLUMNS, _listing_record(7, RUN, CAPTURED, listing), strict=True))
    assert row["content_hash"] == _dumps_hash(listing)
    assert json.loads(row["bullets"]) == list(listing.bullets)
    assert json.loads(row["images"]) == list(listing.images)
    assert json.loads(row["category_path"]) == list(listing.category_path)


@pytest.mark.parametrize(
    "bsr",
    [(), (BsrEntry(1806, "Chef's Knives"),), (BsrEntry(1, AWKWARD), BsrEntry(2**40, "x"))],
)
def test_snapshot_rows_hold_the_ranks_as_json(bsr: tuple[BsrEntry, ...]) -> None:
    item = ParsedItem("B000000000", None, CrawlStatus.OK, price=Decimal("9.99"), bsr=bsr)
    row = dict(zip(SNAPSHOT_COLUMNS, _snapshot_record(7, RUN, CAPTURED, item), strict=True))
    assert json.loads(row["bsr"]) == [{"rank": b.rank, "category": b.category} for b in bsr]
    assert row["price"] == Decimal("9.99")
