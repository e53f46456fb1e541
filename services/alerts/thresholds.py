"""Alert vocabulary, kept importable here for code written against the alerts module; the
definitions live in services/core/thresholds.py (shared by product and alerts)."""

from services.core.thresholds import Rule, Severity, Thresholds

__all__ = ["Rule", "Severity", "Thresholds"]
