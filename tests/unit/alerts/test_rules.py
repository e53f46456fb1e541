"""Every change rule, firing and not firing."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from services.alerts.rules import State, detect, undercut, usual_ranks
from services.core.thresholds import Rule, Severity, Thresholds

BASE = State(
    price=Decimal("20.00"),
    buybox_price=Decimal("20.00"),
    buybox_seller="MyShop",
    in_stock=True,
    rating=Decimal("4.5"),
    review_count=1000,
    bsr=[{"rank": 5000, "category": "Electronics"}, {"rank": 100, "category": "Earbuds"}],
    title="Great earbuds",
    bullets=("Loud", "Light"),
    images=("a.jpg", "b.jpg"),
    currency="USD",
)
T = Thresholds()


def rules(new: State, old: State = BASE, t: Thresholds = T, role: str = "own") -> set[Rule]:
    return {e.rule for e in detect(old, new, t, role)}


def test_identical_snapshots_raise_nothing() -> None:
    assert rules(BASE) == set()


@pytest.mark.parametrize(
    ("price", "fires"),
    [("22.01", True), ("17.99", True), ("21.99", False), ("18.01", False)],
)
def test_price_change_over_ten_percent(price: str, fires: bool) -> None:
    new = replace(BASE, price=Decimal(price), buybox_price=BASE.buybox_price)
    assert (Rule.PRICE_CHANGE in rules(new)) is fires


def test_price_change_needs_the_minimum_absolute_delta() -> None:
    cheap = replace(BASE, price=Decimal("1.00"))
    assert Rule.PRICE_CHANGE not in rules(replace(cheap, price=Decimal("1.30")), old=cheap)
    assert Rule.PRICE_CHANGE in rules(replace(cheap, price=Decimal("1.60")), old=cheap)


def _price_event(new: State, old: State = BASE, role: str = "own") -> tuple[Severity, str]:
    (event,) = [e for e in detect(old, new, T, role) if e.rule is Rule.PRICE_CHANGE]
    return event.severity, event.message


@pytest.mark.parametrize(
    ("role", "severity"), [("own", Severity.INFO), ("competitor", Severity.CRITICAL)]
)
def test_a_deal_is_news_from_a_competitor_and_a_brief_line_for_the_seller(
    role: str, severity: Severity
) -> None:
    """The seller runs their own deals; a competitor's deal is something to answer."""
    start = _price_event(replace(BASE, price=Decimal("13.00"), deal=True), role=role)
    assert start == (severity, "Price dropped 35.0% from 20.00 USD to 13.00 USD (deal)")
    in_deal = replace(BASE, price=Decimal("13.00"), deal=True)
    end = _price_event(replace(BASE, deal=False), old=in_deal, role=role)
    assert end[0] is severity
    assert end[1].endswith("(deal over)")


def test_a_drop_without_a_deal_stays_news_for_the_seller_too() -> None:
    assert _price_event(replace(BASE, price=Decimal("13.00"), deal=False)) == (
        Severity.CRITICAL,
        "Price dropped 35.0% from 20.00 USD to 13.00 USD",
    )
    # A rise out of a price that was not a deal is not a deal ending, whatever the new page says.
    old = replace(BASE, price=Decimal("13.00"), deal=False)
    assert _price_event(replace(BASE, deal=True), old=old)[0] is Severity.CRITICAL


def test_price_event_carries_old_new_change_threshold_severity() -> None:
    (event,) = [
        e
        for e in detect(BASE, replace(BASE, price=Decimal("10.00")), T, "own")
        if e.rule is Rule.PRICE_CHANGE
    ]
    assert event.old == "20.00"
    assert event.new == "10.00"
    assert event.change == "-50.0%"
    assert event.threshold == "10%"
    assert event.severity is Severity.CRITICAL  # three times the threshold


FORTY = replace(BASE, price=Decimal("40.00"), buybox_price=Decimal("40.00"))


def test_buybox_price_wobble_is_quiet_a_ten_percent_move_alerts() -> None:
    # $0.50 on $40 passes the absolute floor but is 1.25 %: no alert.
    assert rules(replace(FORTY, buybox_price=Decimal("39.50")), old=FORTY) == set()
    assert rules(replace(FORTY, buybox_price=Decimal("41.00")), old=FORTY) == set()
    moved = replace(FORTY, buybox_price=Decimal("35.99"))
    assert rules(moved, old=FORTY) == {Rule.BUYBOX_PRICE_CHANGE}


