"""The competitor module's job names: defined once, used by its services and tasks."""

from __future__ import annotations

from enum import StrEnum


class CompetitorJob(StrEnum):
    RUN_REPORT = "competitor.run_report"
