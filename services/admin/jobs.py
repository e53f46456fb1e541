"""The admin module's job names: defined once, used by its services, tasks and schedules."""

from __future__ import annotations

from enum import StrEnum


class AdminJob(StrEnum):
    PURGE_DEAD_LETTERS = "admin.purge_dead_letters"
    # One probe name on every queue: each queue's worker pool registers its own copy.
    PROBE = "admin.probe"
