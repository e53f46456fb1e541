"""Change detection rules: pure functions from two good snapshots to events.

Only snapshots with status ``ok`` reach these rules, so a failed, blocked or partial crawl can
never raise a false change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from statistics import median_low
from typing import Any

from services.core.thresholds import Rule, Severity, Thresholds


@dataclass(frozen=True, slots=True)
class State:
    """The values of one good snapshot (and its listing) that the rules compare."""

    price: Decimal | None
    buybox_price: Decimal | None
    buybox_seller: str | None
    in_stock: bool | None
    rating: Decimal | None
    review_count: int | None
    bsr: Sequence[Mapping[str, Any]]
    title: str | None = None
    bullets: Sequence[str] = ()
    images: Sequence[str] = ()
    currency: str | None = None
    deal: bool | None = None  # the page showed the price as a deal
    # Each subcategory's usual rank over the last good snapshots up to this one (``usual_ranks``);
    # empty when unknown, and then only the previous rank counts.
    usual_bsr: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    rule: Rule
    severity: Severity
    old: Any
    new: Any
    change: Any
    threshold: Any
    message: str


def _pct(old: Decimal, new: Decimal) -> Decimal:
    return (new - old) / old * 100 if old else Decimal(0)


def _money(value: Decimal | None, currency: str | None) -> str:
    return f"{value} {currency or ''}".strip()


def _moved(old: Decimal, new: Decimal, t: Thresholds) -> bool:
    """A money move worth an alert: past the relative threshold *and* the absolute floor."""
    return abs(_pct(old, new)) > t.price_change_pct and abs(new - old) >= max(
        t.min_price_delta, Decimal("0.01")
    )


def price_change(old: State, new: State, t: Thresholds, role: str) -> list[Event]:
    if old.price is None or new.price is None or old.price == 0:
        return []
    if not _moved(old.price, new.price, t):
        return []
    delta = new.price - old.price
    pct = _pct(old.price, new.price)
    severity = Severity.CRITICAL if abs(pct) >= t.price_change_pct * 3 else Severity.WARNING
    # A drop into a deal, or the rise when one ends.
    deal = bool(new.deal if delta < 0 else old.deal)
    if deal and role == "own":
        # The seller runs their own deals: worth a line in the brief, not news pushed to them.
        severity = Severity.INFO
    direction = "dropped" if delta < 0 else "rose"
    return [
        Event(
            Rule.PRICE_CHANGE,
            severity,
            str(old.price),
            str(new.price),
            f"{pct:+.1f}%",
            f"{t.price_change_pct}%",
            f"Price {direction} {abs(pct):.1f}% from {_money(old.price, old.currency)} "
            f"to {_money(new.price, new.currency)}"
            + ((" (deal)" if delta < 0 else " (deal over)") if deal else ""),
        )
    ]


def buybox_price_change(old: State, new: State, t: Thresholds, role: str) -> list[Event]:
    if old.buybox_price is None or new.buybox_price is None or old.buybox_price == 0:
        return []
    if not _moved(old.buybox_price, new.buybox_price, t):
        return []
    pct = _pct(old.buybox_price, new.buybox_price)
    return [
        Event(
            Rule.BUYBOX_PRICE_CHANGE,
            Severity.INFO,
            str(old.buybox_price),
            str(new.buybox_price),
            f"{pct:+.1f}%",
            f"{t.price_change_pct}%",
            f"Buy Box price moved {pct:+.1f}% to {_money(new.buybox_price, new.currency)}",
        )
    ]


def buybox_seller(old: State, new: State, t: Thresholds, role: str) -> list[Event]:
    if not old.buybox_seller or not new.buybox_seller or old.buybox_seller == new.buybox_seller:
        return []
    mine = (t.my_seller_name or "").strip().lower()
    was_mine = old.buybox_seller.strip().lower() == mine
    is_mine = new.buybox_seller.strip().lower() == mine
    if mine and was_mine and not is_mine:
        rule, severity = Rule.BUYBOX_LOST, Severity.CRITICAL
        message = f"Buy Box lost to {new.buybox_seller}"
    elif mine and is_mine and not was_mine:
        rule, severity = Rule.BUYBOX_WON, Severity.INFO
        message = f"Buy Box won back from {old.buybox_seller}"
    else:
        rule = Rule.BUYBOX_SELLER_CHANGED
        severity = Severity.WARNING if role == "own" else Severity.INFO
        message = f"Buy Box moved from {old.buybox_seller} to {new.buybox_seller}"
    return [Event(rule, severity, old.buybox_seller, new.buybox_seller, None, None, message)]


def _rank_moved(before: int, now: int, t: Thresholds) -> bool:
    """Past the relative threshold *and* the minimum number of places."""
    return (
        abs(_pct(Decimal(before), Decimal(now))) > t.bsr_change_pct
        and abs(now - before) >= t.min_bsr_delta
    )


def usual_ranks(history: Sequence[Sequence[Mapping[str, Any]]]) -> dict[str, int]:
    """Each subcategory's median rank over these snapshots' BSR lists (main category first)."""
    ranks: dict[str, list[int]] = {}
    for bsr in history:
        for entry in list(bsr)[1:]:
            ranks.setdefault(str(entry["category"]), []).append(int(entry["rank"]))
    return {category: int(median_low(values)) for category, values in ranks.items()}


def bsr_change(old: State, new: State, t: Thresholds, role: str) -> list[Event]:
    """Every subcategory (not the main category, whose rank swings by nature) compared.

    A rank is noisy from one day to the next: a move counts when the new rank is past the
    threshold from the previous rank *and*, in the same direction, from the product's usual
    rank of the last snapshots. So a wobble of one day against a quiet week, and the return to
    normal after one, stay quiet; a real jump, up or down, is news the day it happens.
    """
    if old.in_stock is not None and new.in_stock is not None and old.in_stock != new.in_stock:
        return []  # a stock-out sinks the rank and a restock lifts it: the stock rule says why
    before = {str(e["category"]): int(e["rank"]) for e in list(old.bsr)[1:]}
    events = []
    for entry in list(new.bsr)[1:]:
        category, rank = str(entry["category"]), int(entry["rank"])
        previous = before.get(category)
        if previous is None or previous == 0:
            continue
        if not _rank_moved(previous, rank, t):
            continue
        worse = rank > previous
        usual = old.usual_bsr.get(category)
        if usual and (not _rank_moved(usual, rank, t) or (rank > usual) != worse):
            continue
        pct = _pct(Decimal(previous), Decimal(rank))
        events.append(
            Event(
                Rule.BSR_CHANGE,
                Severity.WARNING if worse and role == "own" else Severity.INFO,
                {"category": category, "rank": previous},
                {"category": category, "rank": rank},
                f"{pct:+.1f}%",
                f"{t.bsr_change_pct}%",
                f"Best Sellers Rank in {category} {'fell' if worse else 'improved'} "
                f"from #{previous:,} to #{rank:,}"
                + (f" (usually #{usual:,})" if usual and usual != previous else ""),
            )
        )
    return events


def rating_drop(old: State, new: State, t: Thresholds, role: str) -> list[Event]:
    if old.rating is None or new.rating is None or old.rating - new.rating < t.rating_drop:
        return []
    return [
        Event(
            Rule.RATING_DROP,
            Severity.WARNING,
            str(old.rating),
            str(new.rating),
            str(new.rating - old.rating),
            str(t.rating_drop),
            f"Rating dropped from {old.rating} to {new.rating}",
        )
    ]


def reviews_removed(old: State, new: State, t: Thresholds, role: str) -> list[Event]:
    if old.review_count is None or new.review_count is None:
        return []
    removed = old.review_count - new.review_count
    if removed < t.min_reviews_removed:
        return []
    return [
        Event(
            Rule.REVIEWS_REMOVED,
            Severity.WARNING,
            old.review_count,
            new.review_count,
            -removed,
            t.min_reviews_removed,
            f"{removed} review(s) removed ({old.review_count:,} → {new.review_count:,})",
        )
    ]


def stock(old: State, new: State, t: Thresholds, role: str) -> list[Event]:
    if old.in_stock is None or new.in_stock is None or old.in_stock == new.in_stock:
        return []
    if not new.in_stock:
        severity = Severity.CRITICAL if role == "own" else Severity.INFO
        return [Event(Rule.OUT_OF_STOCK, severity, True, False, None, None, "Out of stock")]
    return [Event(Rule.BACK_IN_STOCK, Severity.INFO, False, True, None, None, "Back in stock")]


def _words(text: str) -> str:
    return " ".join(text.split()).casefold()


def _listing_content(state: State) -> dict[str, Any]:
    """What a shopper reads and sees, without what only moves it around.

    Bullets compare as a set (the same five bullets in another order say the same), titles
    without case and spacing, and images as the main image plus the gallery as a set: a new main
    image is what shoppers see first, a reshuffled gallery is not news.
    """
    return {
        "title": None if state.title is None else _words(state.title),
        "bullets": frozenset(_words(b) for b in state.bullets),
        "images": (state.images[0] if state.images else None, frozenset(state.images)),
    }


def listing_changed(old: State, new: State, t: Thresholds, role: str) -> list[Event]:
    before, after = _listing_content(old), _listing_content(new)
    changed = [
        name
        for name in ("title", "bullets", "images")
        if before[name] != after[name]
        and not (name == "title" and (old.title is None or new.title is None))
    ]
    if not changed:
        return []
    return [
        Event(
            Rule.LISTING_CHANGED,
            Severity.WARNING if role == "own" else Severity.INFO,
            {k: getattr(old, k) if k == "title" else len(getattr(old, k)) for k in changed},
            {k: getattr(new, k) if k == "title" else len(getattr(new, k)) for k in changed},
            changed,
            None,
            f"Listing changed: {', '.join(changed)}",
        )
    ]


RULES = {
    Rule.PRICE_CHANGE: price_change,
    Rule.BUYBOX_PRICE_CHANGE: buybox_price_change,
    Rule.BUYBOX_SELLER_CHANGED: buybox_seller,
    Rule.BSR_CHANGE: bsr_change,
    Rule.RATING_DROP: rating_drop,
    Rule.REVIEWS_REMOVED: reviews_removed,
    Rule.OUT_OF_STOCK: stock,
    Rule.LISTING_CHANGED: listing_changed,
}


def detect(old: State, new: State, thresholds: Thresholds, role: str) -> list[Event]:
    """Every event between two consecutive good snapshots of one tracked product."""
    events: list[Event] = []
    for rule_fn in RULES.values():
        events.extend(e for e in rule_fn(old, new, thresholds, role) if thresholds.enabled(e.rule))
    # Most pages show the Buy Box offer as the price: the same move told twice is noise.
    told = {(e.old, e.new) for e in events if e.rule is Rule.PRICE_CHANGE}
    return [
        e for e in events if e.rule is not Rule.BUYBOX_PRICE_CHANGE or (e.old, e.new) not in told
    ]


def undercut(
    competitor_price: Decimal | None,
    previous_competitor_price: Decimal | None,
    own_price: Decimal | None,
    thresholds: Thresholds,
    own_label: str,
) -> Event | None:
    """A competitor's price newly below the seller's own product's price."""
    if competitor_price is None or own_price is None or competitor_price >= own_price:
        return None
    if previous_competitor_price is not None and previous_competitor_price < own_price:
        return None  # already undercutting: not news
    pct = _pct(own_price, competitor_price)
    # Both the relative gap and the absolute floor, as for every money rule.
    if own_price - competitor_price < thresholds.min_price_delta or -pct < thresholds.undercut_pct:
        return None
    return Event(
        Rule.COMPETITOR_UNDERCUT,
        Severity.CRITICAL,
        str(own_price),
        str(competitor_price),
        f"{pct:+.1f}%",
        f"{thresholds.undercut_pct}%",
        f"A competitor now sells {abs(pct):.1f}% below your {own_label}",
    )


