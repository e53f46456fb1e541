"""The positioning report's shape, and the rule-based report built from the comparison when no
API key is set (the LLM prompt, in ``prompts``, answers with the same ``PositioningReport``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from services.competitor.comparison import Comparison


class Recommendation(BaseModel):
    priority: int = Field(ge=1, le=8, description="1 = do first")
    action: str
    rationale: str = Field(description="Why, citing the comparison's numbers")
    expected_impact: str
    impact: Literal["high", "medium", "low"]


class PositioningReport(BaseModel):
    summary: str
    strengths: list[str] = Field(min_length=1, max_length=8)
    weaknesses: list[str] = Field(min_length=1, max_length=8)
    opportunities: list[str] = Field(min_length=1, max_length=8)
    threats: list[str] = Field(min_length=1, max_length=8)
    recommendations: list[Recommendation] = Field(min_length=3, max_length=8)

    @model_validator(mode="after")
    def _by_priority(self) -> PositioningReport:
        # Shown in priority order whatever order the model wrote them in.
        self.recommendations.sort(key=lambda r: r.priority)
        return self


def _money(value: Decimal | None, currency: str | None) -> str:
    return "n/a" if value is None else f"{value:.2f} {currency or ''}".strip()


def rule_based_report(c: Comparison) -> PositioningReport:
    """A deterministic report from the comparison alone (shown as ``rule_based``)."""
    p, cur = c.price, c.price.currency
    strengths: list[str] = []
    weaknesses: list[str] = []
    opportunities: list[str] = []
    threats: list[str] = []
    recs: list[tuple[int, Recommendation]] = []  # (weight, rec): higher weight first

    if p.vs_median_pct is not None and p.median_competitor_price is not None:
        where = (
            f"{abs(p.vs_median_pct)}% {'above' if p.vs_median_pct > 0 else 'below'} the "
            f"competitor median of {_money(p.median_competitor_price, cur)}"
        )
        position = f"price rank {p.rank} of {p.ranked_of} (percentile {p.percentile})"
        if p.vs_median_pct > 5:
            weaknesses.append(f"Priced {where}; {position}.")
            cheaper = [d for d in p.competitors if d.diff_abs is not None and d.diff_abs > 0]
            if cheaper:
                threats.append(
                    f"{len(cheaper)} competitor(s) undercut you, by up to "
                    f"{_money(max(d.diff_abs for d in cheaper if d.diff_abs), cur)}."
                )
            recs.append(
                (
                    90,
                    Recommendation(
                        priority=1,
                        action="Review the price against the competitor median",
                        rationale=f"Your price {_money(p.main_price, cur)} is {where}; {position}.",
                        expected_impact="Closing part of the gap should lift conversion and "
                        "Buy Box share.",
                        impact="high",
                    ),
                )
            )
        elif p.vs_median_pct < -5:
            strengths.append(f"Priced {where}; {position}.")
            recs.append(
                (
                    50,
                    Recommendation(
                        priority=1,
                        action="Test a small price increase",
                        rationale=f"Your price {_money(p.main_price, cur)} is {where}, so there "
                        "is room before you lose the price advantage.",
                        expected_impact="Higher margin per unit at a similar conversion rate.",
                        impact="medium",
                    ),
                )
            )
        else:
            strengths.append(f"Priced in line with the market: {where}; {position}.")
    if p.without_price:
        opportunities.append(f"No current price for {', '.join(p.without_price)}.")

    b = c.bsr
    if b.shared_category and b.main_rank is not None:
        behind = [g for g in b.competitors if g.gap is not None and g.gap > 0]
        ahead = [g for g in b.competitors if g.gap is not None and g.gap < 0]
        if behind:
            worst = max(behind, key=lambda g: g.gap or 0)
            weaknesses.append(
                f"Best Sellers Rank {b.main_rank} in {b.shared_category}: {len(behind)} "
                f"competitor(s) rank better, {worst.asin} by {worst.gap} places."
            )
            recs.append(
                (
                    70,
                    Recommendation(
                        priority=1,
                        action=f"Close the sales-rank gap in {b.shared_category}",
                        rationale=f"You rank {b.main_rank}; {worst.asin} ranks {worst.rank} "
                        f"({worst.gap} places ahead).",
                        expected_impact="Better rank means more organic visibility.",
                        impact="high",
                    ),
                )
            )
        if ahead:
            strengths.append(
                f"Best Sellers Rank {b.main_rank} in {b.shared_category} beats "
                f"{len(ahead)} competitor(s)."
            )
    elif b.note:
        opportunities.append(b.note)

    r = c.reviews
    for e in r.competitors:
        if e.rating_advantage is not None and e.rating_advantage <= Decimal("-0.2"):
            weaknesses.append(
                f"Rating {r.main_rating} trails {e.asin} ({e.rating}) by {-e.rating_advantage}."
            )
        elif e.rating_advantage is not None and e.rating_advantage >= Decimal("0.2"):
            strengths.append(f"Rating {r.main_rating} leads {e.asin} ({e.rating}).")
    faster = [
        e
        for e in r.competitors
        if e.reviews_per_30d is not None
        and r.main_reviews_per_30d is not None
        and e.reviews_per_30d > r.main_reviews_per_30d
    ]
    if faster:
        top = max(faster, key=lambda e: e.reviews_per_30d or 0)
        threats.append(
            f"{top.asin} gains {top.reviews_per_30d} reviews per 30 days against your "
            f"{r.main_reviews_per_30d}."
        )
        recs.append(
            (
                60,
                Recommendation(
                    priority=1,
                    action="Increase review velocity (Request a Review, Vine, inserts)",
                    rationale=f"{top.asin} gains {top.reviews_per_30d} reviews per 30 days; "
                    f"you gain {r.main_reviews_per_30d}; you have {r.main_review_count} "
                    "reviews in total.",
                    expected_impact="More recent reviews support rating and conversion.",
                    impact="medium",
                ),
            )
        )
    behind_count = [
        e
        for e in r.competitors
        if e.review_count_advantage is not None and e.review_count_advantage < 0
    ]
    if behind_count:
        weaknesses.append(
            f"{len(behind_count)} competitor(s) have more reviews than your {r.main_review_count}."
        )

    main_listing = next((entry for entry in c.listing if entry.asin == c.main_asin), None)
    if main_listing is not None:
        others = [entry.score for entry in c.listing if entry.asin != c.main_asin]
        best = max(others) if others else None
        gaps = []
        if main_listing.bullet_count < 5:
            gaps.append(f"{main_listing.bullet_count} of 5 bullets")
        if (main_listing.image_count or 0) < 7:
            gaps.append(f"{main_listing.image_count or 0} of 7 images")
        if not main_listing.video_count:
            gaps.append("no video")
        if not 80 <= main_listing.title_length <= 200:
            gaps.append(f"a {main_listing.title_length}-character title")
        if gaps:
            opportunities.append(
                f"Listing completeness {main_listing.score}/100: {', '.join(gaps)}."
            )
            recs.append(
                (
                    55 + (10 if best is not None and best > main_listing.score else 0),
                    Recommendation(
                        priority=1,
                        action="Complete the listing: " + ", ".join(gaps),
                        rationale=f"Your listing scores {main_listing.score}/100"
                        + (
                            f" against a best competitor score of {best}/100."
                            if best is not None
                            else "."
                        ),
                        expected_impact="A complete listing converts better and ranks for more "
                        "searches.",
                        impact="medium",
                    ),
                )
            )
        else:
            strengths.append(f"Complete listing: {main_listing.score}/100.")

    f = c.features
    if f.missing_from_main:
        top_claims = f.missing_from_main[:5]
        terms = ", ".join(f"'{m.term}' ({len(m.claimed_by)})" for m in top_claims)
        opportunities.append(f"Claims competitors make that you do not: {terms}.")
        recs.append(
            (
                65,
                Recommendation(
                    priority=1,
                    action="Address the competitors' claims in title and bullets where true",
                    rationale=f"Competitors claim {terms} (number of competitors in brackets); "
                    "your listing does not.",
                    expected_impact="Matches more shopper searches and comparison checks.",
                    impact="medium",
                ),
            )
        )
    if f.unique_to_main:
        strengths.append(f"Claims only you make: {', '.join(f.unique_to_main[:5])}.")
        recs.append(
            (
                40,
                Recommendation(
                    priority=1,
                    action="Lead with your unique claims",
                    rationale=f"No competitor claims {', '.join(f.unique_to_main[:3])}.",
                    expected_impact="Clearer differentiation in search results.",
                    impact="low",
                ),
            )
        )
    holders = {e.asin: e.holder for e in c.buybox}
    if holders.get(c.main_asin) is None:
        threats.append("Nobody holds the Buy Box on your listing right now.")
    if c.not_found:
        threats.append(f"No data for {', '.join(c.not_found)} (not found or not crawled yet).")

    # Always at least three recommendations: fill with monitoring steps that cite the numbers.
    fillers = [
        Recommendation(
            priority=1,
            action="Watch the competitors' prices daily",
            rationale=f"The competitor median is {_money(p.median_competitor_price, cur)} and "
            f"your price is {_money(p.main_price, cur)}.",
            expected_impact="React to undercutting before the Buy Box moves.",
            impact="low",
        ),
        Recommendation(
            priority=1,
            action="Re-run this report after your next listing change",
            rationale=f"It compares {len(c.members)} products; "
            f"{len(f.missing_from_main)} competitor claims are missing from your listing.",
            expected_impact="Measures whether the change moved your position.",
            impact="low",
        ),
        Recommendation(
            priority=1,
            action="Keep the rating above the competitors'",
            rationale=f"Your rating is {r.main_rating} with {r.main_review_count} reviews.",
            expected_impact="Protects conversion as competitors gain reviews.",
            impact="low",
        ),
    ]
    ordered = [rec for _, rec in sorted(recs, key=lambda item: -item[0])][:8]
    for filler in fillers:
        if len(ordered) >= 3:
            break
        ordered.append(filler)
    ranked = [rec.model_copy(update={"priority": i}) for i, rec in enumerate(ordered, start=1)]

    summary = (
        f"Against {len(c.members) - 1} competitors in {c.marketplace}: price "
        f"{_money(p.main_price, cur)}"
        + (f", rank {p.rank} of {p.ranked_of}" if p.rank is not None else "")
        + (
            f", {p.vs_median_pct}% vs the median of {_money(p.median_competitor_price, cur)}"
            if p.vs_median_pct is not None
            else ""
        )
        + (
            f"; BSR {b.main_rank} in {b.shared_category}"
            if b.shared_category and b.main_rank is not None
            else "; no shared sales-rank category"
        )
        + f"; rating {r.main_rating} from {r.main_review_count} reviews."
    )
    none = "Nothing stands out in the comparison."
    return PositioningReport(
        summary=summary,
        strengths=strengths[:8] or [none],
        weaknesses=weaknesses[:8] or [none],
        opportunities=opportunities[:8] or [none],
        threats=threats[:8] or [none],
        recommendations=ranked,
    )
