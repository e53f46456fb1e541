"""Owed delivery jobs are sent again: a pending delivery whose job never reached Redis."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.delivery import resend_owed_jobs
from services.alerts.jobs import deliver_job_id
from services.alerts.models import Delivery, NotificationChannel
from services.auth.models import User
from services.core.jobs import Queue, create_arq_pool, queue_key
from services.core.settings import Settings
from services.core.uow import unit_of_work
from tests.factories import seed_tracked

pytestmark = pytest.mark.asyncio


async def test_stale_pending_deliveries_are_sent_again_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, redis: Redis
) -> None:
    await seed_tracked(sessionmaker, count=1)
    old, recent, sent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        user_id = await session.scalar(select(User.id))
        channel = NotificationChannel(
            user_id=user_id, name="hook", kind="webhook", target="https://example.com/h"
        )
        session.add(channel)
        await session.flush()
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        for delivery_id, status, created in (
            (old, "pending", hour_ago),
            (recent, "pending", datetime.now(UTC)),
            (sent, "sent", hour_ago),
        ):
            session.add(
                Delivery(
                    id=delivery_id,
                    user_id=user_id,
                    channel_id=channel.id,
                    kind="event",
                    dedupe_key=f"event:{delivery_id}",
                    status=status,
                    created_at=created,
                )
            )
    arq = await create_arq_pool(settings)
    try:
        for _ in range(2):
            async with unit_of_work(sessionmaker, arq) as uow:
                assert await resend_owed_jobs(uow, timedelta(minutes=15)) == 1
    finally:
        await arq.aclose()
    queued = await redis.zrange(queue_key(Queue.CRITICAL), 0, -1)
    assert queued == [deliver_job_id(old).encode()]
