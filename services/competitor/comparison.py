"""The deterministic comparison of a group: pure functions over the members' latest data.

Everything here is computed from numbers the product module already stores; nothing is guessed.
The LLM only ever sees this comparison (never raw pages), and the rule-based report is built
from it too.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, Field

from services.core.stopwords import GLUE_WORDS

# --- input --------------------------------------------------------------------------------------


class BsrEntry(BaseModel):
    rank: int
    category: str


class MemberData(BaseModel):
    """What the comparison needs to know about one member (from the product service)."""

    role: Literal["main", "competitor"]
    asin: str
    marketplace: str
    label: str | None = None
    # False when the product was not found on Amazon or has no good crawl yet.
    found: bool = True
    as_of: datetime | None = None
    currency: str | None = None
    price: Decimal | None = None
    buybox_price: Decimal | None = None
    buybox_seller: str | None = None
    in_stock: bool | None = None
    rating: Decimal | None = None
    review_count: int | None = None
    # The review count about 30 days before ``as_of`` (None when history is shorter).
    review_count_30d_ago: int | None = None
    review_window_days: float | None = None
    bsr: list[BsrEntry] = Field(default_factory=list)
    title: str | None = None
    brand: str | None = None
    bullets: list[str] = Field(default_factory=list)
    image_count: int | None = None
    video_count: int | None = None


# --- output -------------------------------------------------------------------------------------


class PriceDiff(BaseModel):
    asin: str
    price: Decimal | None
    # main - competitor: positive means the main product is dearer.
    diff_abs: Decimal | None
    diff_pct: Decimal | None


class PricePosition(BaseModel):
    currency: str | None
    main_price: Decimal | None
    competitors: list[PriceDiff]
    # 1 = cheapest among the members that have a price.
    rank: int | None
    ranked_of: int
    # Share of priced competitors strictly cheaper than the main product, 0-100.
    percentile: Decimal | None
    median_competitor_price: Decimal | None
    vs_median_abs: Decimal | None
    vs_median_pct: Decimal | None
    without_price: list[str]


class BuyBoxEntry(BaseModel):
    asin: str
    holder: str | None
    buybox_price: Decimal | None
    in_stock: bool | None


class BsrGap(BaseModel):
    asin: str
    rank: int | None
    # main rank - competitor rank: positive means the main product sells worse.
    gap: int | None


class BsrComparison(BaseModel):
    # The most specific category every member with a BSR is ranked in; None if none is shared.
    shared_category: str | None
    main_rank: int | None
    competitors: list[BsrGap]
    note: str | None = None


class ReviewEntry(BaseModel):
    asin: str
    rating: Decimal | None
    review_count: int | None
    # main - competitor: positive means the main product is ahead.
    rating_advantage: Decimal | None
    review_count_advantage: int | None
    reviews_per_30d: Decimal | None


class ReviewComparison(BaseModel):
    main_rating: Decimal | None
    main_review_count: int | None
    main_reviews_per_30d: Decimal | None
    competitors: list[ReviewEntry]


class ListingCompleteness(BaseModel):
    asin: str
    bullet_count: int
    image_count: int | None
    video_count: int | None
    title_length: int
    # 0-100: bullets (5), images (7), a video, a title of 80-200 characters.
    score: int


class FeatureClaim(BaseModel):
    term: str
    claimed_by: list[str]


class FeatureComparison(BaseModel):
    missing_from_main: list[FeatureClaim]
    unique_to_main: list[str]


class MemberSummary(BaseModel):
    role: Literal["main", "competitor"]
    asin: str
    label: str | None
    found: bool
    as_of: datetime | None


class Comparison(BaseModel):
    """The whole deterministic comparison of a group."""

    marketplace: str
    main_asin: str
    members: list[MemberSummary]
    not_found: list[str]
    price: PricePosition
    buybox: list[BuyBoxEntry]
    bsr: BsrComparison
    reviews: ReviewComparison
    listing: list[ListingCompleteness]
    features: FeatureComparison


# --- helpers ------------------------------------------------------------------------------------

_CENT = Decimal("0.01")


def _q(value: Decimal | float | None, step: Decimal = _CENT) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(step, rounding=ROUND_HALF_UP)


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    return _q(part / whole * 100) if whole else None


def _split(members: Sequence[MemberData]) -> tuple[MemberData, list[MemberData]]:
    mains = [m for m in members if m.role == "main"]
    if len(mains) != 1:
        raise ValueError("a group has exactly one main product")
    return mains[0], [m for m in members if m.role == "competitor"]


# --- the comparisons ----------------------------------------------------------------------------


def price_position(main: MemberData, competitors: Sequence[MemberData]) -> PricePosition:
    """Differences to each competitor, rank, percentile and distance to the median."""
    diffs = []
    for c in competitors:
        if main.price is not None and c.price is not None and c.found:
            diff = main.price - c.price
            diffs.append(
                PriceDiff(
                    asin=c.asin, price=c.price, diff_abs=_q(diff), diff_pct=_pct(diff, c.price)
                )
            )
        else:
            diffs.append(
                PriceDiff(
                    asin=c.asin, price=c.price if c.found else None, diff_abs=None, diff_pct=None
                )
            )
    priced = [c.price for c in competitors if c.found and c.price is not None]
    without = [m.asin for m in (main, *competitors) if not m.found or m.price is None]
    median = _q(Decimal(str(statistics.median(priced)))) if priced else None
    rank = percentile = vs_abs = vs_pct = None
    if main.price is not None and priced:
        rank = 1 + sum(1 for p in priced if p < main.price)
        percentile = _q(Decimal(sum(1 for p in priced if p < main.price)) / len(priced) * 100)
        assert median is not None
        vs_abs = _q(main.price - median)
        vs_pct = _pct(main.price - median, median)
    return PricePosition(
        currency=main.currency,
        main_price=main.price,
        competitors=diffs,
        rank=rank,
        ranked_of=len(priced) + (1 if main.price is not None else 0),
        percentile=percentile,
        median_competitor_price=median,
        vs_median_abs=vs_abs,
        vs_median_pct=vs_pct,
        without_price=without,
    )


def buybox(members: Sequence[MemberData]) -> list[BuyBoxEntry]:
    return [
        BuyBoxEntry(
            asin=m.asin, holder=m.buybox_seller, buybox_price=m.buybox_price, in_stock=m.in_stock
        )
        for m in members
    ]


def _norm_category(name: str) -> str:
    return " ".join(name.lower().replace("&", "and").split())


def bsr_gap(main: MemberData, competitors: Sequence[MemberData]) -> BsrComparison:
    """Ranks in the most specific category that every ranked member shares."""
    ranked = [m for m in (main, *competitors) if m.found and m.bsr]
    if main not in ranked:
        return BsrComparison(
            shared_category=None,
            main_rank=None,
            competitors=[BsrGap(asin=c.asin, rank=None, gap=None) for c in competitors],
            note="The main product has no Best Sellers Rank yet.",
        )
    common: set[str] | None = None
    for m in ranked:
        names = {_norm_category(b.category) for b in m.bsr}
        common = names if common is None else common & names
    # The main product lists its ranks broad to specific; the deepest shared one is the last.
    shared = [b for b in main.bsr if _norm_category(b.category) in (common or set())]
    if not shared:
        return BsrComparison(
            shared_category=None,
            main_rank=None,
            competitors=[BsrGap(asin=c.asin, rank=None, gap=None) for c in competitors],
            note="The members share no Best Sellers Rank category: their ranks do not compare.",
        )
    # Listings name the broad category first and the narrower ones after it.
    category = shared[-1].category
    key = _norm_category(category)

    def rank_in(m: MemberData) -> int | None:
        return next((b.rank for b in m.bsr if _norm_category(b.category) == key), None)

    main_rank = rank_in(main)
    gaps = []
    for c in competitors:
        rank = rank_in(c) if c.found else None
        gaps.append(
            BsrGap(
                asin=c.asin,
                rank=rank,
                gap=main_rank - rank if main_rank is not None and rank is not None else None,
            )
        )
    unranked = [c.asin for c in competitors if c not in ranked]
    return BsrComparison(
        shared_category=category,
        main_rank=main_rank,
        competitors=gaps,
        note=f"No rank for {', '.join(unranked)}." if unranked else None,
    )


def review_velocity(member: MemberData) -> Decimal | None:
    """New reviews per 30 days over the history window (None without history)."""
    if (
        member.review_count is None
        or member.review_count_30d_ago is None
        or not member.review_window_days
    ):
        return None
    gained = member.review_count - member.review_count_30d_ago
    return _q(Decimal(gained) * 30 / Decimal(str(member.review_window_days)), Decimal("0.1"))


def reviews(main: MemberData, competitors: Sequence[MemberData]) -> ReviewComparison:
    entries = []
    for c in competitors:
        rating = c.rating if c.found else None
        count = c.review_count if c.found else None
        entries.append(
            ReviewEntry(
                asin=c.asin,
                rating=rating,
                review_count=count,
                rating_advantage=_q(main.rating - rating)
                if main.rating is not None and rating is not None
                else None,
                review_count_advantage=main.review_count - count
                if main.review_count is not None and count is not None
                else None,
                reviews_per_30d=review_velocity(c) if c.found else None,
            )
        )
    return ReviewComparison(
        main_rating=main.rating,
        main_review_count=main.review_count,
        main_reviews_per_30d=review_velocity(main),
        competitors=entries,
    )


def listing_completeness(member: MemberData) -> ListingCompleteness:
    bullets = len([b for b in member.bullets if b.strip()])
    images = member.image_count
    video = member.video_count
    title_len = len(member.title or "")
    score = 35 * min(bullets, 5) / 5
    score += 35 * min(images or 0, 7) / 7
    score += 15 if (video or 0) > 0 else 0
    score += 15 if 80 <= title_len <= 200 else (7 if title_len >= 40 else 0)
    return ListingCompleteness(
        asin=member.asin,
        bullet_count=bullets,
        image_count=images,
        video_count=video,
        title_length=title_len,
        score=round(score),
    )


# Words that carry no claim on a listing: glue words and the verbs around a claim.
_STOPWORDS = GLUE_WORDS | frozenset(
    {
        "about",
        "after",
        "before",
        "every",
        "inside",
        "keep",
        "keeps",
        "like",
        "made",
        "make",
        "makes",
        "other",
        "out",
        "over",
        "these",
        "those",
        "under",
        "use",
        "used",
        "using",
        "while",
    }
)
_TOKEN = re.compile(r"[a-z0-9][a-z0-9+.-]*[a-z0-9+]|[a-z0-9]")


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def claim_terms(texts: Iterable[str], brand: str | None = None) -> set[str]:
    """Normalised claims of a listing: content words and two-word phrases, lower-case, singular,
    without the brand or the {noun}-like filler words."""
    skip = set(_STOPWORDS)
    if brand:
        skip |= {w.lower() for w in _TOKEN.findall(brand.lower())}
    terms: set[str] = set()
    for text in texts:
        # Bullet headings and sentences are separate claims: do not pair words across them.
        for chunk in re.split(r"[:;,.!?()\[\]|/\u2013\u2014-]\s", text.lower()):
            words = [_stem(w) for w in _TOKEN.findall(chunk)]
            content = [
                w if w not in skip and (len(w) > 2 or any(ch.isdigit() for ch in w)) else ""
                for w in words
            ]
            for i, word in enumerate(content):
                if not word or word.isdigit():
                    continue
                terms.add(word)
                nxt = content[i + 1] if i + 1 < len(content) else ""
                if nxt:
                    terms.add(f"{word} {nxt}")
    return terms


def features(
    main: MemberData, competitors: Sequence[MemberData], limit: int = 12
) -> FeatureComparison:
    """What competitors claim that the main product does not, and the reverse."""
    mine = claim_terms([main.title or "", *main.bullets], main.brand)
    theirs: dict[str, list[str]] = {}
    for c in competitors:
        if not c.found:
            continue
        for term in claim_terms([c.title or "", *c.bullets], c.brand):
            theirs.setdefault(term, []).append(c.asin)
    missing = [
        FeatureClaim(term=t, claimed_by=sorted(set(asins)))
        for t, asins in theirs.items()
        if t not in mine
    ]

    def covered(term: str, claims: list[FeatureClaim]) -> bool:
        # A word already said by a reported phrase adds nothing.
        return " " not in term and any(term in c.term.split() for c in claims if " " in c.term)

    # Claims made by more competitors first; phrases before words; then alphabetical.
    missing.sort(key=lambda c: (-len(c.claimed_by), " " not in c.term, c.term))
    chosen: list[FeatureClaim] = []
    for claim in missing:
        if len(chosen) >= limit:
            break
        if not covered(claim.term, chosen):
            chosen.append(claim)
    unique = sorted((t for t in mine if t not in theirs), key=lambda t: (" " not in t, t))
    unique_chosen: list[str] = []
    for term in unique:
        if len(unique_chosen) >= limit:
            break
        if " " not in term and any(term in u.split() for u in unique_chosen):
            continue
        unique_chosen.append(term)
    return FeatureComparison(missing_from_main=chosen, unique_to_main=unique_chosen)


def compare(members: Sequence[MemberData]) -> Comparison:
    """The whole comparison of one main product and its competitors."""
    main, competitors = _split(members)
    ordered = [main, *competitors]
    return Comparison(
        marketplace=main.marketplace,
        main_asin=main.asin,
        members=[
            MemberSummary(role=m.role, asin=m.asin, label=m.label, found=m.found, as_of=m.as_of)
            for m in ordered
        ],
        not_found=[m.asin for m in ordered if not m.found],
        price=price_position(main, competitors),
        buybox=buybox(ordered),
        bsr=bsr_gap(main, competitors),
        reviews=reviews(main, competitors),
        listing=[listing_completeness(m) for m in ordered if m.found],
        features=features(main, competitors),
    )
