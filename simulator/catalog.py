"""The simulated catalogue: what a product looks like on a marketplace on a given day.

Everything is a pure function of (seed, marketplace, ASIN, day), computed in closed form so any
day can be generated without replaying the days before it:

* identity (type, brand, model, base price, main seller, launch day …) comes from one hash of the
  ASIN and one of (marketplace, ASIN);
* time is cut into 21-day blocks (shifted per product). One hash per block decides that block's
  episodes — a stock-out of 2-5 days, a price level change, a Buy Box held by another seller, a
  rating drop of 0.3-0.6, a review-count drop, a BSR jump — so episodes start and end inside
  their block and need no history;
* one hash per day adds the small moves: price jitter, a one-day deal (15-35 % off), BSR noise;
* title, bullets and images each change at their own per-product period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from services.product.marketplaces import MARKETPLACES, Marketplace
from simulator.seeding import INV32, chance, digest_of, id_text, upper_id, words
from simulator.vocabulary import (
    AMAZON_SELLERS,
    BRANDS,
    CURRENCY_SYMBOL,
    MARKETPLACE_SELLERS,
    MONTHS,
    PRICE_LEVEL,
    PRODUCT_TYPES,
    ProductType,
)

BLOCK_DAYS = 21
# Launch days and review counts are anchored here so they do not depend on when the simulator runs.
REFERENCE_DAY = date(2025, 1, 1).toordinal()
_LOW16 = 0xFFFF


def simulated_day(day_offset: int = 0, now: datetime | None = None) -> int:
    """The simulated day as a proleptic ordinal: UTC today plus ``day_offset``."""
    return (now or datetime.now(UTC)).date().toordinal() + day_offset


@dataclass(frozen=True, slots=True)
class Seller:
    """Who holds the Buy Box, and whether Amazon ships it."""

    name: str
    seller_id: str
    amazon_fulfils: bool
    is_amazon: bool


# Plain slotted dataclasses, read-only by convention: frozen ones cost an object.__setattr__ per
# field in __init__, which shows at tens of thousands of items per second.
@dataclass(slots=True)
class Profile:
    """What never changes about one ASIN on one marketplace."""

    asin: str
    marketplace: Marketplace
    kind: ProductType
    bullet_pool: tuple[str, ...]  # the type's bullets, written for this brand
    brand: str
    model: str
    color: str
    specs: tuple[tuple[str, str], ...]
    main_seller: Seller
    base_price: float  # local currency, before daily moves
    list_price: float | None
    rating_base: float
    rating_period: int
    rating_phase: int
    launch_day: int
    reviews_per_day: float
    bsr_base: float
    sub_divisors: tuple[float, ...]
    block_phase: int
    periods: tuple[int, int, int]  # title, bullets, images
    phases: tuple[int, int, int]
    mix: int
    static_images: tuple[str, ...]
    videos: tuple[str, ...]
    first_available: str
    upc: str
    not_found_draw: float


@dataclass(slots=True)
class ProductState:
    """One product on one marketplace on one day, as a product page would show it."""

    profile: Profile
    day: int
    title: str
    bullets: tuple[str, ...]
    description: str
    images: tuple[str, ...]
    price: float | None
    list_price: float | None
    deal: bool
    seller: Seller | None  # None: no Buy Box (out of stock)
    in_stock: bool
    stock_left: int | None  # "Only N left in stock" just before a stock-out
    rating: float
    review_count: int
    bsr: tuple[tuple[int, str], ...]  # main category first

    @property
    def asin(self) -> str:
        return self.profile.asin

    @property
    def marketplace(self) -> Marketplace:
        return self.profile.marketplace

    @property
    def currency(self) -> str:
        return MARKETPLACES[self.profile.marketplace].currency

    @property
    def symbol(self) -> str:
        return CURRENCY_SYMBOL[self.profile.marketplace]


def shelf_price(raw: float, marketplace: Marketplace) -> float:
    """A raw amount as a shelf price: whole yen in Japan, x.49 / x.99 endings elsewhere."""
    if marketplace is Marketplace.JP:
        return float(max(10, round(raw / 10) * 10))
    if raw < 5:
        return round(max(raw, 0.5), 2)
    return round(round(raw * 2) / 2 - 0.01, 2)


def _image_ids(text: str, selector: int, count: int) -> tuple[str, ...]:
    # Real ids look like "517WiAmP8qL": a leading 4-7, nine letters, a trailing "L".
    return tuple(
        "4567"[(selector >> (2 * i)) & 3] + text[9 * i : 9 * i + 9] + "L" for i in range(count)
    )


@lru_cache(maxsize=1024)
def _bullet_pool(kind_index: int, brand: str) -> tuple[str, ...]:
    kind = PRODUCT_TYPES[kind_index]
    return tuple(
        f"{head}: {text}".format(brand=brand, noun=kind.noun) for head, text in kind.bullets
    )


def _video_id(raw: bytes) -> str:
    hexa = raw.hex()
    return f"{hexa[:8]}-{hexa[8:12]}-4{hexa[13:16]}-a{hexa[17:20]}-{hexa[20:32]}"


def profile(seed: int, marketplace: Marketplace, asin: str) -> Profile:
    """The fixed traits of an ASIN on a marketplace (identity is shared across marketplaces)."""
    # Not cached: a crawl cycle sees each ASIN once, and a big cache only feeds the GC.
    w_raw = digest_of(f"{seed}|id|{asin}")
    m_raw = digest_of(f"{seed}|mk|{marketplace.value}|{asin}")
    w, m = words(w_raw), words(m_raw)
    kind_index = w[0] % len(PRODUCT_TYPES)
    kind = PRODUCT_TYPES[kind_index]
    brand = BRANDS[w[1] % len(BRANDS)]
    model = (
        f"{'ABCEHKMPRSTVXZ'[w[2] % 14]}{10 + w[2] % 90}{('', 'i', ' Pro', 'X', ' Lite')[w[3] % 5]}"
    )
    specs = tuple(
        (name, options[(w[4] >> (3 * i)) % len(options)])
        for i, (name, options) in enumerate(kind.details)
    )
    # Main Buy Box holder: Amazon retail, the brand's store via FBA, or the brand shipping itself.
    roll = m[0] % 10
    if roll < 3:
        name, seller_id = AMAZON_SELLERS[marketplace]
        main = Seller(name, seller_id, amazon_fulfils=True, is_amazon=True)
    else:
        store = f"{brand}{(' Direct', 'Store', ' Official', ' Shop')[w[5] % 4]}"
        main = Seller(store, "A" + upper_id(w_raw[20:26], 12) + "X", roll < 8, False)
    low, high = kind.price_usd
    base_usd = low * (high / low) ** (w[7] * INV32)
    base_price = base_usd * PRICE_LEVEL[marketplace] * (0.94 + 0.12 * (m[1] * INV32))
    markup = 1.15 + 0.45 * (m[2] * INV32)
    list_price = shelf_price(base_price * markup, marketplace) if m[2] % 10 < 7 else None
    # Smaller storefronts show fewer reviews and rank products lower than the US one.
    market_scale = 1.0 if marketplace is Marketplace.US else 0.08 + 0.3 * (m[3] * INV32)
    launch_day = REFERENCE_DAY - 120 - w[8] % 2200
    first = date.fromordinal(launch_day)
    return Profile(
        asin=asin,
        marketplace=marketplace,
        kind=kind,
        bullet_pool=_bullet_pool(kind_index, brand),
        brand=brand,
        model=model,
        color=kind.colors[w[9] % len(kind.colors)],
        specs=specs,
        main_seller=main,
        base_price=base_price,
        list_price=list_price,
        rating_base=3.4 + 1.4 * (w[10] * INV32),
        rating_period=60 + w[11] % 120,
        rating_phase=w[11] >> 8,
        launch_day=launch_day,
        reviews_per_day=(0.05 + 12.0 * (w[12] * INV32) ** 3) * market_scale,
        bsr_base=30.0 * (250_000 / 30) ** (m[4] * INV32) / market_scale**0.5,
        sub_divisors=(5 + 35 * (m[5] * INV32), 30 + 370 * (m[6] * INV32))[(m[5] & 1) :],
        block_phase=m[7] % BLOCK_DAYS,
        periods=(20 + w[13] % 100, 15 + (w[13] >> 8) % 90, 30 + (w[13] >> 16) % 120),
        phases=(w[14] % 997, (w[14] >> 10) % 997, (w[14] >> 20) % 997),
        mix=w[15],
        static_images=_image_ids(id_text(m_raw), m[8], 2 + m[8] % 5),
        videos=tuple(_video_id(w_raw[16 * i : 16 * i + 16]) for i in range(m[13] % 4)),
        first_available=f"{MONTHS[first.month - 1]} {first.day}, {first.year}",
        upc=f"{w[6] % 10**6:06d}{w[3] % 10**6:06d}",
        not_found_draw=(m[15] * INV32),
    )


def _title(p: Profile, version: int) -> str:
    features = p.kind.title_features
    start = (p.mix + version * 3) % len(features)
    picked = [features[(start + i) % len(features)] for i in range(4)]
    template = (p.mix + version) % 3
    if template == 0:
        return f"{p.brand} {p.model} {p.kind.noun}, {', '.join(picked[:3])}"
    if template == 1:
        return f"{p.brand} {p.kind.noun} {p.model} - {picked[0]}, {picked[1]}, {p.color}"
    return f"{p.kind.noun} by {p.brand}, {', '.join(picked)}"


def _bullets(p: Profile, version: int) -> tuple[str, ...]:
    pool = p.bullet_pool
    start = (p.mix >> 4) + version
    return tuple(pool[(start + i) % len(pool)] for i in range(min(5, len(pool))))


def _images(seed: int, p: Profile, version: int) -> tuple[str, ...]:
    # The main image (and, every other version, one more) is new with each images version.
    fresh = _image_ids(
        id_text(digest_of(f"{seed}|img|{p.marketplace.value}|{p.asin}|{version}")),
        version,
        1 + version % 2,
    )
    return fresh + p.static_images


def product_state(
    seed: int, marketplace: Marketplace, asin: str, day: int, not_found_share: float = 0.02
) -> ProductState | None:
    """The product page of ``asin`` on ``marketplace`` on ``day``; None when it does not exist."""
    p = profile(seed, marketplace, asin)
    if p.not_found_draw < not_found_share:
        return None
    block, pos = divmod(day + p.block_phase, BLOCK_DAYS)
    b = words(digest_of(f"{seed}|b|{marketplace.value}|{asin}|{block}"))
    d = words(digest_of(f"{seed}|d|{marketplace.value}|{asin}|{day}"))

    out_start = 2 + (b[1] & _LOW16) % (BLOCK_DAYS - 8)
    stock_out = chance(b[0], 0.33)
    in_stock = not (stock_out and out_start <= pos < out_start + 2 + (b[1] >> 16) % 4)
    stock_left = 1 + d[8] % 5 if stock_out and out_start - 2 <= pos < out_start else None

    # Price: two levels per block, small daily jitter, and now and then a one-day deal.
    level = 0.9 + 0.2 * INV32 * (b[2] if pos < 7 + (b[4] & _LOW16) % 10 else b[3])
    jitter = ((d[3] * INV32) - 0.5) * 0.06 if chance(d[2], 0.4) else 0.0
    raw = p.base_price * level * (1.0 + jitter)
    deal = chance(d[0], 0.06)
    if deal:
        raw *= 0.65 + 0.2 * (d[1] * INV32)

    seller: Seller | None = p.main_seller
    bb_start = (b[6] & _LOW16) % BLOCK_DAYS
    if chance(b[5], 0.22) and bb_start <= pos < bb_start + 1 + (b[6] >> 16) % 6:
        name, seller_id = MARKETPLACE_SELLERS[(b[4] >> 16) % len(MARKETPLACE_SELLERS)]
        seller = Seller(name, seller_id, amazon_fulfils=bool(b[13] & 1), is_amazon=False)
        raw *= 0.97 + 0.05 * (b[13] * INV32)
    price: float | None = shelf_price(raw, marketplace)
    if not in_stock:
        seller, price, deal = None, None, False

    drift = 0.12 * math.sin(2 * math.pi * (day + p.rating_phase) / p.rating_period)
    rating = round(p.rating_base + drift, 1)
    if chance(b[7], 0.12) and pos >= (b[8] & _LOW16) % (BLOCK_DAYS - 3):
        rating = round(rating - (0.3, 0.3, 0.4, 0.5, 0.6)[(b[8] >> 16) % 5], 1)
    rating = min(5.0, max(1.0, rating))

    reviews = int(p.reviews_per_day * max(0, day - p.launch_day))
    if chance(b[9], 0.06) and pos >= (b[10] & _LOW16) % BLOCK_DAYS:
        reviews -= int(reviews * (0.03 + 0.07 * ((b[10] >> 16) / 65536)))

    rank = p.bsr_base * math.exp(0.35 * ((d[4] * INV32) - 0.5))
    jump_start = (b[12] & _LOW16) % BLOCK_DAYS
    if chance(b[11], 0.3) and jump_start <= pos < jump_start + 2 + (b[12] >> 16) % 6:
        rank = rank * 3.0 if b[12] & 0x40000000 else rank / 3.0
    if not in_stock:
        rank *= 2.5
    path = p.kind.path
    bsr = [(max(1, int(rank)), path[0].name)]
    for i, divisor in enumerate(p.sub_divisors):
        node = path[-len(p.sub_divisors) + i]
        noise = math.exp(0.2 * ((d[5 + i] * INV32) - 0.5))
        bsr.append((max(1, int(rank / divisor * noise)), node.name))

    title_v = (day + p.phases[0]) // p.periods[0]
    bullets_v = (day + p.phases[1]) // p.periods[1]
    images_v = (day + p.phases[2]) // p.periods[2]
    bullets = _bullets(p, bullets_v)
    return ProductState(
        profile=p,
        day=day,
        title=_title(p, title_v),
        bullets=bullets,
        description=f"{p.brand} {p.model} {p.kind.noun}. {bullets[0]} {bullets[1]}",
        images=_images(seed, p, images_v),
        price=price,
        list_price=p.list_price,
        deal=deal,
        seller=seller,
        in_stock=in_stock,
        stock_left=stock_left,
        rating=rating,
        review_count=max(0, reviews),
        bsr=tuple(bsr),
    )