# Episodes: a move and its reversal are one story. A deal that ends, a rank that comes back, a
# stock-out that ends, a Buy Box holder that leaves again: the reversal closes the alert the
# first move raised ("price drop over: back to 40.00 USD after 1 day") instead of raising a
# second alert that the seller would have to put together with the first.


@dataclass(frozen=True, slots=True)
class Episode:
    """A stored alert of a rule whose move can be undone, as the next snapshots see it."""

    id: Any
    rule: Rule
    fingerprint: str
    old: Any  # the value before the move
    new: Any
    started_at: datetime  # capture time of the snapshot that raised it
    # Already closed by the crawl being detected (a re-run): it still swallows the reversal,
    # and is not closed twice.
    ended_here: bool = False


@dataclass(frozen=True, slots=True)
class Ending:
    episode: Episode
    value: Any
    message: str


# Where the reversal is told by another rule than the move it undoes.
_REVERSAL = {Rule.OUT_OF_STOCK: Rule.BACK_IN_STOCK, Rule.BUYBOX_LOST: Rule.BUYBOX_WON}
EPISODIC = frozenset(
    {
        Rule.PRICE_CHANGE,
        Rule.BUYBOX_PRICE_CHANGE,
        Rule.BSR_CHANGE,
        Rule.OUT_OF_STOCK,
        Rule.BUYBOX_SELLER_CHANGED,
        Rule.BUYBOX_LOST,
        Rule.RATING_DROP,
        Rule.COMPETITOR_UNDERCUT,
    }
)


