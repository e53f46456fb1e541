"""Request and response types of the alerts module."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.core.pagination import PageParams
from services.core.thresholds import Rule, Severity


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    SLACK = "slack"
    EMAIL = "email"
    APPRISE = "apprise"


class ChannelMode(StrEnum):
    IMMEDIATE = "immediate"  # every alert it lets through, as it happens
    DIGEST = "digest"  # one morning brief a day
    # Critical alerts as they happen, everything else it lets through in the morning brief: a
    # seller with a thousand products hears at once only about what stops sales today.
    CRITICAL_NOW = "critical_now"

    def sends_at_once(self, severity: Severity) -> bool:
        return self is ChannelMode.IMMEDIATE or (
            self is ChannelMode.CRITICAL_NOW and severity is Severity.CRITICAL
        )

    @property
    def sends_digest(self) -> bool:
        return self is not ChannelMode.IMMEDIATE


class DeliveryKind(StrEnum):
    EVENT = "event"
    DIGEST = "digest"
    TEST = "test"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    kind: ChannelKind
    target: str = Field(
        min_length=3,
        max_length=2000,
        description="Webhook or Slack URL, an email address, or an Apprise URL",
    )
    min_severity: Severity = Severity.WARNING
    mode: ChannelMode = ChannelMode.CRITICAL_NOW


class ChannelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    target: str | None = Field(default=None, min_length=3, max_length=2000)
    min_severity: Severity | None = None
    mode: ChannelMode | None = None
    is_active: bool | None = None


class ChannelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: str
    target: str
    min_severity: str
    mode: str
    is_active: bool
    created_at: datetime


class ChannelCreated(ChannelRead):
    signing_secret: str | None = Field(
        default=None, description="HMAC key of a webhook channel; shown only once"
    )


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tracked_product_id: uuid.UUID
    rule: str
    severity: str
    message: str
    old_value: Any
    new_value: Any
    change: Any
    threshold: Any
    crawl_run_id: uuid.UUID
    snapshot_captured_at: datetime
    created_at: datetime
    read_at: datetime | None
    ended_at: datetime | None = Field(
        default=None,
        description="Capture time of the snapshot that undid the change (a deal over, back in "
        "stock, the rank back); null while the change holds",
    )
    ended_value: Any = None
    ended_message: str | None = None


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] | None = Field(
        default=None, max_length=500, description="Omit to mark every alert read"
    )


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    channel_id: uuid.UUID
    kind: str
    status: str
    attempts: int
    last_error: str | None
    response_status: int | None
    created_at: datetime
    sent_at: datetime | None


class AlertFilter(PageParams):
    """Which of the seller's alerts to list, newest first."""

    unread: bool | None = None
    severity: Severity | None = None
    rule: Rule | None = None
    tracked_product_id: uuid.UUID | None = None


class ChannelFilter(PageParams):
    """A page of the seller's notification channels, oldest first."""


class DeliveryFilter(PageParams):
    """Which delivery records to list, newest first (one channel's, or all)."""

    channel_id: uuid.UUID | None = None
