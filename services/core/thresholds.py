"""Per-tracking alert thresholds: validated ranges and the defaults a seller starts with."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Rule(StrEnum):
    PRICE_CHANGE = "price_change"
    BUYBOX_PRICE_CHANGE = "buybox_price_change"
    BUYBOX_LOST = "buybox_lost"
    BUYBOX_WON = "buybox_won"
    BUYBOX_SELLER_CHANGED = "buybox_seller_changed"
    BSR_CHANGE = "bsr_change"
    RATING_DROP = "rating_drop"
    REVIEWS_REMOVED = "reviews_removed"
    OUT_OF_STOCK = "out_of_stock"
    BACK_IN_STOCK = "back_in_stock"
    LISTING_CHANGED = "listing_changed"
    COMPETITOR_UNDERCUT = "competitor_undercut"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


class Thresholds(BaseModel):
    """What counts as a change worth an alert for one tracked product.

    Every money rule (price, Buy Box price, competitor undercut) has a relative threshold and an
    absolute floor, and fires only when the move passes *both*: the percentage keeps a $0.50
    wobble on a $40 item quiet, the floor keeps a 30 % move of a $0.99 item quiet. The defaults
    are tuned so that a seller with 1 000 products gets a number of alerts a person reads on an
    ordinary day (``bench/alert_volume.py`` measures it).
    """

    model_config = ConfigDict(extra="forbid")

    # Price and Buy Box price moves, in percent of the previous price ...
    price_change_pct: Decimal = Field(default=Decimal(10), gt=0, le=100)
    # ... and in money: below this absolute move no money rule fires, whatever the percentage.
    min_price_delta: Decimal = Field(default=Decimal("0.50"), ge=0, le=10_000)
    # How far under the seller's own price a competitor must newly be, in percent of that price.
    undercut_pct: Decimal = Field(default=Decimal(3), ge=0, le=100)
    # A subcategory rank move beyond this, and by at least min_bsr_delta places, is news (a
    # rank change that a stock-out explains is not: rules.py). Sellers with drifting ranks
    # raise it on the settings page.
    bsr_change_pct: Decimal = Field(default=Decimal(30), gt=0, le=1000)
    min_bsr_delta: int = Field(default=10, ge=0, le=1_000_000)
    rating_drop: Decimal = Field(default=Decimal("0.3"), gt=0, le=5)
    # Review counts wobble by one or two as Amazon re-counts; a removal wave is several.
    min_reviews_removed: int = Field(default=5, ge=1, le=100_000)
    # The seller's own Buy Box name: turns "seller changed" into "lost" / "won".
    my_seller_name: str | None = Field(default=None, max_length=200)
    disabled_rules: list[Rule] = Field(default_factory=list)

    def enabled(self, rule: Rule) -> bool:
        return rule not in self.disabled_rules
