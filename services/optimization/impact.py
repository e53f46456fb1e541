"""Impact of an applied change: daily metric series before and after, and a verdict per metric.

Method (stated with every result): each metric's daily series after the change is compared with
the baseline's by a two-sided Mann-Whitney U test (normal approximation with tie and continuity
correction), so the baseline's own day-to-day variation sets what counts as a change. The level
is 1 % per metric, which by Bonferroni over the five outcome metrics keeps the chance of calling
pure noise a change in any of them at or below 5 %. Reported with each metric: both means and
medians, the difference of means, the Hodges-Lehmann shift with its 99 % distribution-free
interval, U, z and the p-value. A metric with fewer days of data than the minimum in either
window is `insufficient_data`. Daily series are autocorrelated, which the test does not model:
the minimum number of days and the strict level are the guard against that.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

OUTCOME_METRICS = ("buybox_share", "bsr", "rating", "review_velocity", "in_stock_share")
METRICS = ("price", *OUTCOME_METRICS)
# +1: higher is better; -1: lower is better (a Best Sellers Rank); 0: price is a lever, not an
# outcome, so its move is reported without a good/bad judgement.
DIRECTION = {
    "price": 0,
    "buybox_share": 1,
    "bsr": -1,
    "rating": 1,
    "review_velocity": 1,
    "in_stock_share": 1,
}
FAMILY_LEVEL = 0.95
PER_METRIC_LEVEL = 1 - (1 - FAMILY_LEVEL) / len(OUTCOME_METRICS)  # 0.99
METHOD = (
    "Two-sided Mann-Whitney U test of the daily series after the change against the baseline's "
    "(normal approximation, tie and continuity corrected) at the "
    f"{1 - PER_METRIC_LEVEL:.0%} level per metric, i.e. {FAMILY_LEVEL:.0%} family-wise over the "
    f"{len(OUTCOME_METRICS)} outcome metrics (Bonferroni); shift = Hodges-Lehmann estimate with "
    f"its {PER_METRIC_LEVEL:.0%} distribution-free interval. A metric whose p-value is below the "
    "level moved beyond the baseline's own variation."
)


@dataclass(frozen=True, slots=True)
class Daily:
    """One metric's daily series: ISO day -> value."""

    metric: str
    values: dict[str, float]
    note: str | None = None


def _day(t: datetime) -> str:
    return t.date().isoformat()


def _bsr_category(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """The subcategory: the most frequent non-main BSR category (the main one if it is alone)."""
    sub: Counter[str] = Counter()
    main: Counter[str] = Counter()
    for row in rows:
        entries = row.get("bsr") or []
        if entries:
            main[str(entries[0]["category"])] += 1
        for entry in entries[1:]:
            sub[str(entry["category"])] += 1
    pick = sub or main
    return pick.most_common(1)[0][0] if pick else None


def buybox_holder(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """Whose Buy Box share is measured: the baseline's usual holder."""
    sellers = Counter(str(r["buybox_seller"]) for r in rows if r.get("buybox_seller"))
    return sellers.most_common(1)[0][0] if sellers else None


def daily_series(
    rows: Sequence[Mapping[str, Any]], category: str | None, holder: str | None
) -> dict[str, Daily]:
    """Per-day values of every metric from good snapshots (several a day are averaged)."""
    by_day: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_day[_day(row["captured_at"])].append(row)
    price: dict[str, float] = {}
    share: dict[str, float] = {}
    bsr: dict[str, float] = {}
    rating: dict[str, float] = {}
    stock: dict[str, float] = {}
    last_reviews: dict[str, float] = {}
    for day, items in sorted(by_day.items()):
        prices = [float(r["price"]) for r in items if r.get("price") is not None]
        if prices:
            price[day] = statistics.fmean(prices)
        with_bb = [r for r in items if r.get("buybox_seller")]
        if holder and with_bb:
            share[day] = sum(1 for r in with_bb if r["buybox_seller"] == holder) / len(with_bb)
        ranks = [
            float(e["rank"])
            for r in items
            for e in (r.get("bsr") or [])
            if category is not None and str(e["category"]) == category
        ]
        if ranks:
            bsr[day] = statistics.median(ranks)
        ratings = [float(r["rating"]) for r in items if r.get("rating") is not None]
        if ratings:
            rating[day] = statistics.fmean(ratings)
        stocks = [r["in_stock"] for r in items if r.get("in_stock") is not None]
        if stocks:
            stock[day] = sum(1 for s in stocks if s) / len(stocks)
        counts = [r["review_count"] for r in items if r.get("review_count") is not None]
        if counts:
            last_reviews[day] = float(counts[-1])
    velocity: dict[str, float] = {}
    days = sorted(last_reviews)
    for prev, cur in itertools.pairwise(days):
        gap = (date.fromisoformat(cur) - date.fromisoformat(prev)).days
        velocity[cur] = (last_reviews[cur] - last_reviews[prev]) / gap
    return {
        "price": Daily("price", price),
        "buybox_share": Daily(
            "buybox_share", share, f"share of snapshots whose Buy Box is held by {holder}"
        ),
        "bsr": Daily("bsr", bsr, f"rank in {category}" if category else "no BSR category"),
        "rating": Daily("rating", rating),
        "review_velocity": Daily("review_velocity", velocity, "new reviews per day"),
        "in_stock_share": Daily("in_stock_share", stock),
    }


_Z_CRIT = 2.5758293035489  # two-sided 99 %


def mann_whitney(before: Sequence[float], after: Sequence[float]) -> tuple[float, float, float]:
    """(U of the after sample, z, two-sided p) with tie and continuity correction."""
    n1, n2 = len(after), len(before)
    pooled = sorted([(v, 0) for v in after] + [(v, 1) for v in before])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, pooled, strict=True) if g == 0)
    u = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    mean_u = n1 * n2 / 2
    var_u = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var_u <= 0:  # every value equal: nothing moved
        return u, 0.0, 1.0
    delta = u - mean_u
    z = (delta - math.copysign(0.5, delta)) / math.sqrt(var_u) if delta else 0.0
    return u, z, math.erfc(abs(z) / math.sqrt(2))


