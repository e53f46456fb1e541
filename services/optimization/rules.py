"""The rule engine: concrete suggestions from the listing score and the competitor evidence.

Each suggestion's expected impact is the listing-score points it would recover (the headroom of
the components it fixes), so the list is ordered by one comparable number; pricing adds the points
its component would gain. Rules always answer, with or without an LLM.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.optimization.keywords import Keyword, missing_keywords, tokens
from services.optimization.score import (
    BANNED_CHARS,
    BULLETS_TARGET,
    IMAGES_TARGET,
    PROMO_PATTERNS,
    ListingFacts,
    ListingScore,
    price_position,
    shouting_words,
    title_limit,
)

ANGLES = (
    "in use / lifestyle",
    "size and scale",
    "close-up detail",
    "what's in the box",
    "infographic of key benefits",
    "comparison chart",
    "packaging",
)
TYPES = ("title", "pricing", "bullets", "images", "keywords")


@dataclass(slots=True)
class SuggestionDraft:
    type: str
    summary: str
    proposed_change: dict[str, Any]
    reason: str
    evidence: dict[str, Any]
    expected_impact: float  # listing-score points
    source: str = "rules"
    priority: str = field(default="low")

    def __post_init__(self) -> None:
        self.expected_impact = round(self.expected_impact, 2)
        self.priority = priority_for(self.expected_impact)


def priority_for(impact: float) -> str:
    return "high" if impact >= 8 else "medium" if impact >= 4 else "low"


def _headroom(score: ListingScore, name: str, checks: tuple[str, ...] | None = None) -> float:
    c = score.component(name)
    if not c.applicable:
        return 0.0
    if checks is None:
        return c.weight - c.score
    # The maximum of each check is fixed by the score's definition.
    maxima = {
        "title": {
            "length": 8,
            "brand": 5,
            "leading_terms": 5,
            "readability": 4,
            "no_banned_patterns": 3,
        }
    }[name]
    return sum(maxima[k] - c.checks.get(k, 0) for k in checks)


def _drop_repeats(title: str) -> str:
    """Keep each word at most twice (Amazon's title rule), dropping later repeats."""
    seen: dict[str, int] = {}
    kept = []
    for word in title.split():
        key = "".join(tokens(word)) or word.lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= 2:
            kept.append(word)
    return " ".join(kept)


def rewrite_title(facts: ListingFacts, add_terms: list[str]) -> str:
    """The title cleaned of banned characters, promo phrases and shouting, brand first, with
    missing competitor terms appended while they fit the marketplace's limit."""
    limit = title_limit(facts.marketplace)
    title = facts.title or ""
    title = "".join(ch for ch in title if ch not in BANNED_CHARS)
    title = PROMO_PATTERNS.sub("", title)
    for word in shouting_words(title):
        title = re.sub(rf"\b{re.escape(word)}\b", word.capitalize(), title)
    title = _drop_repeats(title)
    title = re.sub(r"\s+", " ", re.sub(r"\s+([,;])", r"\1", title))
    title = re.sub(r"(\s*[-,;])+\s*$", "", re.sub(r"^\s*[-,;]+", "", title)).strip()
    brand = (facts.brand or "").strip()
    if brand and brand.lower() not in title.lower():
        title = f"{brand} {title}".strip()
    for term in add_terms:
        candidate = f"{title}, {term.title()}" if title else term.title()
        if len(candidate) <= limit:
            title = candidate
    if len(title) > limit:  # cut at a word boundary inside the limit
        title = title[:limit].rsplit(" ", 1)[0].rstrip(" ,;-")
    return title


def _title(facts: ListingFacts, score: ListingScore, missing: list[Keyword]) -> SuggestionDraft:
    comp = score.component("title")
    add = [k.term for k in missing[:3]]
    proposed = rewrite_title(facts, add)
    gain = _headroom(score, "title")
    limit = title_limit(facts.marketplace)
    return SuggestionDraft(
        type="title",
        summary="Rewrite the title",
        proposed_change={
            "field": "title",
            "current": facts.title,
            "proposed": proposed,
            "length": len(proposed),
            "limit": limit,
            "added_terms": [t for t in add if t.lower() in proposed.lower()],
        },
        reason=(
            f"Title scores {comp.score:g} of {comp.weight}: " + "; ".join(comp.raise_by)
            if comp.raise_by
            else f"Title scores {comp.score:g} of {comp.weight}"
        ),
        evidence={
            "title_length": len(facts.title or ""),
            "limit": limit,
            "checks": comp.checks,
            "competitor_terms": [
                {"term": k.term, "competitors": k.competitors} for k in missing[:3]
            ],
        },
        expected_impact=gain,
    )


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _pricing(facts: ListingFacts, score: ListingScore) -> SuggestionDraft | None:
    others = [c.price for c in facts.competitors if c.price is not None and c.price > 0]
    if facts.price is None or len(others) < 2:
        return None
    pos = price_position(facts.price, others)
    median = Decimal(str(pos["median"]))
    gap = pos["vs_median_pct"]
    cur = facts.currency or ""
    evidence = {
        "price": float(facts.price),
        "currency": facts.currency,
        "competitor_prices": sorted(float(p) for p in others),
        "position": pos,
    }
    if gap > 5:
        target = _money(median)
        new_pos = price_position(target, others)
        return SuggestionDraft(
            type="pricing",
            summary=f"Lower the price to the competitors' median {target} {cur}".strip(),
            proposed_change={
                "field": "price",
                "current": float(facts.price),
                "proposed": float(target),
                "position_now": pos,
                "position_after": new_pos,
            },
            reason=(
                f"At {facts.price} {cur} the price is {gap}% above the median "
                f"{median} {cur} of {len(others)} competitors (rank {pos['rank']} of "
                f"{pos['of']}, cheapest {pos['min']:.2f}, dearest {pos['max']:.2f})"
            ),
            evidence=evidence,
            expected_impact=_headroom(score, "price_position"),
        )
    if gap < -15:
        # Far below everyone: margin is being given away for no position gain.
        target = _money(median * Decimal("0.95"))
        return SuggestionDraft(
            type="pricing",
            summary=f"Raise the price towards {target} {cur}".strip(),
            proposed_change={
                "field": "price",
                "current": float(facts.price),
                "proposed": float(target),
                "position_now": pos,
                "position_after": price_position(target, others),
            },
            reason=(
                f"At {facts.price} {cur} the price is {abs(gap)}% below the competitors' median "
                f"{median} {cur}; 5% below the median keeps the price lead with more margin"
            ),
            evidence=evidence,
            expected_impact=2.0,
        )
    return None


def _bullets(
    facts: ListingFacts, score: ListingScore, missing: list[Keyword]
) -> SuggestionDraft | None:
    comp = score.component("bullets")
    gain = comp.weight - comp.score
    if gain <= 0.5:
        return None
    have = len([b for b in facts.bullets if b.strip()])
    topics = [k.term for k in missing if k.term not in [m.term for m in missing[:3]]][:5] or [
        k.term for k in missing[:5]
    ]
    to_add = max(0, BULLETS_TARGET - have)
    proposed = [
        f"{t.title()}: say what it does for the buyer (used by "
        f"{next(k.competitors for k in missing if k.term == t)} competitors)"
        for t in topics[:to_add]
    ]
    return SuggestionDraft(
        type="bullets",
        summary=f"Complete the bullets ({have} of {BULLETS_TARGET})"
        if to_add
        else "Sharpen the bullets",
        proposed_change={
            "field": "bullets",
            "add": to_add,
            "proposed_topics": proposed,
            "fixes": comp.raise_by,
        },
        reason=f"Bullets score {comp.score:g} of {comp.weight}: " + "; ".join(comp.raise_by),
        evidence={
            "bullet_count": have,
            "checks": comp.checks,
            "competitor_bullet_counts": [len(c.bullets) for c in facts.competitors],
        },
        expected_impact=gain,
    )


def _images(facts: ListingFacts, score: ListingScore) -> SuggestionDraft | None:
    comp = score.component("images")
    gain = comp.weight - comp.score
    if gain <= 0.5:
        return None
    counts = [c.image_count for c in facts.competitors]
    with_video = sum(1 for c in facts.competitors if c.video_count > 0)
    gap = max(0, IMAGES_TARGET - facts.image_count)
    parts = [f"{facts.image_count} image(s), {facts.video_count} video(s)"]
    if counts:
        parts.append(
            f"competitors median {statistics.median(counts):g} images, "
            f"{with_video} of {len(counts)} with video"
        )
    return SuggestionDraft(
        type="images",
        summary=f"Add {gap} image(s)" + (" and a video" if facts.video_count == 0 else "")
        if gap
        else "Add a product video",
        proposed_change={
            "field": "images",
            "add_images": gap,
            "add_video": facts.video_count == 0,
            "angles": [
                "in use / lifestyle",
                "size and scale",
                "close-up detail",
                "what's in the box",
                "infographic of key benefits",
                "comparison chart",
            ][:gap],
        },
        reason=f"Images score {comp.score:g} of {comp.weight}: " + "; ".join(parts),
        evidence={
            "image_count": facts.image_count,
            "video_count": facts.video_count,
            "competitor_image_counts": counts,
            "competitors_with_video": with_video,
        },
        expected_impact=gain,
    )


def _keywords(facts: ListingFacts, missing: list[Keyword]) -> SuggestionDraft | None:
    if not missing or not facts.competitors:
        return None
    top = missing[:8]
    n = len(facts.competitors)
    # A term every competitor uses is worth more than one used by two of five.
    impact = sum(k.share for k in top) * 2
    return SuggestionDraft(
        type="keywords",
        summary=f"Use {len(top)} keyword(s) competitors rank with",
        proposed_change={
            "field": "keywords",
            "add": [k.term for k in top],
            "where": "title for the top terms, bullets and backend search terms for the rest",
        },
        reason="Competitors use terms this listing lacks: "
        + ", ".join(f"'{k.term}' ({k.competitors} of {n})" for k in top),
        evidence={
            "competitors": n,
            "keywords": [{"term": k.term, "competitors": k.competitors} for k in top],
        },
        expected_impact=impact,
    )


def suggest(facts: ListingFacts, score: ListingScore) -> list[SuggestionDraft]:
    """Every rule's suggestion for the listing, ordered by expected impact (highest first)."""
    own_texts = [facts.title or "", *facts.bullets]
    missing = missing_keywords(own_texts, facts.keywords)
    drafts: list[SuggestionDraft | None] = []
    if _headroom(score, "title") > 0.5:
        drafts.append(_title(facts, score, missing))
    drafts += [
        _pricing(facts, score),
        _bullets(facts, score, missing),
        _images(facts, score),
        _keywords(facts, missing),
    ]
    return rank([d for d in drafts if d is not None])


def rank(drafts: list[SuggestionDraft]) -> list[SuggestionDraft]:
    order = {t: i for i, t in enumerate(TYPES)}
    return sorted(drafts, key=lambda d: (-d.expected_impact, order.get(d.type, 99), d.source))
