"""A delivery asked for while Redis is down is not lost: its job waits in the outbox (committed
with the delivery record) and the relay loop sends it once Redis is back, exactly once."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.jobs import deliver_job_id
from services.alerts.models import Delivery, NotificationChannel
from services.alerts.service import AlertService
from services.auth.models import User
from services.core.jobs import Queue, create_arq_pool, queue_key
from services.core.outbox import relay_due
from services.core.settings import Settings
from services.core.uow import unit_of_work
from tests.factories import seed_tracked
from tests.outbox_support import outbox_rows, unreachable_arq

pytestmark = pytest.mark.asyncio


async def test_a_delivery_asked_for_while_redis_is_down_is_sent_once_when_it_is_back(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, redis: Redis
) -> None:
    await seed_tracked(sessionmaker, count=1)
    async with sessionmaker() as session, session.begin():
        user_id = await session.scalar(select(User.id))
        channel = NotificationChannel(
            user_id=user_id, name="hook", kind="webhook", target="https://example.com/h"
        )
        session.add(channel)
    assert user_id is not None

    down = unreachable_arq()
    async with unit_of_work(sessionmaker, down) as uow:
        delivery = await AlertService(uow, settings.alerts).send_test(user_id, channel.id)
    await down.aclose()
    async with sessionmaker() as session:
        stored = await session.get(Delivery, delivery.id)
        assert stored is not None and stored.status == "pending"
    (row,) = await outbox_rows(sessionmaker)
    assert row["job_id"] == deliver_job_id(delivery.id)

    arq = await create_arq_pool(settings)
    try:
        for _ in range(2):
            await relay_due(sessionmaker, arq, older_than_s=0, batch=10)
    finally:
        await arq.aclose()
    queued = await redis.zrange(queue_key(Queue.CRITICAL), 0, -1)
    assert queued == [deliver_job_id(delivery.id).encode()]
    assert await outbox_rows(sessionmaker) == []
