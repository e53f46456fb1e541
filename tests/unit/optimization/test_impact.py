"""Impact evaluation on seeded daily histories: a known effect, pure noise, gaps."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from services.optimization.impact import PER_METRIC_LEVEL, evaluate, mann_whitney, overall

LIVE = datetime(2026, 10, 1, 12, tzinfo=UTC)


def history(
    days: range,
    *,
    seed: int,
    bsr: float = 1000,
    bsr_sd: float = 60,
    holder_share: float = 0.9,
    reviews_per_day: float = 5,
    skip: set[int] | None = None,
) -> list[dict[str, Any]]:
    """One snapshot a day (day 0 = the change), noisy around the given levels."""
    rng = random.Random(seed)
    rows = []
    reviews = 1000 + (days.start * reviews_per_day)
    for d in days:
        reviews += max(0, round(rng.gauss(reviews_per_day, 1.5)))
        if skip and d in skip:
            continue
        rows.append(
            {
                "captured_at": LIVE + timedelta(days=d, hours=rng.uniform(-2, 2)),
                "price": 20 + rng.gauss(0, 0.2),
                "buybox_price": 20,
                "buybox_seller": "MyShop" if rng.random() < holder_share else "Other",
                "rating": 4.4 + rng.gauss(0, 0.02),
                "review_count": reviews,
                "in_stock": rng.random() < 0.95,
                "bsr": [
                    {"rank": 20000, "category": "Electronics"},
                    {"rank": max(1, round(rng.gauss(bsr, bsr_sd))), "category": "Earbuds"},
                ],
            }
        )
    return rows


def metric(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in result["metrics"] if m["metric"] == name)


def test_a_known_effect_is_improved_with_its_numbers() -> None:
    before = history(range(-14, 0), seed=1, bsr=1000)
    after = history(range(14), seed=2, bsr=700)  # rank 30 % better after the change
    result = evaluate(before, after, min_days=7)
    bsr = metric(result, "bsr")
    assert bsr["verdict"] == "improved"
    assert bsr["direction"] == "lower_is_better"
    assert bsr["days_before"] == 14 and bsr["days_after"] == 14
    assert -350 < bsr["difference"] < -250
    low, high = bsr["interval"]
    assert low < bsr["shift"] < high < 0
    assert bsr["p_value"] < 0.01
    assert bsr["note"] == "rank in Earbuds"
    assert result["verdict"] == "improved"
    assert "Mann-Whitney" in result["method"] and "1% level per metric" in result["method"]
    assert result["level"] == 0.95 and bsr["level"] == PER_METRIC_LEVEL == 0.99


def test_a_known_drop_is_worse() -> None:
    before = history(range(-14, 0), seed=3, bsr=1000)
    after = history(range(14), seed=4, bsr=1400)
    result = evaluate(before, after, min_days=7)
    assert metric(result, "bsr")["verdict"] == "worse"
    assert result["verdict"] == "worse"


def test_pure_noise_is_no_clear_change() -> None:
    before = history(range(-14, 0), seed=5)
    after = history(range(14), seed=6)
    result = evaluate(before, after, min_days=7)
    for m in result["metrics"]:
        assert m["verdict"] == "no_clear_change", m
        assert m["p_value"] >= 0.01
    assert result["verdict"] == "no_clear_change"


def test_noise_is_rarely_called_a_change_at_the_stated_level() -> None:
    changed = sum(
        evaluate(
            history(range(-14, 0), seed=100 + s), history(range(14), seed=200 + s), min_days=7
        )["verdict"]
        != "no_clear_change"
        for s in range(60)
    )
    assert changed <= 6  # 5 % family-wise, with room for sampling


def test_gaps_are_insufficient_data() -> None:
    before = history(range(-14, 0), seed=8, skip=set(range(-14, -4)))  # 4 days left
    after = history(range(14), seed=9, bsr=500)
    result = evaluate(before, after, min_days=7)
    for m in result["metrics"]:
        assert m["verdict"] == "insufficient_data"
        assert m["difference"] is None
    assert metric(result, "bsr")["days_before"] == 4
    assert result["verdict"] == "insufficient_data"


def test_no_data_at_all_is_insufficient_data() -> None:
    assert evaluate([], [], min_days=7)["verdict"] == "insufficient_data"


def test_the_same_data_gives_the_same_result() -> None:
    before = history(range(-14, 0), seed=1)
    after = history(range(14), seed=2, bsr=900)
    assert evaluate(before, after, min_days=7) == evaluate(before, after, min_days=7)


def test_buybox_share_and_review_velocity_are_measured() -> None:
    before = history(range(-14, 0), seed=1, holder_share=0.65, reviews_per_day=2)
    after = history(range(14), seed=2, holder_share=1.0, reviews_per_day=12)
    result = evaluate(before, after, min_days=7)
    share = metric(result, "buybox_share")
    assert share["verdict"] == "improved" and share["mean_after"] == 1.0
    assert "MyShop" in share["note"]
    velocity = metric(result, "review_velocity")
    assert velocity["verdict"] == "improved"
    assert 8 < velocity["difference"] < 12


def test_price_moving_towards_the_proposed_price_is_the_intended_change() -> None:
    before = history(range(-14, 0), seed=1)
    after = [dict(r, price=r["price"] - 3) for r in history(range(14), seed=2)]
    towards = evaluate(before, after, min_days=7, proposed_price=17.0)
    assert metric(towards, "price")["verdict"] == "improved"
    away = evaluate(before, after, min_days=7, proposed_price=25.0)
    assert metric(away, "price")["verdict"] == "worse"
    context = evaluate(before, after, min_days=7)
    assert metric(context, "price")["verdict"] == "no_clear_change"
    assert metric(context, "price")["direction"] == "context"


def test_mann_whitney_matches_a_hand_computed_case() -> None:
    u, z, p = mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert u == 25  # every after value above every before value
    assert round(p, 4) == 0.0122  # normal approximation with continuity correction


def test_overall_mixed_results_are_no_clear_change() -> None:
    rows = [
        {"metric": "bsr", "verdict": "improved"},
        {"metric": "rating", "verdict": "worse"},
    ]
    assert overall(rows) == "no_clear_change"
