"""Running one delivery: build the message, send it outside any transaction, record the result."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from services.alerts.detection import DELIVER_TASK, deliver_job_id
from services.alerts.models import AlertEvent, NotificationChannel
from services.alerts.repository import AlertRepository, ChannelRepository, DeliveryRepository
from services.alerts.senders import Message, Sender, SendFailed
from services.alerts.thresholds import Severity
from services.core.errors import DomainError, TransientError
from services.core.jobs import Queue
from services.core.metrics import ALERT_DELIVERIES
from services.core.settings import AlertSettings
from services.core.uow import UnitOfWork
from services.product.models import Product

logger = logging.getLogger(__name__)

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


def _event_payload(event: AlertEvent, product: Product | None) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "rule": event.rule,
        "severity": event.severity,
        "message": event.message,
        "old": event.old_value,
        "new": event.new_value,
        "change": event.change,
        "threshold": event.threshold,
        "tracked_product_id": str(event.tracked_product_id),
        "product": {"asin": product.asin, "marketplace": product.marketplace} if product else None,
        "captured_at": event.snapshot_captured_at.isoformat(),
        "created_at": event.created_at.isoformat(),
    }


def build_message(
    delivery_id: uuid.UUID, kind: str, events: list[AlertEvent], products: dict[int, Product]
) -> Message:
    payload: dict[str, Any] = {
        "delivery_id": str(delivery_id),
        "type": kind,
        "sent_at": datetime.now(UTC).isoformat(),
        "events": [_event_payload(e, products.get(e.product_id)) for e in events],
    }
    if kind == "test":
        title, text = "Shelfwatch test notification", "This channel works."
    elif kind == "digest":
        title = f"Shelfwatch daily digest: {len(events)} alert(s)"
        text = "\n".join(
            f"• [{e.severity}] {_label(products.get(e.product_id))}: {e.message}" for e in events
        )
    else:
        event = events[0]
        title = f"[{event.severity.upper()}] {_label(products.get(event.product_id))}"
        text = event.message
    return Message(str(delivery_id), kind, title, text, payload)


def _label(product: Product | None) -> str:
    return f"{product.asin} ({product.marketplace})" if product else "a tracked product"


class DeliveryRunner:
    def __init__(self, new_uow: UnitOfWorkFactory, settings: AlertSettings) -> None:
        self.new_uow = new_uow
        self.settings = settings
        self.sender = Sender(settings)

    async def run(self, delivery_id: uuid.UUID) -> dict[str, Any]:
        """Send once; a transient failure is recorded then raised for a retry with backoff."""
        async with self.new_uow() as uow:
            delivery = await DeliveryRepository(uow.session).get_for_update(delivery_id)
            if delivery is None:
                raise ValueError(f"delivery {delivery_id} does not exist")
            if delivery.status != "pending":
                return {"status": delivery.status, "skipped": True}
            channel = await ChannelRepository(uow.session).get(delivery.channel_id)
            events = await AlertRepository(uow.session).events_by_ids(delivery.event_ids)
            product_ids = {e.product_id for e in events}
            products = {
                p.id: p
                for p in (
                    await uow.session.execute(select(Product).where(Product.id.in_(product_ids)))
                ).scalars()
            }
            message = build_message(delivery.id, delivery.kind, events, products)
            attempt = delivery.attempts + 1
        status: int | None = None
        error: str | None = None
        transient = False
        if channel is None or not channel.is_active:
            error = "the channel was removed or disabled"
        else:
            try:
                status = await self.sender.send(channel, message)
            except SendFailed as exc:
                error, transient, status = str(exc), exc.transient, exc.status
            except DomainError as exc:  # the target became unsafe (DNS now private, …)
                error = exc.message
            except Exception as exc:  # a bug or a malformed target must not leave it pending
                logger.exception("delivery crashed", extra={"delivery": str(delivery_id)})
                error = f"{type(exc).__name__} while sending"
        final = error is None or not transient or attempt >= self.settings.delivery_max_tries
        outcome = "sent" if error is None else ("failed" if final else "retry")
        async with self.new_uow() as uow:
            delivery = await DeliveryRepository(uow.session).get_for_update(delivery_id)
            assert delivery is not None
            delivery.attempts = attempt
            delivery.response_status = status
            delivery.last_error = error
            if error is None:
                delivery.status, delivery.sent_at = "sent", datetime.now(UTC)
            elif final:
                delivery.status = "failed"
        ALERT_DELIVERIES.labels(channel.kind if channel else "unknown", outcome).inc()
        logger.info(
            "delivery attempted",
            extra={
                "delivery": str(delivery_id),
                "outcome": outcome,
                "attempt": attempt,
                "error": error,
            },
        )
        if outcome == "retry":
            raise TransientError(error or "delivery failed")
        return {"status": "sent" if error is None else "failed", "attempts": attempt}


class DigestPlanner:
    """Once a day: one digest delivery per digest channel with the last day's alerts."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def plan(self, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        since = now - timedelta(days=1)
        alerts = AlertRepository(self.uow.session)
        created = 0
        channels: list[NotificationChannel] = await ChannelRepository(
            self.uow.session
        ).active_digest_channels()
        for channel in channels:
            events = await alerts.undelivered_digest_events(
                channel.user_id, channel.id, since, Severity(channel.min_severity).rank
            )
            if not events:
                continue
            rows = await DeliveryRepository(self.uow.session).create_many(
                [
                    {
                        "id": uuid.uuid4(),
                        "user_id": channel.user_id,
                        "channel_id": channel.id,
                        "kind": "digest",
                        "dedupe_key": f"digest:{now.date().isoformat()}",
                        "event_ids": [e.id for e in events],
                    }
                ]
            )
            for delivery in rows:
                self.uow.jobs.enqueue(
                    DELIVER_TASK,
                    queue=Queue.CRITICAL,
                    job_id=deliver_job_id(delivery.id),
                    delivery_id=str(delivery.id),
                )
                created += 1
        return created
