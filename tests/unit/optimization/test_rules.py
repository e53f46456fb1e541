"""Every rule of the suggestion engine on fixtures, and the ordering by expected impact."""

from __future__ import annotations

from decimal import Decimal

from services.optimization.rules import rewrite_title, suggest
from services.optimization.score import score_listing
from tests.unit.optimization.fixtures import good_listing, weak_listing


def by_type(facts: object) -> dict[str, object]:
    drafts = suggest(facts, score_listing(facts))  # type: ignore[arg-type]
    return {d.type: d for d in drafts}


def test_a_weak_listing_gets_all_five_types_ordered_by_expected_impact() -> None:
    facts = weak_listing()
    drafts = suggest(facts, score_listing(facts))
    assert {d.type for d in drafts} == {"title", "pricing", "bullets", "images", "keywords"}
    impacts = [d.expected_impact for d in drafts]
    assert impacts == sorted(impacts, reverse=True)
    assert all(d.source == "rules" for d in drafts)
    assert all(d.priority in ("high", "medium", "low") for d in drafts)


def test_title_rule_rewrites_inside_the_limit_with_brand_and_competitor_terms() -> None:
    title = by_type(weak_listing())["title"]
    proposed = title.proposed_change["proposed"]  # type: ignore[attr-defined]
    assert len(proposed) <= 200
    assert proposed.startswith("Quietly ")
    assert "!" not in proposed and "HEADPHONES" not in proposed
    assert "best seller" not in proposed.lower()
    assert proposed.lower().count("earbuds") <= 2
    assert "Open Ear Headphone" in proposed
    assert "Title scores" in title.reason  # type: ignore[attr-defined]


def test_rewrite_never_exceeds_the_limit() -> None:
    long = "Pulse " + " ".join(f"word{i}" for i in range(60))
    out = rewrite_title(good_listing(title=long), ["open ear headphone", "waterproof"])
    assert len(out) <= 200
    assert not out.endswith((",", " "))


def test_pricing_rule_proposes_the_median_with_its_position() -> None:
    pricing = by_type(weak_listing())["pricing"]
    change = pricing.proposed_change  # type: ignore[attr-defined]
    assert change["current"] == 29.99
    assert change["proposed"] == 21.99
    assert change["position_now"]["rank"] == 4 and change["position_now"]["of"] == 4
    assert change["position_after"]["rank"] == 2
    assert "36.38% above the median 21.99 USD of 3 competitors" in pricing.reason  # type: ignore[attr-defined]
    assert pricing.evidence["competitor_prices"] == [19.99, 21.99, 24.99]  # type: ignore[attr-defined]


def test_pricing_rule_raises_a_price_far_below_the_group() -> None:
    pricing = by_type(good_listing(price=Decimal("14.99")))["pricing"]
    assert pricing.proposed_change["proposed"] == 20.89  # type: ignore[attr-defined]
    assert "below the competitors' median" in pricing.reason  # type: ignore[attr-defined]


def test_pricing_rule_is_silent_near_the_median() -> None:
    assert "pricing" not in by_type(good_listing(price=Decimal("22.50")))


def test_bullets_rule_names_the_bullets_to_add_from_competitor_claims() -> None:
    bullets = by_type(weak_listing())["bullets"]
    change = bullets.proposed_change  # type: ignore[attr-defined]
    assert change["add"] == 3
    assert len(change["proposed_topics"]) == 3
    assert any("competitors" in t for t in change["proposed_topics"])
    assert "Replace duplicated bullets with new information" in change["fixes"]


def test_images_rule_states_the_gap_against_competitors() -> None:
    images = by_type(weak_listing())["images"]
    assert images.proposed_change == {  # type: ignore[attr-defined]
        "field": "images",
        "add_images": 5,
        "add_video": True,
        "angles": [
            "in use / lifestyle",
            "size and scale",
            "close-up detail",
            "what's in the box",
            "infographic of key benefits",
        ],
    }
    assert "competitors median 8 images, 2 of 3 with video" in images.reason  # type: ignore[attr-defined]


def test_keywords_rule_cites_how_many_competitors_use_each_term() -> None:
    keywords = by_type(weak_listing())["keywords"]
    assert "'open ear headphone' (3 of 3)" in keywords.reason  # type: ignore[attr-defined]
    assert keywords.proposed_change["add"][0] == "open ear headphone"  # type: ignore[attr-defined]


def test_a_strong_listing_gets_little_and_no_competitors_means_no_keyword_rule() -> None:
    assert set(by_type(good_listing())) <= {"keywords"}
    assert "keywords" not in by_type(weak_listing(competitors=(), keywords=()))
    assert "pricing" not in by_type(weak_listing(competitors=(), keywords=()))
