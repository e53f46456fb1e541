"""The listing score: a deterministic 0-100 from named components, each with its maximum and the
concrete change that would raise it. Pure: no I/O, the same listing always scores the same."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from services.optimization.keywords import Keyword, tokens

# Amazon's title policy (2025): at most 200 characters, no word more than twice, none of these
# characters unless part of the brand. Kept per marketplace so a stricter one can differ.
TITLE_LIMITS = dict.fromkeys(("US", "UK", "DE", "FR", "IT", "ES", "CA", "JP"), 200)
TITLE_MIN = 60  # shorter titles leave search terms unused
MOBILE_VISIBLE = 80  # what a phone shows of a title: the key terms belong here
BANNED_CHARS = set("!$?_{}^¬¦~#<>*")
PROMO_PATTERNS = re.compile(
    r"\b(best ?sell(er|ing)|free shipping|hot sale|sale|100% (guaranteed|satisfaction)|"
    r"top rated|limited time|cheap(est)?|#1)\b",
    re.IGNORECASE,
)
BENEFIT_WORDS = frozenset(
    [
        "easy",
        "comfortable",
        "comfort",
        "durable",
        "long",
        "lasting",
        "safe",
        "secure",
        "fast",
        "quick",
        "protect",
        "protects",
        "protection",
        "save",
        "saves",
        "saving",
        "perfect",
        "ideal",
        "lightweight",
        "portable",
        "powerful",
        "premium",
        "quiet",
        "reliable",
        "sturdy",
        "waterproof",
        "warranty",
        "guarantee",
        "free",
        "healthy",
        "effortless",
        "convenient",
        "hours",
        "battery",
        "life",
        "compatible",
        "enjoy",
        "keeps",
    ]
)
BULLETS_TARGET = 5
BULLET_MIN, BULLET_MAX = 60, 255
IMAGES_TARGET = 7
DESCRIPTION_TARGET = 200
RATING_FULL, RATING_FLOOR = Decimal("4.5"), Decimal("3.5")
REVIEWS_FULL = 1000


@dataclass(frozen=True, slots=True)
class CompetitorFacts:
    """What the score and the rules need to know about one competitor."""

    asin: str
    title: str | None
    bullets: tuple[str, ...]
    price: Decimal | None
    rating: Decimal | None
    review_count: int | None
    image_count: int
    video_count: int


@dataclass(frozen=True, slots=True)
class ListingFacts:
    """The listing being scored: its latest content and its latest good snapshot."""

    marketplace: str
    asin: str
    title: str | None
    brand: str | None
    bullets: tuple[str, ...]
    description: str | None
    image_count: int
    video_count: int
    price: Decimal | None
    currency: str | None
    rating: Decimal | None
    review_count: int | None
    competitors: tuple[CompetitorFacts, ...] = ()
    keywords: tuple[Keyword, ...] = ()  # ranked competitor keywords (may be empty)


@dataclass(slots=True)
class Component:
    name: str
    weight: int  # the component's maximum
    score: float = 0.0
    checks: dict[str, float] = field(default_factory=dict)
    raise_by: list[str] = field(default_factory=list)
    applicable: bool = True


@dataclass(frozen=True, slots=True)
class ListingScore:
    total: int  # 0-100, over the applicable components
    components: tuple[Component, ...]

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)


def title_limit(marketplace: str) -> int:
    return TITLE_LIMITS.get(marketplace, 200)


def leading_terms(keywords: Sequence[Keyword], count: int = 3) -> list[str]:
    """The first distinct words of the competitors' top keywords: what a title should lead with."""
    words: list[str] = []
    for kw in keywords:
        for word in kw.term.split():
            if word not in words:
                words.append(word)
    return words[:count]


def shouting_words(text: str) -> list[str]:
    """ALL-CAPS words longer than an acronym (USB, LED, XL stay allowed)."""
    return [w for w in re.findall(r"[^\W\d_]{5,}", text) if w.isupper()]


def repeated_words(text: str) -> list[str]:
    counts = Counter(tokens(text))
    return sorted(w for w, n in counts.items() if n > 2)


