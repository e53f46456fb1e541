"""The deterministic comparison on hand-made groups."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.competitor.comparison import BsrEntry, MemberData, claim_terms, compare

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
HEADPHONES = "Headphones & Earbuds"
OPEN_EAR = "Open-Ear Headphones"


def member(asin: str, role: str = "competitor", **values: object) -> MemberData:
    base: dict[str, object] = {
        "role": role,
        "asin": asin,
        "marketplace": "US",
        "as_of": NOW,
        "currency": "USD",
        "price": Decimal("30.00"),
        "buybox_price": Decimal("30.00"),
        "buybox_seller": "Amazon.com",
        "in_stock": True,
        "rating": Decimal("4.3"),
        "review_count": 1000,
        "review_count_30d_ago": 940,
        "review_window_days": 30,
        "bsr": [
            BsrEntry(rank=5000, category="Electronics"),
            BsrEntry(rank=40, category=OPEN_EAR),
        ],
        "title": "Acme Open-Ear Headphones, Bluetooth 5.4 Wireless Earbuds, IP55 Sweatproof",
        "brand": "Acme",
        "bullets": ["Stay Aware: hear traffic while the music plays."],
        "image_count": 5,
        "video_count": 0,
    }
    base.update(values)
    return MemberData.model_validate(base)


def group() -> list[MemberData]:
    return [
        member(
            "MAIN000001",
            "main",
            price=Decimal("25.00"),
            rating=Decimal("4.5"),
            review_count=800,
            review_count_30d_ago=770,
            bsr=[BsrEntry(rank=3000, category="Electronics"), BsrEntry(rank=25, category=OPEN_EAR)],
            bullets=[
                "Stay Aware: hear traffic while the music plays.",
                "Titanium Frame: bends without breaking.",
            ],
            image_count=7,
            video_count=1,
        ),
        member(
            "COMP000001",
            price=Decimal("20.00"),
            bullets=["Long Battery Life: 36 hours with the case.", "Clear Calls: four mics."],
        ),
        member("COMP000002", price=Decimal("40.00"), rating=Decimal("4.0"), review_count=1200),
        member(
            "COMP000003",
            price=Decimal("30.00"),
            bsr=[BsrEntry(rank=9000, category="Electronics"), BsrEntry(rank=10, category=OPEN_EAR)],
            bullets=["Long Battery Life: 40 hours in total."],
        ),
    ]


def test_price_differences_rank_percentile_and_median() -> None:
    price = compare(group()).price

    by_asin = {d.asin: d for d in price.competitors}
    assert by_asin["COMP000001"].diff_abs == Decimal("5.00")
    assert by_asin["COMP000001"].diff_pct == Decimal("25.00")
    assert by_asin["COMP000002"].diff_abs == Decimal("-15.00")
    assert by_asin["COMP000002"].diff_pct == Decimal("-37.50")
    assert price.rank == 2 and price.ranked_of == 4
    assert price.percentile == Decimal("33.33")
    assert price.median_competitor_price == Decimal("30.00")
    assert price.vs_median_abs == Decimal("-5.00") and price.vs_median_pct == Decimal("-16.67")
    assert price.without_price == []


def test_bsr_gap_in_the_shared_subcategory_is_named() -> None:
    bsr = compare(group()).bsr

    assert bsr.shared_category == OPEN_EAR and bsr.main_rank == 25
    assert {g.asin: g.gap for g in bsr.competitors} == {
        "COMP000001": -15,
        "COMP000002": -15,
        "COMP000003": 15,
    }


def test_members_sharing_no_subcategory_get_no_gap_and_a_note() -> None:
    members = group()
    members[1] = member("COMP000001", bsr=[BsrEntry(rank=12, category="Kitchen Scales")])

    bsr = compare(members).bsr

    assert bsr.shared_category is None and bsr.main_rank is None
    assert all(g.gap is None for g in bsr.competitors)
    assert bsr.note is not None and "no Best Sellers Rank category" in bsr.note


def test_a_member_without_price_is_left_out_of_the_price_position() -> None:
    members = group()
    members[2] = member("COMP000002", price=None, buybox_price=None)

    price = compare(members).price

    assert price.without_price == ["COMP000002"]
    assert next(d for d in price.competitors if d.asin == "COMP000002").diff_abs is None
    assert price.ranked_of == 3 and price.rank == 2
    assert price.median_competitor_price == Decimal("25.00")


def test_a_member_not_found_is_reported_and_compared_with_nothing() -> None:
    members = group()
    members[3] = member("COMP000003", found=False, price=None, rating=None, bsr=[], bullets=[])

    result = compare(members)

    assert result.not_found == ["COMP000003"]
    assert "COMP000003" not in {entry.asin for entry in result.listing}
    assert next(r for r in result.reviews.competitors if r.asin == "COMP000003").rating is None
    assert all("COMP000003" not in c.claimed_by for c in result.features.missing_from_main)


def test_rating_review_count_and_velocity() -> None:
    reviews = compare(group()).reviews

    assert reviews.main_rating == Decimal("4.5") and reviews.main_reviews_per_30d == Decimal("30.0")
    comp2 = next(r for r in reviews.competitors if r.asin == "COMP000002")
    assert comp2.rating_advantage == Decimal("0.50") and comp2.review_count_advantage == -400
    assert comp2.reviews_per_30d == Decimal("260.0")


def test_listing_completeness_scores() -> None:
    listing = {entry.asin: entry for entry in compare(group()).listing}

    main = listing["MAIN000001"]
    assert (main.bullet_count, main.image_count, main.video_count) == (2, 7, 1)
    assert main.score > listing["COMP000002"].score


def test_features_missing_from_main_and_unique_to_main_are_normalised_terms() -> None:
    feats = compare(group()).features

    missing = {c.term: c.claimed_by for c in feats.missing_from_main}
    # Two competitors claim battery life; the main product never does.
    assert missing["long battery"] == ["COMP000001", "COMP000003"]
    assert "stay aware" not in missing  # the main product says it too
    assert "titanium frame" in feats.unique_to_main
    assert "Titanium Frame" not in feats.unique_to_main


def test_claim_terms_drop_brand_stopwords_and_plurals() -> None:
    terms = claim_terms(["Acme Clear Calls with 4 Mics"], brand="Acme")

    assert {"clear call", "mic", "clear", "call"} <= terms
    assert "acme" not in terms and "with" not in terms


def test_a_group_needs_exactly_one_main() -> None:
    with pytest.raises(ValueError):
        compare([member("COMP000001"), member("COMP000002")])


def test_claim_terms_skip_glue_words_of_every_marketplace_language() -> None:
    # A German and a French listing: articles and prepositions are never claims.
    terms = claim_terms(["Thermosflasche mit der Isolierung", "Gourde pour le sport"])
    assert {"mit", "der", "pour", "le"}.isdisjoint(terms)
    assert {"thermosflasche", "isolierung", "gourde", "sport"} <= terms
