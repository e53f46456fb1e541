"""Listing fixtures for the score and the rules: a strong listing, a weak one, competitors."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.optimization.keywords import competitor_keywords
from services.optimization.score import CompetitorFacts, ListingFacts
from services.product.apify.adapters import adapter_for

APIFY = Path(__file__).resolve().parents[2] / "fixtures" / "apify"

GOOD_BULLETS = (
    "LONG BATTERY LIFE: enjoy 40 hours of playtime with the charging case, and 10 minutes of "
    "charging gives 2 hours",
    "COMFORTABLE FIT: lightweight open-ear hooks stay secure during runs and keep your ears free",
    "POWERFUL SOUND: 16 mm drivers deliver deep bass, while the app lets you tune the equaliser",
    "WATERPROOF IPX7: sweat, rain and splashes are no problem, so you can train in any weather",
    "EASY PAIRING: Bluetooth 5.4 connects fast and stays stable; 18-month warranty included",
)

COMPETITORS = (
    CompetitorFacts(
        asin="B0COMP0001",
        title="Soundwave Open Ear Headphones Bluetooth, Noise Cancelling Wireless Earbuds",
        bullets=("Noise cancelling for calls", "Waterproof design for sport", "USB-C charging"),
        price=Decimal("19.99"),
        rating=Decimal("4.4"),
        review_count=5200,
        image_count=8,
        video_count=1,
    ),
    CompetitorFacts(
        asin="B0COMP0002",
        title="Bassline Wireless Earbuds, Open Ear Headphones with Noise Cancelling Mic",
        bullets=("Noise cancelling microphone", "Waterproof IPX5", "30h playtime"),
        price=Decimal("24.99"),
        rating=Decimal("4.2"),
        review_count=800,
        image_count=7,
        video_count=1,
    ),
    CompetitorFacts(
        asin="B0COMP0003",
        title="Trailrun Open Ear Headphones, Bluetooth Sport Earbuds, Waterproof",
        bullets=("Waterproof for running", "Secure ear hooks", "USB-C fast charging"),
        price=Decimal("21.99"),
        rating=Decimal("4.6"),
        review_count=3100,
        image_count=9,
        video_count=0,
    ),
)


def competitor_texts() -> list[list[str]]:
    return [[c.title or "", *c.bullets] for c in COMPETITORS]


def good_listing(**changes: Any) -> ListingFacts:
    """A listing that does almost everything right, priced at the competitors' median."""
    facts = ListingFacts(
        marketplace="US",
        asin="B0GOOD0001",
        title=(
            "Pulse Open Ear Headphones, Wireless Bluetooth 5.4 Earbuds with Ear Hooks, "
            "Waterproof Sport Earphones, Noise Cancelling Mic"
        ),
        brand="Pulse",
        bullets=GOOD_BULLETS,
        description="Pulse open-ear headphones are built for runners and commuters. " * 5,
        image_count=8,
        video_count=1,
        price=Decimal("21.99"),
        currency="USD",
        rating=Decimal("4.7"),
        review_count=2400,
        competitors=COMPETITORS,
        keywords=tuple(competitor_keywords(competitor_texts())),
    )
    return dataclasses.replace(facts, **changes)


def weak_listing(**changes: Any) -> ListingFacts:
    """A listing with a shouting, promotional title, few bullets and images, priced high."""
    facts = ListingFacts(
        marketplace="US",
        asin="B0WEAK0001",
        title="HEADPHONES!!! Best Seller - earbuds earbuds earbuds",
        brand="Quietly",
        bullets=("Good sound", "Good sound"),
        description=None,
        image_count=2,
        video_count=0,
        price=Decimal("29.99"),
        currency="USD",
        rating=Decimal("3.9"),
        review_count=12,
        competitors=COMPETITORS,
        keywords=tuple(competitor_keywords(competitor_texts())),
    )
    return dataclasses.replace(facts, **changes)


def real_axesso_listing() -> ListingFacts:
    """The real Apify item in shared/fixtures, through the real adapter, with no competitors."""
    raw = json.loads((APIFY / "axesso_product_details_B0D2XRXNGY.json").read_text())[0]
    item = adapter_for("axesso_data/amazon-product-details-scraper").parse(raw)
    assert item is not None and item.listing is not None
    return ListingFacts(
        marketplace="US",
        asin=item.asin,
        title=item.listing.title,
        brand=item.listing.brand,
        bullets=item.listing.bullets,
        description=item.listing.description,
        image_count=len(item.listing.images),
        video_count=item.listing.video_count,
        price=item.price,
        currency=item.currency,
        rating=item.rating,
        review_count=item.review_count,
    )