def _after(started: datetime, ended: datetime) -> str:
    hours = max(0.0, (ended - started).total_seconds() / 3600)
    if hours >= 23.5:
        days = round(hours / 24)
        return f"after {days} day{'s' if days != 1 else ''}"
    whole = max(1, round(hours))
    return f"after {whole} hour{'s' if whole != 1 else ''}"


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _money_back(
    episode: Episode, now: Decimal | None, t: Thresholds, currency: str | None, what: str
) -> tuple[Any, str] | None:
    before, moved_to = _decimal(episode.old), _decimal(episode.new)
    if now is None or before is None or moved_to is None or before == 0:
        return None
    if _moved(before, now, t):
        return None  # still away from where it was: the episode goes on
    kind = "drop" if moved_to < before else "rise"
    return str(now), f"{what} {kind} over: back to {_money(now, currency)}"


def _rank_back(episode: Episode, new: State, t: Thresholds) -> tuple[Any, str] | None:
    if not isinstance(episode.old, dict):
        return None
    category, before = str(episode.old.get("category")), int(episode.old.get("rank") or 0)
    ranks = {str(e["category"]): int(e["rank"]) for e in list(new.bsr)[1:]}
    now = ranks.get(category)
    if now is None or before == 0 or _rank_moved(before, now, t):
        return None
    return (
        {"category": category, "rank": now},
        f"Best Sellers Rank in {category} back to #{now:,}",
    )