def test_every_money_rule_needs_both_the_percentage_and_the_floor() -> None:
    cheap = replace(BASE, price=Decimal("1.00"), buybox_price=Decimal("1.00"))
    # +30 % but only $0.30: under the absolute floor.
    assert rules(replace(cheap, buybox_price=Decimal("1.30")), old=cheap) == set()
    assert rules(replace(cheap, price=Decimal("1.30")), old=cheap) == set()
    # $1 on $40 is 2.5 %: under the percentage.
    assert rules(replace(FORTY, price=Decimal("39.00")), old=FORTY) == set()


def test_one_move_of_price_and_buy_box_price_is_one_alert() -> None:
    new = replace(FORTY, price=Decimal("30.00"), buybox_price=Decimal("30.00"))
    assert rules(new, old=FORTY) == {Rule.PRICE_CHANGE}
    quiet_price = Thresholds(disabled_rules=[Rule.PRICE_CHANGE])
    assert rules(new, old=FORTY, t=quiet_price) == {Rule.BUYBOX_PRICE_CHANGE}


def test_buybox_lost_and_won_with_the_sellers_name() -> None:
    mine = Thresholds(my_seller_name="MyShop")
    lost = detect(BASE, replace(BASE, buybox_seller="Rival"), mine, "own")
    assert [(e.rule, e.severity) for e in lost] == [(Rule.BUYBOX_LOST, Severity.CRITICAL)]
    won = detect(replace(BASE, buybox_seller="Rival"), BASE, mine, "own")
    assert [e.rule for e in won] == [Rule.BUYBOX_WON]


def test_buybox_seller_changed_without_a_name() -> None:
    assert rules(replace(BASE, buybox_seller="Rival")) == {Rule.BUYBOX_SELLER_CHANGED}


def test_subcategory_bsr_change_over_thirty_percent_only() -> None:
    worse = replace(
        BASE, bsr=[{"rank": 9000, "category": "Electronics"}, {"rank": 160, "category": "Earbuds"}]
    )
    events = [e for e in detect(BASE, worse, T, "own") if e.rule is Rule.BSR_CHANGE]
    assert len(events) == 1  # the main category's swing does not count
    assert events[0].new == {"category": "Earbuds", "rank": 160}
    # A day's drift of 25 % is no news.
    drift = replace(
        BASE, bsr=[{"rank": 5000, "category": "Electronics"}, {"rank": 125, "category": "Earbuds"}]
    )
    assert Rule.BSR_CHANGE not in rules(drift)


def test_a_stock_out_explains_its_rank_change() -> None:
    out = replace(
        BASE,
        in_stock=False,
        bsr=[{"rank": 12500, "category": "Electronics"}, {"rank": 250, "category": "Earbuds"}],
    )
    assert rules(out) == {Rule.OUT_OF_STOCK}


def test_bsr_needs_the_minimum_rank_delta() -> None:
    top = replace(BASE, bsr=[{"rank": 50, "category": "E"}, {"rank": 2, "category": "Earbuds"}])
    moved = replace(top, bsr=[{"rank": 50, "category": "E"}, {"rank": 4, "category": "Earbuds"}])
    assert Rule.BSR_CHANGE not in rules(moved, old=top)  # +100 % but only 2 places


@pytest.mark.parametrize(("rating", "fires"), [("4.2", True), ("4.0", True), ("4.3", False)])
def test_rating_drop(rating: str, fires: bool) -> None:
    assert (Rule.RATING_DROP in rules(replace(BASE, rating=Decimal(rating)))) is fires


def test_reviews_removed() -> None:
    assert Rule.REVIEWS_REMOVED in rules(replace(BASE, review_count=990))
    assert Rule.REVIEWS_REMOVED not in rules(replace(BASE, review_count=1010))
    assert Rule.REVIEWS_REMOVED not in rules(replace(BASE, review_count=998))  # a re-count


def test_stock_out_and_back() -> None:
    out = detect(BASE, replace(BASE, in_stock=False), T, "own")
    assert [(e.rule, e.severity) for e in out] == [(Rule.OUT_OF_STOCK, Severity.CRITICAL)]
    back = detect(replace(BASE, in_stock=False), BASE, T, "own")
    assert [e.rule for e in back] == [Rule.BACK_IN_STOCK]
    competitor_out = detect(BASE, replace(BASE, in_stock=False), T, "competitor")
    assert competitor_out[0].severity is Severity.INFO


def test_listing_changes() -> None:
    assert rules(replace(BASE, title="New title")) == {Rule.LISTING_CHANGED}
    assert rules(replace(BASE, images=("a.jpg",))) == {Rule.LISTING_CHANGED}
    assert rules(replace(BASE, bullets=("Loud", "Light", "Cheap"))) == {Rule.LISTING_CHANGED}
    assert rules(replace(BASE, title=None)) == set()  # a missing title is not a change