def hodges_lehmann(before: Sequence[float], after: Sequence[float]) -> tuple[float, float, float]:
    """The shift after - before (median of pairwise differences) and its 99 % interval."""
    diffs = sorted(a - b for a in after for b in before)
    n1, n2 = len(after), len(before)
    k = int(n1 * n2 / 2 - _Z_CRIT * math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12))
    k = max(0, min(k, len(diffs) - 1))
    return statistics.median(diffs), diffs[k], diffs[len(diffs) - 1 - k]


def compare(
    metric: str,
    before: Daily,
    after: Daily,
    *,
    min_days: int,
    moved_towards: float | None = None,
) -> dict[str, Any]:
    """One metric's figures and verdict. ``moved_towards`` (price only) is the price the applied
    suggestion proposed: moving towards it counts as the intended change."""
    b = [before.values[d] for d in sorted(before.values)]
    a = [after.values[d] for d in sorted(after.values)]
    result: dict[str, Any] = {
        "metric": metric,
        "note": before.note,
        "days_before": len(b),
        "days_after": len(a),
        "mean_before": round(statistics.fmean(b), 4) if b else None,
        "mean_after": round(statistics.fmean(a), 4) if a else None,
        "median_before": round(statistics.median(b), 4) if b else None,
        "median_after": round(statistics.median(a), 4) if a else None,
        "sd_before": round(statistics.stdev(b), 4) if len(b) > 1 else None,
        "difference": None,
        "difference_pct": None,
        "shift": None,
        "interval": None,
        "u": None,
        "z": None,
        "p_value": None,
        "level": PER_METRIC_LEVEL,
        "direction": {1: "higher_is_better", -1: "lower_is_better", 0: "context"}[
            DIRECTION[metric]
        ],
        "verdict": "insufficient_data",
    }
    if len(b) < min_days or len(a) < min_days:
        result["reason"] = f"needs {min_days} days with data in each window"
        return result
    mean_b = statistics.fmean(b)
    diff = statistics.fmean(a) - mean_b
    u, z, p = mann_whitney(b, a)
    shift, low, high = hodges_lehmann(b, a)
    result.update(
        difference=round(diff, 4),
        difference_pct=round(100 * diff / mean_b, 2) if mean_b else None,
        shift=round(shift, 4),
        interval=[round(low, 4), round(high, 4)],
        u=u,
        z=round(z, 4),
        p_value=round(p, 6),
    )
    direction = DIRECTION[metric]
    if p >= 1 - PER_METRIC_LEVEL:
        result["verdict"] = "no_clear_change"
    elif direction != 0:
        result["verdict"] = "improved" if z * direction > 0 else "worse"
    elif moved_towards is not None:
        result["verdict"] = "improved" if (moved_towards - mean_b) * z > 0 else "worse"
    else:
        # Price moved but the change was not about price: reported as context only.
        result["verdict"] = "no_clear_change"
        result["reason"] = "price moved beyond its noise; it is context for this change"
    return result


def overall(results: Sequence[Mapping[str, Any]]) -> str:
    """The experiment's verdict from its outcome metrics."""
    verdicts = [r["verdict"] for r in results if r["metric"] in OUTCOME_METRICS]
    if all(v == "insufficient_data" for v in verdicts):
        return "insufficient_data"
    improved, worse = verdicts.count("improved"), verdicts.count("worse")
    if improved and not worse:
        return "improved"
    if worse and not improved:
        return "worse"
    return "no_clear_change"


def evaluate(
    before_rows: Sequence[Mapping[str, Any]],
    after_rows: Sequence[Mapping[str, Any]],
    *,
    min_days: int,
    proposed_price: float | None = None,
) -> dict[str, Any]:
    """Every metric compared, the overall verdict and the method, ready to store."""
    category = _bsr_category(before_rows) or _bsr_category(after_rows)
    holder = buybox_holder(before_rows)
    before = daily_series(before_rows, category, holder)
    after = daily_series(after_rows, category, holder)
    metrics = [
        compare(
            m,
            before[m],
            after[m],
            min_days=min_days,
            moved_towards=proposed_price if m == "price" else None,
        )
        for m in METRICS
    ]
    return {
        "verdict": overall(metrics),
        "method": METHOD,
        "level": FAMILY_LEVEL,
        "min_days": min_days,
        "bsr_category": category,
        "buybox_holder": holder,
        "metrics": metrics,
    }


def baseline_summary(rows: Sequence[Mapping[str, Any]], *, min_days: int) -> dict[str, Any]:
    """What the baseline window holds, recorded when the change goes live."""
    category = _bsr_category(rows)
    holder = buybox_holder(rows)
    series = daily_series(rows, category, holder)
    return {
        "bsr_category": category,
        "buybox_holder": holder,
        "metrics": {
            m: {
                "days": len(s.values),
                "mean": round(statistics.fmean(s.values.values()), 4) if s.values else None,
                "sd": round(statistics.stdev(s.values.values()), 4) if len(s.values) > 1 else None,
                "enough": len(s.values) >= min_days,
                "note": s.note,
            }
            for m, s in series.items()
        },
    }
