"""Alert events, notification channels and their deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.alerts.schemas import ChannelKind, ChannelMode, DeliveryKind, DeliveryStatus
from services.core.db import Base, StrEnumType, TimestampMixin
from services.core.thresholds import Rule, Severity


class AlertEvent(Base):
    """One detected change for one seller's tracked product."""

    __tablename__ = "alert_events"
    __table_args__ = (
        # Detection re-run for the same crawl finds the same events: stored once.
        UniqueConstraint("tracked_product_id", "rule", "crawl_run_id", "fingerprint"),
        Index("ix_alert_events_user_id_created_at", "user_id", "created_at"),
        Index("ix_alert_events_tracked_rule_created", "tracked_product_id", "rule", "created_at"),
        CheckConstraint("severity IN ('info', 'warning', 'critical')", name="severity_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tracked_product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tracked_products.id", ondelete="CASCADE")
    )
    product_id: Mapped[int] = mapped_column(BigInteger)
    rule: Mapped[Rule] = mapped_column(StrEnumType(Rule, 40))
    # Distinguishes two events of one rule in one crawl (one per BSR category).
    fingerprint: Mapped[str] = mapped_column(String(200), server_default="")
    severity: Mapped[Severity] = mapped_column(StrEnumType(Severity, 10))
    old_value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    change: Mapped[Any] = mapped_column(JSONB, nullable=True)
    threshold: Mapped[Any] = mapped_column(JSONB, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    crawl_run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    snapshot_captured_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    read_at: Mapped[datetime | None]
    # A later snapshot that undid the move (the deal is over, back in stock, the rank came back)
    # ends the alert instead of raising a second one: when (its capture time), at what value,
    # told how, and by which crawl (so detection run twice for that crawl ends it once).
    ended_at: Mapped[datetime | None]
    ended_value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    ended_message: Mapped[str | None] = mapped_column(Text)
    ended_crawl_run_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class NotificationChannel(TimestampMixin, Base):
    """Where a seller wants alerts sent: a signed webhook, Slack, email, or an Apprise URL."""

    __tablename__ = "notification_channels"
    __table_args__ = (
        CheckConstraint("kind IN ('webhook', 'slack', 'email', 'apprise')", name="kind_known"),
        CheckConstraint("mode IN ('immediate', 'digest', 'critical_now')", name="mode_known"),
        CheckConstraint(
            "min_severity IN ('info', 'warning', 'critical')", name="min_severity_known"
        ),
        Index("ix_notification_channels_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[ChannelKind] = mapped_column(StrEnumType(ChannelKind, 20))
    target: Mapped[str] = mapped_column(Text)
    # HMAC key of signed webhooks, shown once at creation.
    signing_secret: Mapped[str | None] = mapped_column(String(100))
    min_severity: Mapped[Severity] = mapped_column(
        StrEnumType(Severity, 10), server_default=Severity.WARNING.value
    )
    mode: Mapped[ChannelMode] = mapped_column(
        StrEnumType(ChannelMode, 20), server_default=ChannelMode.CRITICAL_NOW.value
    )
    is_active: Mapped[bool] = mapped_column(server_default="true", default=True)


class Delivery(Base):
    """One attempt series to send one message (an event, a digest, a test) to one channel."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("channel_id", "dedupe_key"),
        Index("ix_deliveries_user_id_created_at", "user_id", "created_at"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE")
    )
    kind: Mapped[DeliveryKind] = mapped_column(StrEnumType(DeliveryKind, 20))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    event_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default="{}"
    )
    status: Mapped[DeliveryStatus] = mapped_column(
        StrEnumType(DeliveryStatus, 10), server_default=DeliveryStatus.PENDING.value
    )
    attempts: Mapped[int] = mapped_column(server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    response_status: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