def test_a_listing_that_only_moves_around_has_not_changed() -> None:
    # The same bullets in another order, a title re-spaced or re-cased, a reshuffled gallery.
    assert rules(replace(BASE, bullets=("Light", "Loud"))) == set()
    assert rules(replace(BASE, bullets=("Light ", "loud"))) == set()
    assert rules(replace(BASE, title="Great  EARBUDS ")) == set()
    gallery = replace(BASE, images=("a.jpg", "b.jpg", "c.jpg"))
    assert rules(replace(gallery, images=("a.jpg", "c.jpg", "b.jpg")), old=gallery) == set()
    # A new main image is what shoppers see first, even with the same pictures.
    assert rules(replace(BASE, images=("b.jpg", "a.jpg"))) == {Rule.LISTING_CHANGED}
    assert rules(replace(BASE, bullets=("Loud", "Heavy"))) == {Rule.LISTING_CHANGED}


def _ranks(sub: int) -> list[dict[str, object]]:
    return [{"rank": 5000, "category": "Electronics"}, {"rank": sub, "category": "Earbuds"}]


def test_usual_rank_is_the_median_of_the_recent_snapshots_per_subcategory() -> None:
    history = [_ranks(100), _ranks(140), _ranks(60), _ranks(105), [{"rank": 1, "category": "X"}]]
    assert usual_ranks(history) == {"Earbuds": 100}  # the main category is not a subcategory
    assert usual_ranks([]) == {}


def test_a_rank_back_to_usual_after_a_one_day_outlier_is_quiet() -> None:
    # Yesterday's rank was an outlier (#60 in a week around #100): today's #100 is 67 % worse
    # than yesterday but the usual rank, so not news. Yesterday's #60 against a usual #100 was.
    outlier = replace(BASE, bsr=_ranks(60), usual_bsr={"Earbuds": 100})
    assert rules(replace(BASE, bsr=_ranks(100)), old=outlier) == set()
    assert rules(replace(BASE, bsr=_ranks(100)), old=replace(outlier, usual_bsr={})) == {
        Rule.BSR_CHANGE
    }


def test_a_real_rank_jump_is_news_the_day_it_happens() -> None:
    usual = replace(BASE, bsr=_ranks(100), usual_bsr={"Earbuds": 100})
    (event,) = detect(usual, replace(BASE, bsr=_ranks(300)), T, "own")
    assert event.rule is Rule.BSR_CHANGE
    assert event.message == "Best Sellers Rank in Earbuds fell from #100 to #300"
    # Past the threshold from yesterday but the other way from the usual rank: quiet.
    high = replace(BASE, bsr=_ranks(200), usual_bsr={"Earbuds": 60})
    assert rules(replace(BASE, bsr=_ranks(120)), old=high) == set()
    # Said against the usual rank when yesterday's was not the usual one.
    drifted = replace(BASE, bsr=_ranks(110), usual_bsr={"Earbuds": 100})
    (event,) = detect(drifted, replace(BASE, bsr=_ranks(300)), T, "own")
    assert event.message.endswith("from #110 to #300 (usually #100)")


def test_disabled_rules_do_not_fire() -> None:
    quiet = Thresholds(disabled_rules=[Rule.OUT_OF_STOCK])
    assert rules(replace(BASE, in_stock=False), t=quiet) == set()


def test_unknown_values_never_fire() -> None:
    unknown = replace(BASE, price=None, rating=None, review_count=None, in_stock=None, bsr=[])
    assert rules(unknown) == set()
    assert rules(BASE, old=unknown) == set()


def test_custom_thresholds() -> None:
    strict = Thresholds(price_change_pct=Decimal(2))
    assert Rule.PRICE_CHANGE in rules(replace(BASE, price=Decimal("20.60")), t=strict)


def test_competitor_undercut_only_when_it_newly_crosses() -> None:
    assert undercut(Decimal("18"), Decimal("21"), Decimal("20"), T, "earbuds") is not None
    assert (
        undercut(Decimal("18"), Decimal("19"), Decimal("20"), T, "earbuds") is None
    )  # already under
    assert undercut(Decimal("21"), Decimal("22"), Decimal("20"), T, "earbuds") is None
    assert (
        undercut(Decimal("19.80"), Decimal("21"), Decimal("20"), T, "earbuds") is None
    )  # < min delta
    # $0.60 under a $40 price is 1.5 %: under the relative gap.
    assert undercut(Decimal("39.40"), Decimal("41"), Decimal("40"), T, "earbuds") is None
    assert undercut(Decimal("38.00"), Decimal("41"), Decimal("40"), T, "earbuds") is not None


def test_thresholds_validate_ranges() -> None:
    with pytest.raises(ValueError, match="price_change_pct"):
        Thresholds(price_change_pct=Decimal(0))
    with pytest.raises(ValueError, match="rating_drop"):
        Thresholds(rating_drop=Decimal(6))