def _title(f: ListingFacts) -> Component:
    c = Component("title", 25)
    title = (f.title or "").strip()
    limit = title_limit(f.marketplace)
    if not title:
        c.raise_by.append("Add a title: the listing has none")
        return c
    n = len(title)
    if TITLE_MIN <= n <= limit:
        c.checks["length"] = 8
    elif n > limit:
        c.checks["length"] = 0
        c.raise_by.append(f"Shorten the title to {limit} characters at most (now {n})")
    else:
        c.checks["length"] = round(8 * n / TITLE_MIN, 2)
        c.raise_by.append(f"Lengthen the title to at least {TITLE_MIN} characters (now {n})")
    brand = (f.brand or "").strip()
    if brand and brand.lower() in title.lower()[: max(len(brand) + 20, 40)]:
        c.checks["brand"] = 5
    else:
        c.raise_by.append(
            f"Start the title with the brand {brand!r}" if brand else "Name the brand in the title"
        )
    head = set(tokens(title[:MOBILE_VISIBLE]))
    top = leading_terms(f.keywords)
    if top:
        hits = [t for t in top if t in head]
        c.checks["leading_terms"] = round(5 * len(hits) / len(top), 2)
        if len(hits) < len(top):
            missing = [t for t in top if t not in head]
            c.raise_by.append(
                f"Put the terms competitors lead with in the first {MOBILE_VISIBLE} characters: "
                + ", ".join(missing)
            )
    else:  # no competitor evidence: at least the product type should lead
        c.checks["leading_terms"] = 5 if len(head) >= 3 else 2.5
        if len(head) < 3:
            c.raise_by.append(
                f"Describe the product in the first {MOBILE_VISIBLE} characters (key terms first)"
            )
    repeated = repeated_words(title)
    c.checks["readability"] = 4 if not repeated else 1
    if repeated:
        c.raise_by.append("Use each word at most twice in the title: " + ", ".join(repeated))
    shouting = shouting_words(title)
    banned = sorted({ch for ch in title if ch in BANNED_CHARS})
    promo = PROMO_PATTERNS.findall(title)
    c.checks["no_banned_patterns"] = 3 if not (shouting or banned or promo) else 0
    if shouting:
        c.raise_by.append("Write these words in normal case: " + ", ".join(shouting))
    if banned:
        c.raise_by.append("Remove the characters Amazon bans in titles: " + " ".join(banned))
    if promo:
        c.raise_by.append("Remove promotional phrases from the title")
    c.score = sum(c.checks.values())
    return c


def _bullets(f: ListingFacts) -> Component:
    c = Component("bullets", 20)
    bullets = [b.strip() for b in f.bullets if b.strip()]
    c.checks["count"] = round(6 * min(len(bullets), BULLETS_TARGET) / BULLETS_TARGET, 2)
    if len(bullets) < BULLETS_TARGET:
        c.raise_by.append(f"Add {BULLETS_TARGET - len(bullets)} bullet(s) ({len(bullets)} of 5)")
    if not bullets:
        c.score = 0
        return c
    good = [b for b in bullets if BULLET_MIN <= len(b) <= BULLET_MAX]
    c.checks["length"] = round(5 * len(good) / len(bullets), 2)
    if len(good) < len(bullets):
        c.raise_by.append(
            f"Write each bullet in {BULLET_MIN}-{BULLET_MAX} characters "
            f"({len(bullets) - len(good)} outside)"
        )
    with_benefit = [b for b in bullets if BENEFIT_WORDS & set(tokens(b))]
    c.checks["benefits"] = round(5 * len(with_benefit) / len(bullets), 2)
    if len(with_benefit) < len(bullets):
        c.raise_by.append(
            f"Lead {len(bullets) - len(with_benefit)} bullet(s) with the benefit to the buyer"
        )
    unique = {" ".join(tokens(b)) for b in bullets}
    c.checks["no_duplicates"] = 4 if len(unique) == len(bullets) else 0
    if len(unique) < len(bullets):
        c.raise_by.append("Replace duplicated bullets with new information")
    c.score = sum(c.checks.values())
    return c


