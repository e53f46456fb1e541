"""Jinja filters: the shared formatting of services/core, so pages and digests read alike."""

from __future__ import annotations

from services.core.formatting import FILTERS, ago, money, number, pct, when

__all__ = ["FILTERS", "ago", "money", "number", "pct", "when"]