def _same_seller(a: Any, b: str | None) -> bool:
    return isinstance(a, str) and b is not None and a.strip().lower() == b.strip().lower()


def ending(episode: Episode, new: State, t: Thresholds, at: datetime) -> Ending | None:
    """The end of an open episode, when the new snapshot undoes the move that raised it."""
    found: tuple[Any, str] | None = None
    match episode.rule:
        case Rule.PRICE_CHANGE:
            found = _money_back(episode, new.price, t, new.currency, "Price")
        case Rule.BUYBOX_PRICE_CHANGE:
            found = _money_back(episode, new.buybox_price, t, new.currency, "Buy Box price")
        case Rule.BSR_CHANGE:
            found = _rank_back(episode, new, t)
        case Rule.OUT_OF_STOCK:
            found = (True, "Back in stock") if new.in_stock else None
        case Rule.BUYBOX_SELLER_CHANGED:
            if _same_seller(episode.old, new.buybox_seller):
                found = new.buybox_seller, f"Buy Box back with {new.buybox_seller}"
        case Rule.BUYBOX_LOST:
            if _same_seller(episode.old, new.buybox_seller):
                found = new.buybox_seller, f"Buy Box won back from {episode.new}"
        case Rule.COMPETITOR_UNDERCUT:
            # Over once the competitor is back at or above the price it undercut.
            undercut_price = _decimal(episode.old)
            if new.price is not None and undercut_price is not None and new.price >= undercut_price:
                found = (
                    str(new.price),
                    f"Undercut over: the competitor is back to {_money(new.price, new.currency)}",
                )
        case Rule.RATING_DROP:
            before = _decimal(episode.old)
            if (
                new.rating is not None
                and before is not None
                and before - new.rating < t.rating_drop
            ):
                found = str(new.rating), f"Rating back to {new.rating}"
    if found is None:
        return None
    value, message = found
    return Ending(episode, value, f"{message} {_after(episode.started_at, at)}")


def settle(
    events: Sequence[Event],
    episodes: Sequence[Episode],
    new: State,
    t: Thresholds,
    at: datetime,
) -> tuple[list[Event], list[Ending]]:
    """One tracked product's events once its open episodes are weighed against the new state:
    the episodes this state ends, and the events left (a reversal is told as an ending, not as a
    new alert)."""
    endings = [
        e
        for e in (ending(ep, new, t, at) for ep in episodes if t.enabled(ep.rule))
        if e is not None
    ]
    closed = {(e.episode.rule, e.episode.fingerprint) for e in endings}
    closed |= {(ep.rule, ep.fingerprint) for ep in episodes if ep.ended_here}
    reversals = {(_REVERSAL.get(rule, rule), fingerprint) for rule, fingerprint in closed}
    kept = [e for e in events if (e.rule, fingerprint(e)) not in reversals]
    return kept, [e for e in endings if not e.episode.ended_here]


def fingerprint(event: Event) -> str:
    """Tells two events of one rule in one crawl apart: one per BSR category."""
    if isinstance(event.new, dict) and "category" in event.new:
        return str(event.new["category"])[:200]
    return ""
