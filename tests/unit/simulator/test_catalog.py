"""The simulated catalogue: deterministic per (marketplace, ASIN, day) and eventful over time."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from services.product.marketplaces import Marketplace
from simulator.catalog import ProductState, product_state, shelf_price, simulated_day
from simulator.formats import money

TODAY = simulated_day()
ASINS = [f"B0TEST{i:04d}" for i in range(200)]


def history(
    asin: str, days: int = 60, marketplace: Marketplace = Marketplace.US
) -> list[ProductState | None]:
    return [product_state(0, marketplace, asin, TODAY + day) for day in range(days)]


def histories(days: int = 60) -> Iterator[list[ProductState]]:
    for asin in ASINS:
        states = history(asin, days)
        if all(state is not None for state in states):
            yield states  # type: ignore[misc]


def test_same_key_same_state_in_any_order() -> None:
    first = [product_state(0, Marketplace.DE, asin, TODAY) for asin in ASINS[:50]]
    again = [product_state(0, Marketplace.DE, asin, TODAY) for asin in reversed(ASINS[:50])]
    assert first == list(reversed(again))


def test_the_next_day_differs_for_some_products() -> None:
    today = [product_state(0, Marketplace.US, asin, TODAY) for asin in ASINS[:50]]
    tomorrow = [product_state(0, Marketplace.US, asin, TODAY + 1) for asin in ASINS[:50]]
    changed = [a for a, b in zip(today, tomorrow, strict=True) if a != b]
    assert len(changed) >= 10


def test_the_seed_changes_the_catalogue() -> None:
    a = [product_state(0, Marketplace.US, asin, TODAY) for asin in ASINS[:20]]
    b = [product_state(1, Marketplace.US, asin, TODAY) for asin in ASINS[:20]]
    assert sum(x != y for x, y in zip(a, b, strict=True)) >= 15


def test_identity_is_shared_across_marketplaces_but_prices_are_local() -> None:
    us = product_state(0, Marketplace.US, "B0SHARED01", TODAY, not_found_share=0)
    jp = product_state(0, Marketplace.JP, "B0SHARED01", TODAY, not_found_share=0)
    assert us is not None and jp is not None
    assert (us.profile.brand, us.profile.kind) == (jp.profile.brand, jp.profile.kind)
    assert (us.currency, jp.currency) == ("USD", "JPY")
    assert jp.profile.base_price > 50 * us.profile.base_price


def test_a_small_share_of_asins_is_permanently_not_found() -> None:
    asins = [f"B1NF{i:06d}" for i in range(3000)]
    missing = {a for a in asins if product_state(0, Marketplace.US, a, TODAY) is None}
    assert 0.01 * len(asins) <= len(missing) <= 0.035 * len(asins)
    later = {a for a in asins if product_state(0, Marketplace.US, a, TODAY + 40) is None}
    assert later == missing
    assert not any(product_state(0, Marketplace.US, a, TODAY, 0.0) is None for a in asins[:200])


def test_stock_runs_out_for_a_few_days_and_comes_back() -> None:
    episodes = []
    for states in histories():
        stock = [state.in_stock for state in states]
        for start in range(1, len(stock)):
            if stock[start - 1] and not stock[start]:
                end = next((i for i in range(start, len(stock)) if stock[i]), None)
                if end is not None:
                    episodes.append(end - start)
                    # Out of stock: no Buy Box, no price.
                    assert states[start].price is None and states[start].seller is None
    assert len(episodes) >= 20
    assert all(2 <= length <= 5 for length in episodes)


def test_prices_move_daily_with_occasional_deals_beyond_ten_percent() -> None:
    moves, deals, big_drops = 0, 0, 0
    for states in histories():
        prices = [(s.price, s.deal) for s in states if s.price is not None]
        for (before, _), (after, deal) in itertools.pairwise(prices):
            moves += before != after
            deals += deal
            big_drops += after < before * 0.9
    assert moves > 1000
    assert deals > 100
    assert big_drops > 100


def test_buy_box_is_mostly_the_main_seller_but_changes_hands() -> None:
    held_by_main, changes = 0, 0
    for states in histories():
        main = states[0].profile.main_seller
        sellers = [s.seller for s in states if s.seller is not None]
        held_by_main += sum(seller == main for seller in sellers) / len(sellers) > 0.7
        changes += any(seller != main for seller in sellers)
    assert held_by_main >= 150
    assert changes >= 30


def test_rating_drifts_and_sometimes_drops_by_a_third_of_a_star() -> None:
    drops = 0
    for states in histories():
        ratings = [s.rating for s in states]
        assert all(1.0 <= r <= 5.0 and round(r, 1) == r for r in ratings)
        drops += any(b <= a - 0.3 for a, b in itertools.pairwise(ratings))
    assert drops >= 10


def test_review_counts_mostly_grow_and_occasionally_drop() -> None:
    grew, dropped, steps = 0, 0, 0
    for states in histories():
        counts = [s.review_count for s in states]
        for a, b in itertools.pairwise(counts):
            steps += 1
            grew += b >= a
            dropped += b < a
    assert grew / steps > 0.97
    assert dropped > 0


def test_bsr_has_a_main_category_subcategories_and_jumps() -> None:
    jumps = 0
    for states in histories():
        for state in states:
            assert 2 <= len(state.bsr) <= 3
            assert state.bsr[0][1] == state.profile.kind.department
            assert all(rank >= 1 for rank, _ in state.bsr)
        mains = [s.bsr[0][0] for s in states]
        jumps += any(b >= 2 * a or a >= 2 * b for a, b in itertools.pairwise(mains))
    assert jumps >= 50


def test_title_bullets_and_images_change_now_and_then() -> None:
    titles = bullets = images = 0
    for states in histories():
        titles += len({s.title for s in states}) > 1
        bullets += len({s.bullets for s in states}) > 1
        images += len({s.images for s in states}) > 1
        # Not daily: content stays put for weeks.
        assert len({s.title for s in states}) <= 4
    assert titles >= 30 and bullets >= 30 and images >= 30


@pytest.mark.parametrize(
    ("raw", "marketplace", "expected"),
    [
        (23.2, Marketplace.US, 22.99),
        (23.27, Marketplace.US, 23.49),
        (23.6, Marketplace.DE, 23.49),
        (3.456, Marketplace.UK, 3.46),
        (3487.0, Marketplace.JP, 3490.0),
    ],
)
def test_shelf_prices_follow_local_conventions(
    raw: float, marketplace: Marketplace, expected: float
) -> None:
    assert shelf_price(raw, marketplace) == expected


@pytest.mark.parametrize(
    ("amount", "marketplace", "text"),
    [
        (1234.5, Marketplace.US, "$1,234.50"),
        (1234.5, Marketplace.DE, "1.234,50 €"),
        (35.0, Marketplace.UK, "£35.00"),
        (2349.0, Marketplace.JP, "￥2,349"),
    ],
)
def test_money_is_written_the_storefront_way(
    amount: float, marketplace: Marketplace, text: str
) -> None:
    assert money(amount, marketplace) == text


def test_yen_prices_are_whole_and_other_prices_have_cents() -> None:
    for asin in ASINS[:40]:
        jp = product_state(0, Marketplace.JP, asin, TODAY, 0.0)
        fr = product_state(0, Marketplace.FR, asin, TODAY, 0.0)
        assert jp is not None and fr is not None
        if jp.price is not None:
            assert jp.price == int(jp.price) and jp.price % 10 == 0
        if fr.price is not None:
            assert round(fr.price, 2) == fr.price
