"""The listing score: components, weights, what would raise each, marketplace title limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.optimization.score import (
    TITLE_LIMITS,
    score_listing,
    title_limit,
)
from tests.unit.optimization.fixtures import good_listing, real_axesso_listing, weak_listing

WEIGHTS = {
    "title": 25,
    "bullets": 20,
    "description": 10,
    "images": 20,
    "price_position": 10,
    "rating_reviews": 15,
}


def test_components_and_weights_add_up_to_100() -> None:
    score = score_listing(good_listing())
    assert {c.name: c.weight for c in score.components} == WEIGHTS
    assert sum(WEIGHTS.values()) == 100
    assert score.total == 100
    assert all(not c.raise_by for c in score.components)


def test_a_weak_listing_scores_low_and_every_component_says_how_to_raise_it() -> None:
    score = score_listing(weak_listing())
    assert score.total < 40
    for c in score.components:
        assert 0 <= c.score < c.weight
        assert c.raise_by, c.name
    title = score.component("title")
    assert title.checks["no_banned_patterns"] == 0
    assert any("HEADPHONES" in r for r in title.raise_by)
    assert any("!" in r for r in title.raise_by)
    assert any("promotional" in r for r in title.raise_by)
    assert any("Quietly" in r for r in title.raise_by)  # the brand is missing
    bullets = score.component("bullets")
    assert bullets.checks["no_duplicates"] == 0
    assert "Add 3 bullet(s) (2 of 5)" in bullets.raise_by
    price = score.component("price_position")
    assert any("36.38% above" in r and "21.99" in r for r in price.raise_by)


def test_title_over_the_marketplace_limit_loses_its_length_points() -> None:
    assert title_limit("US") == TITLE_LIMITS["US"] == 200
    long_title = ("Pulse Open Ear Headphones " + "with lots of words " * 12).strip()
    score = score_listing(good_listing(title=long_title))
    title = score.component("title")
    assert len(long_title) > 200
    assert title.checks["length"] == 0
    assert f"Shorten the title to 200 characters at most (now {len(long_title)})" in title.raise_by


def test_leading_terms_come_from_competitor_keywords() -> None:
    buried = "Pulse " + "x" * 90 + " Open Ear Headphones Waterproof"
    title = score_listing(good_listing(title=buried)).component("title")
    assert title.checks["leading_terms"] == 0
    assert any("first 80 characters" in r for r in title.raise_by)


def test_without_competitor_prices_the_price_component_is_left_out_and_total_rescaled() -> None:
    score = score_listing(good_listing(competitors=(), keywords=()))
    price = score.component("price_position")
    assert price.applicable is False
    assert score.total == 100  # not penalised for having no group


def test_price_position_falls_to_zero_at_25_percent_above_the_median() -> None:
    at_median = score_listing(good_listing(price=Decimal("21.99"))).component("price_position")
    above = score_listing(good_listing(price=Decimal("24.19"))).component("price_position")
    far = score_listing(good_listing(price=Decimal("30.00"))).component("price_position")
    assert at_median.score == 10
    assert 0 < above.score < 10
    assert far.score == 0


@pytest.mark.parametrize(
    ("rating", "expected"),
    [(None, 0), (Decimal("3.5"), 0), (Decimal("4.0"), 4), (Decimal("4.8"), 8)],
)
def test_rating_points(rating: Decimal | None, expected: float) -> None:
    assert (
        score_listing(good_listing(rating=rating)).component("rating_reviews").checks["rating"]
        == expected
    )


def test_the_real_apify_item_scores_deterministically() -> None:
    facts = real_axesso_listing()
    first, second = score_listing(facts), score_listing(facts)
    assert first == second
    assert 0 <= first.total <= 100
    assert first.component("price_position").applicable is False
    assert first.component("title").checks["brand"] == 5  # "... by Anker" / brand Soundcore
