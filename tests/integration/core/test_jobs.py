"""Jobs: sent only after commit, dropped on rollback, run by a real worker process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cli.admin import create_admin
from services.auth.models import RefreshToken, User
from services.core.errors import Conflict
from services.core.jobs import Queue, create_arq_pool, queue_key
from services.core.settings import Settings
from services.core.uow import unit_of_work
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.asyncio
ROOT = Path(__file__).resolve().parents[3]


async def test_job_is_sent_only_after_commit(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], redis: Redis
) -> None:
    arq = await create_arq_pool(settings)
    try:
        async with unit_of_work(sessionmaker, arq) as uow:
            uow.jobs.enqueue("auth.purge_expired_tokens", queue=Queue.LOW, job_id="after-commit")
            # Inside the transaction nothing has been sent yet.
            assert await redis.zcard(queue_key(Queue.LOW)) == 0
        assert await redis.zscore(queue_key(Queue.LOW), "after-commit") is not None
    finally:
        await arq.aclose()


async def test_job_is_dropped_on_rollback(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], redis: Redis
) -> None:
    arq = await create_arq_pool(settings)
    try:
        with pytest.raises(Conflict):
            async with unit_of_work(sessionmaker, arq) as uow:
                uow.jobs.enqueue("auth.purge_expired_tokens", queue=Queue.LOW, job_id="rolled")
                raise Conflict("something clashed")
        assert await redis.zcard(queue_key(Queue.LOW)) == 0
    finally:
        await arq.aclose()


async def test_same_job_id_is_enqueued_once(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], redis: Redis
) -> None:
    arq = await create_arq_pool(settings)
    try:
        for _ in range(3):
            async with unit_of_work(sessionmaker, arq) as uow:
                uow.jobs.enqueue("auth.purge_expired_tokens", queue=Queue.LOW, job_id="once")
        assert await redis.zcard(queue_key(Queue.LOW)) == 1
    finally:
        await arq.aclose()


async def test_admin_job_runs_in_a_real_worker_process(
    settings: Settings,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    admin_email = await create_admin(settings, "boss@example.com", PASSWORD)
    r = await client.post("/api/v1/auth/login", json={"email": admin_email, "password": PASSWORD})
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    async with sessionmaker() as session, session.begin():
        user = (await session.execute(select(User))).scalar_one()
        for days in (-2, -1, 5):  # two expired tokens, one alive
            session.add(
                RefreshToken(
                    user_id=user.id,
                    family_id=uuid.uuid4(),
                    token_hash=uuid.uuid4().hex * 2,
                    expires_at=datetime.now(UTC) + timedelta(days=days),
                )
            )

    env = {
        **os.environ,
        "SHELFWATCH_ENVIRONMENT": "test",
        "SHELFWATCH_DATABASE__URL": settings.database.url,
        "SHELFWATCH_REDIS__URL": settings.redis.url,
        "SHELFWATCH_AUTH__JWT_SECRET": settings.auth.jwt_secret.get_secret_value(),
        "SHELFWATCH_QUEUE__METRICS_PORT": "0",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker", "--queue", "low"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        r = await client.post(
            "/api/v1/admin/maintenance/purge-tokens",
            headers={**auth, "X-Request-ID": "purge-request-0001"},
        )
        assert r.status_code == 202
        deadline = time.monotonic() + 30
        remaining = 3
        while time.monotonic() < deadline:
            async with sessionmaker() as session:
                remaining = await session.scalar(select(func.count()).select_from(RefreshToken))
            if remaining == 2:  # the login's own token and the one still alive
                break
            await asyncio.sleep(0.2)
        assert remaining == 2
    finally:
        worker.terminate()
        assert worker.wait(20) == 0
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    finished = [line for line in lines if line["message"] == "job finished"]
    assert finished
    assert finished[0]["function"] == "auth.purge_expired_tokens"
    assert finished[0]["outcome"] == "succeeded"
    assert finished[0]["request_id"] == "purge-request-0001"
    assert finished[0]["job_id"] == "auth.purge_expired_tokens"
    assert any(line["message"] == "worker stopped" for line in lines)


async def test_admin_routes_refuse_sellers(client: httpx.AsyncClient, make_seller: object) -> None:
    auth = await make_seller()  # type: ignore[operator]
    r = await client.post("/api/v1/admin/maintenance/purge-tokens", headers=auth)
    assert r.status_code == 403
    assert r.json()["code"] == "permission_denied"


async def test_admin_assigns_a_plan(
    settings: Settings, client: httpx.AsyncClient, make_seller: object
) -> None:
    seller_auth = await make_seller("upgrade@example.com")  # type: ignore[operator]
    me = (await client.get("/api/v1/auth/me", headers=seller_auth)).json()
    await create_admin(settings, "root@example.com", PASSWORD)
    r = await client.post(
        "/api/v1/auth/login", json={"email": "root@example.com", "password": PASSWORD}
    )
    admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await client.patch(f"/api/v1/admin/users/{me['id']}", headers=admin, json={"plan": "pro"})
    assert r.status_code == 200
    assert r.json()["plan"]["name"] == "pro"
    r = await client.patch(f"/api/v1/admin/users/{me['id']}", headers=admin, json={"plan": "gold"})
    assert r.status_code == 422
    assert "free" in r.json()["errors"][0]["message"]
    r = await client.patch(
        f"/api/v1/admin/users/{uuid.uuid4()}", headers=admin, json={"plan": "pro"}
    )
    assert r.status_code == 404
