"""The seller's pages, in nav order."""

from __future__ import annotations

from typing import Any

from gateway.web.pages.alerts import AlertPages
from gateway.web.pages.competitors import CompetitorPages
from gateway.web.pages.optimization import OptimizationPages
from gateway.web.pages.overview import OverviewPages
from gateway.web.pages.products import ProductPages
from gateway.web.pages.settings import SettingsPages

SELLER_PAGES: list[Any] = [
    OverviewPages,
    ProductPages,
    AlertPages,
    CompetitorPages,
    OptimizationPages,
    SettingsPages,
]
