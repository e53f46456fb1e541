"""Running one delivery: build the message, send it outside any transaction, record the result."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.alerts.brief import (
    BriefItem,
    BriefService,
    MorningBrief,
    brief_text,
    brief_title,
    brief_worth_sending,
    digest_items,
)
from services.alerts.jobs import AlertJob, deliver_job_id
from services.alerts.models import AlertEvent, Delivery, NotificationChannel
from services.alerts.repository import AlertRepository, ChannelRepository, DeliveryRepository
from services.alerts.schemas import DeliveryKind, DeliveryStatus
from services.alerts.senders import Message, Sender, SendFailed
from services.alerts.service import AlertService
from services.core.errors import DomainError, TransientError
from services.core.jobs import Queue
from services.core.metrics import ALERT_DELIVERIES
from services.core.settings import AlertSettings, CrawlScheduleSettings, Settings
from services.core.uow import UnitOfWork
from services.product.catalog import ProductCatalog
from services.product.schemas import ProductLabel
from services.product.service import ProductService

logger = logging.getLogger(__name__)

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


def _event_payload(event: AlertEvent, product: ProductLabel | None) -> dict[str, Any]:
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


@dataclass(frozen=True, slots=True)
class DigestBrief:
    """What one digest reports: the seller's brief and the alerts new since the last one."""

    brief: MorningBrief
    items: list[BriefItem]


def build_message(
    delivery_id: uuid.UUID,
    kind: str,
    events: list[AlertEvent],
    products: dict[int, ProductLabel],
    digest: DigestBrief | None = None,
) -> Message:
    payload: dict[str, Any] = {
        "delivery_id": str(delivery_id),
        "type": kind,
        "sent_at": datetime.now(UTC).isoformat(),
        "events": [_event_payload(e, products.get(e.product_id)) for e in events],
    }
    if kind == DeliveryKind.TEST:
        title, text = "Shelfwatch test notification", "This channel works."
    elif kind == DeliveryKind.DIGEST:
        if digest is None:
            raise ValueError("a digest message needs its brief")
        # The overview's brief, whole: text channels get it rendered, webhooks get the data.
        payload["brief"] = digest.brief.model_dump(mode="json")
        title, text = (
            brief_title(digest.items, digest.brief),
            brief_text(digest.brief, digest.items),
        )
    else:
        event = events[0]
        title = f"[{event.severity.upper()}] {_label(products.get(event.product_id))}"
        text = event.message
    return Message(str(delivery_id), kind, title, text, payload)


@dataclass(frozen=True, slots=True)
class _SellerRef:
    id: uuid.UUID


async def digest_brief(
    uow: UnitOfWork,
    alerts: AlertSettings,
    schedule: CrawlScheduleSettings,
    channel: NotificationChannel,
    until: datetime,
    now: datetime | None = None,
) -> DigestBrief:
    """The channel's seller's brief since their last digest that arrived (a day back for the
    first), built by the overview's ``BriefService.build``. ``until`` is when this digest was
    planned: alerts after it belong to the next one, so no alert is in two digests."""
    last = await DeliveryRepository(uow.session).last_sent_digest_at(channel.id, until)
    since = last if last is not None else until - timedelta(days=1)
    brief = await BriefService(AlertService(uow, alerts), ProductService(uow), schedule).build(
        _SellerRef(channel.user_id), since=since, now=now
    )
    return DigestBrief(brief, digest_items(brief, channel.min_severity, until))


def _label(product: ProductLabel | None) -> str:
    return f"{product.asin} ({product.marketplace})" if product else "a tracked product"


class DeliveryRunner:
    def __init__(
        self,
        new_uow: UnitOfWorkFactory,
        settings: AlertSettings,
        schedule: CrawlScheduleSettings | None = None,
    ) -> None:
        self.new_uow = new_uow
        self.settings = settings
        # Only digests read it (the brief's next crawl time).
        self.schedule = schedule or CrawlScheduleSettings()
        self.sender = Sender(settings)

    async def _message(
        self, uow: UnitOfWork, delivery: Delivery, channel: NotificationChannel
    ) -> Message:
        events = await AlertRepository(uow.session).events_by_ids(delivery.event_ids)
        products = await ProductCatalog(uow).labels({e.product_id for e in events})
        digest = None
        if delivery.kind == DeliveryKind.DIGEST:
            # Built when sent, so the brief is today's, for the period that was planned.
            digest = await digest_brief(
                uow, self.settings, self.schedule, channel, delivery.created_at
            )
        return build_message(delivery.id, delivery.kind, events, products, digest)

    async def run(self, delivery_id: uuid.UUID) -> dict[str, Any]:
        """Send once; a transient failure is recorded then raised for a retry with backoff."""
        async with self.new_uow() as uow:
            delivery = await DeliveryRepository(uow.session).get_for_update(delivery_id)
            if delivery is None:
                raise ValueError(f"delivery {delivery_id} does not exist")
            if delivery.status is not DeliveryStatus.PENDING:
                return {"status": delivery.status, "skipped": True}
            channel = await ChannelRepository(uow.session).get(delivery.channel_id)
            message = None
            if channel is not None and channel.is_active:
                message = await self._message(uow, delivery, channel)
            attempt = delivery.attempts + 1
        status: int | None = None
        error: str | None = None
        transient = False
        if channel is None or message is None:
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
                delivery.status, delivery.sent_at = DeliveryStatus.SENT, datetime.now(UTC)
            elif final:
                delivery.status = DeliveryStatus.FAILED
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
    """Once a day: one digest per digest channel carrying the seller's morning brief, unless
    the day was quiet (no new alert at the channel's severity and no stale crawl)."""

    def __init__(self, uow: UnitOfWork, settings: Settings) -> None:
        self.uow = uow
        self.settings = settings

    async def plan(self, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        created = 0
        channels: list[NotificationChannel] = await ChannelRepository(
            self.uow.session
        ).active_digest_channels()
        for channel in channels:
            digest = await digest_brief(
                self.uow, self.settings.alerts, self.settings.crawl, channel, now, now
            )
            if not brief_worth_sending(digest.items, digest.brief):
                continue
            rows = await DeliveryRepository(self.uow.session).create_many(
                [
                    {
                        "id": uuid.uuid4(),
                        "user_id": channel.user_id,
                        "channel_id": channel.id,
                        "kind": DeliveryKind.DIGEST,
                        "dedupe_key": f"digest:{now.date().isoformat()}",
                        "event_ids": [i.alert_id for i in digest.items],
                        # The end of this digest's period; the next one starts here.
                        "created_at": now,
                    }
                ]
            )
            for delivery in rows:
                self.uow.jobs.enqueue(
                    AlertJob.DELIVER,
                    queue=Queue.CRITICAL,
                    job_id=deliver_job_id(delivery.id),
                    delivery_id=str(delivery.id),
                )
                created += 1
        return created