def _description(f: ListingFacts) -> Component:
    c = Component("description", 10)
    n = len((f.description or "").strip())
    c.checks["length"] = round(10 * min(n, DESCRIPTION_TARGET) / DESCRIPTION_TARGET, 2)
    if n < DESCRIPTION_TARGET:
        c.raise_by.append(
            f"Write a description of at least {DESCRIPTION_TARGET} characters (now {n})"
        )
    c.score = c.checks["length"]
    return c


def _images(f: ListingFacts) -> Component:
    c = Component("images", 20)
    c.checks["main_image"] = 3 if f.image_count >= 1 else 0
    if f.image_count < 1:
        c.raise_by.append("Add a main image on a white background")
    c.checks["count"] = round(12 * min(f.image_count, IMAGES_TARGET) / IMAGES_TARGET, 2)
    if f.image_count < IMAGES_TARGET:
        c.raise_by.append(f"Add {IMAGES_TARGET - f.image_count} image(s) ({f.image_count} of 7)")
    c.checks["video"] = 5 if f.video_count > 0 else 0
    if f.video_count == 0:
        c.raise_by.append("Add a product video")
    c.score = sum(c.checks.values())
    return c


def price_position(price: Decimal, others: Sequence[Decimal]) -> dict[str, float]:
    """Rank (1 = cheapest), percentile (share of competitors cheaper) and gap to the median."""
    median = statistics.median(others)
    cheaper = sum(1 for p in others if p < price)
    return {
        "rank": cheaper + 1,
        "of": len(others) + 1,
        "percentile": round(100 * cheaper / len(others), 1),
        "median": float(median),
        "vs_median_pct": round(float((price - median) / median * 100), 2) if median else 0.0,
        "min": float(min(others)),
        "max": float(max(others)),
    }


def _price(f: ListingFacts) -> Component:
    c = Component("price_position", 10)
    others = [x.price for x in f.competitors if x.price is not None and x.price > 0]
    if f.price is None or not others:
        c.applicable = False
        c.raise_by.append("Scored once the product has a price and a competitor group with prices")
        return c
    pos = price_position(f.price, others)
    gap = pos["vs_median_pct"]
    # At or below the median is full marks; the score falls to zero at 25 % above it.
    c.checks["vs_median"] = 10 if gap <= 0 else round(max(0.0, 10 * (1 - gap / 25)), 2)
    if gap > 0:
        c.raise_by.append(
            f"Price is {gap}% above the competitors' median {pos['median']:.2f}; "
            f"at or below the median scores full marks"
        )
    c.score = c.checks["vs_median"]
    return c


def _reviews(f: ListingFacts) -> Component:
    c = Component("rating_reviews", 15)
    rating = f.rating
    if rating is None:
        c.checks["rating"] = 0
        c.raise_by.append("Get first ratings (e.g. Amazon Vine)")
    else:
        share = (rating - RATING_FLOOR) / (RATING_FULL - RATING_FLOOR)
        c.checks["rating"] = round(8 * min(1.0, max(0.0, float(share))), 2)
        if rating < RATING_FULL:
            c.raise_by.append(
                f"Raise the rating from {rating} to {RATING_FULL} (fix top complaints)"
            )
    count = f.review_count or 0
    c.checks["review_count"] = round(
        7 * min(1.0, math.log10(count + 1) / math.log10(REVIEWS_FULL + 1)), 2
    )
    if count < REVIEWS_FULL:
        c.raise_by.append(f"Grow reviews from {count} towards {REVIEWS_FULL}")
    c.score = sum(c.checks.values())
    return c


def score_listing(facts: ListingFacts) -> ListingScore:
    """Score a listing; components that do not apply (no competitor prices) are left out and
    the total is rescaled over the rest, so a product without a group is not penalised."""
    components = (
        _title(facts),
        _bullets(facts),
        _description(facts),
        _images(facts),
        _price(facts),
        _reviews(facts),
    )
    for c in components:
        c.score = round(min(c.score, c.weight), 2)
    applicable = [c for c in components if c.applicable]
    possible = sum(c.weight for c in applicable)
    total = round(100 * sum(c.score for c in applicable) / possible) if possible else 0
    return ListingScore(total=total, components=components)
