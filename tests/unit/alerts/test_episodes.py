"""A change and the later move that undoes it: the undoing ends the first alert."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.alerts.rules import Episode, State, detect, ending, fingerprint, settle
from services.core.thresholds import Rule, Thresholds

T = Thresholds()
START = datetime(2026, 11, 1, 6, tzinfo=UTC)
DAY = timedelta(days=1)
BASE = State(
    price=Decimal("40.00"),
    buybox_price=Decimal("40.00"),
    buybox_seller="MyShop",
    in_stock=True,
    rating=Decimal("4.5"),
    review_count=1000,
    bsr=[{"rank": 5000, "category": "Electronics"}, {"rank": 100, "category": "Earbuds"}],
    currency="USD",
)


def episode(rule: Rule, old: Any, new: Any, fp: str = "", **kw: Any) -> Episode:
    return Episode(id=1, rule=rule, fingerprint=fp, old=old, new=new, started_at=START, **kw)


def price(value: str) -> State:
    return replace(BASE, price=Decimal(value), buybox_price=Decimal(value))


def test_a_deal_ends_when_the_price_is_back_within_the_threshold() -> None:
    deal = episode(Rule.PRICE_CHANGE, "40.00", "28.00")
    end = ending(deal, price("39.99"), T, START + DAY)
    assert end is not None
    assert end.value == "39.99"
    assert end.message == "Price drop over: back to 39.99 USD after 1 day"
    # Still 12.5 % under where it was: the drop goes on.
    assert ending(deal, price("35.00"), T, START + DAY) is None


def test_a_rise_that_comes_back_ends_too_and_says_how_long_it_lasted() -> None:
    rise = episode(Rule.PRICE_CHANGE, "40.00", "50.00")
    end = ending(rise, price("41.00"), T, START + timedelta(hours=5))
    assert end is not None and end.message == "Price rise over: back to 41.00 USD after 5 hours"
    assert ending(rise, replace(BASE, price=None), T, START + DAY) is None  # no price: unknown


def test_back_in_stock_ends_a_stock_out_and_is_no_alert_of_its_own() -> None:
    out = episode(Rule.OUT_OF_STOCK, True, False)
    old = replace(BASE, in_stock=False, price=None, buybox_price=None, buybox_seller=None)
    events = detect(old, BASE, T, "own")
    assert [e.rule for e in events] == [Rule.BACK_IN_STOCK]
    kept, endings = settle(events, [out], BASE, T, START + 3 * DAY)
    assert kept == []
    assert [e.message for e in endings] == ["Back in stock after 3 days"]
    # Without an open stock-out (one older than the window, say), back in stock is told.
    assert settle(events, [], BASE, T, START + 3 * DAY) == (events, [])


def test_the_rise_back_after_a_deal_is_not_stored_as_an_alert() -> None:
    events = detect(price("28.00"), price("40.00"), T, "own")
    assert Rule.PRICE_CHANGE in {e.rule for e in events}
    kept, endings = settle(
        events, [episode(Rule.PRICE_CHANGE, "40.00", "28.00")], price("40.00"), T, START + DAY
    )
    assert kept == [] and len(endings) == 1


def test_a_rank_that_comes_back_ends_its_episode_for_that_category_only() -> None:
    jumped = episode(
        Rule.BSR_CHANGE,
        {"category": "Earbuds", "rank": 100},
        {"category": "Earbuds", "rank": 300},
        "Earbuds",
    )
    back = replace(
        BASE, bsr=[{"rank": 5100, "category": "Electronics"}, {"rank": 110, "category": "Earbuds"}]
    )
    end = ending(jumped, back, T, START + 2 * DAY)
    assert (
        end is not None and end.message == "Best Sellers Rank in Earbuds back to #110 after 2 days"
    )
    still = replace(
        back, bsr=[{"rank": 5100, "category": "Electronics"}, {"rank": 250, "category": "Earbuds"}]
    )
    assert ending(jumped, still, T, START + 2 * DAY) is None
    other = replace(jumped, fingerprint="Cables", old={"category": "Cables", "rank": 10})
    assert ending(other, back, T, START + 2 * DAY) is None  # no rank in that category now


def test_the_buy_box_back_with_its_holder_ends_the_change() -> None:
    moved = episode(Rule.BUYBOX_SELLER_CHANGED, "MyShop", "Rival")
    end = ending(moved, BASE, T, START + 2 * DAY)
    assert end is not None and end.message == "Buy Box back with MyShop after 2 days"
    assert ending(moved, replace(BASE, buybox_seller="Third"), T, START + DAY) is None


def test_winning_the_buy_box_back_ends_the_loss_instead_of_a_won_alert() -> None:
    mine = Thresholds(my_seller_name="MyShop")
    lost = episode(Rule.BUYBOX_LOST, "MyShop", "Rival")
    events = detect(replace(BASE, buybox_seller="Rival"), BASE, mine, "own")
    assert [e.rule for e in events] == [Rule.BUYBOX_WON]
    kept, endings = settle(events, [lost], BASE, mine, START + DAY)
    assert kept == []
    assert endings[0].message == "Buy Box won back from Rival after 1 day"


def test_a_rating_that_recovers_ends_the_drop() -> None:
    drop = episode(Rule.RATING_DROP, "4.5", "4.1")
    assert ending(drop, replace(BASE, rating=Decimal("4.3")), T, START + DAY) is not None
    assert ending(drop, replace(BASE, rating=Decimal("4.2")), T, START + DAY) is None


def test_an_episode_already_ended_by_this_crawl_swallows_the_reversal_but_ends_once() -> None:
    # Detection run twice for one crawl: the second run finds the episode it ended itself.
    events = detect(price("28.00"), price("40.00"), T, "own")
    done = episode(Rule.PRICE_CHANGE, "40.00", "28.00", ended_here=True)
    assert settle(events, [done], price("40.00"), T, START + DAY) == ([], [])


def test_an_unrelated_change_in_the_same_crawl_is_still_told() -> None:
    events = detect(price("28.00"), replace(price("40.00"), in_stock=False), T, "own")
    kept, _ = settle(
        events, [episode(Rule.PRICE_CHANGE, "40.00", "28.00")], price("40.00"), T, START + DAY
    )
    assert [e.rule for e in kept] == [Rule.OUT_OF_STOCK]


def test_a_disabled_rule_ends_nothing() -> None:
    quiet = Thresholds(disabled_rules=[Rule.PRICE_CHANGE])
    assert settle([], [episode(Rule.PRICE_CHANGE, "40.00", "28.00")], BASE, quiet, START) == (
        [],
        [],
    )


@pytest.mark.parametrize("rule", [Rule.REVIEWS_REMOVED, Rule.LISTING_CHANGED])
def test_changes_that_do_not_come_back_never_end(rule: Rule) -> None:
    assert ending(episode(rule, 1000, 900), BASE, T, START + DAY) is None


def test_each_bsr_category_is_its_own_fingerprint() -> None:
    new = replace(
        BASE, bsr=[{"rank": 5000, "category": "Electronics"}, {"rank": 300, "category": "Earbuds"}]
    )
    (event,) = detect(BASE, new, T, "own")
    assert fingerprint(event) == "Earbuds"


def test_an_undercut_ends_when_the_competitor_is_back_at_or_above_the_price_it_undercut() -> None:
    """The episode is read on the competitor's own snapshots: ``old`` is the seller's price."""
    cut = episode(Rule.COMPETITOR_UNDERCUT, "40.00", "35.00")
    assert ending(cut, price("39.99"), T, START + DAY) is None
    end = ending(cut, price("40.00"), T, START + 2 * DAY)
    assert end is not None
    assert (end.value, end.message) == (
        "40.00",
        "Undercut over: the competitor is back to 40.00 USD after 2 days",
    )
    assert ending(cut, replace(BASE, price=None), T, START + DAY) is None
