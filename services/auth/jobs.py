"""The auth module's job names: defined once, used by its services, tasks and schedules."""

from __future__ import annotations

from enum import StrEnum


class AuthJob(StrEnum):
    PURGE_EXPIRED_TOKENS = "auth.purge_expired_tokens"
