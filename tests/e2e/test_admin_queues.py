"""The queue dashboard's API against real worker processes: pause/resume (surviving a restart),
cancel, retry, delete, run-now, the dead-letter archive with replay, the workers view, and the
audit log of every action."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.admin import create_admin
from services.core.jobs import JobRequest, Queue, send_job
from services.core.settings import Settings
from tests.e2e.conftest import Stack
from tests.integration.conftest import app_client

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e, pytest.mark.timeout(180)]
PASSWORD = "a-Strong-passw0rd"
# Quick retries and a short heartbeat, so exhausted retries and dead workers show fast (no
# outage window: a failing probe is archived after MAX_TRIES).
WORKER_ENV = {
    "SHELFWATCH_QUEUE__MAX_TRIES": "2",
    "SHELFWATCH_QUEUE__OUTAGE_RETRY_S": "0",
    "SHELFWATCH_ALERTS__DELIVERY_MAX_TRIES": "2",
    "SHELFWATCH_QUEUE__RETRY_BASE_DELAY_S": "0.2",
    "SHELFWATCH_QUEUE__RETRY_MAX_DELAY_S": "0.3",
    "SHELFWATCH_QUEUE__HEARTBEAT_TTL_S": "5",
}


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout_s}s")


@pytest.fixture
async def http(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app, signed in as an admin (on the roomiest plan: these tests poll)."""
    await create_admin(settings, "ops@example.com", PASSWORD)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE users SET plan_id = (SELECT id FROM plans WHERE name = 'business') "
                "WHERE email = 'ops@example.com'"
            )
        )
    async with app_client(settings) as client:
        r = await client.post(
            "/api/v1/auth/login", json={"email": "ops@example.com", "password": PASSWORD}
        )
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield client


async def probe(arq: ArqRedis, queue: Queue, job_id: str, **kwargs: Any) -> None:
    defer = kwargs.pop("defer_by_s", None)
    assert await send_job(arq, JobRequest("admin.probe", queue, kwargs, job_id, defer)) == job_id


async def job(http: httpx.AsyncClient, queue: str, job_id: str) -> dict[str, Any] | None:
    r = await http.get(f"/api/v1/admin/queues/{queue}/jobs/{job_id}")
    return r.json() if r.status_code == 200 else None


async def state_of(http: httpx.AsyncClient, queue: str, job_id: str) -> str | None:
    found = await job(http, queue, job_id)
    return None if found is None else str(found["state"])


async def queue_row(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    rows = (await http.get("/api/v1/admin/queues")).json()
    return next(q for q in rows if q["name"] == name)


async def audit_actions(http: httpx.AsyncClient) -> list[tuple[str, str | None, str]]:
    items = (await http.get("/api/v1/admin/audit", params={"limit": 100})).json()["items"]
    return [(a["action"], a["job_id"] or a["queue"] or a["target"], a["outcome"]) for a in items]


async def test_pause_stops_pickup_survives_a_restart_and_resume_continues(
    stack: Stack, http: httpx.AsyncClient, arq: ArqRedis
) -> None:
    r = await http.post("/api/v1/admin/queues/low/pause")
    assert r.status_code == 200 and r.json()["paused"] is True
    await start_worker(stack, http)
    for i in range(3):
        await probe(arq, Queue.LOW, f"p-low-{i}")
    await probe(arq, Queue.DEFAULT, "p-default")
    # The default queue keeps working while low is paused...
    await eventually(lambda: _is(http, "default", "p-default", "completed"), "default runs")
    await asyncio.sleep(2)
    assert (await queue_row(http, "low"))["queued"] == 3
    assert [await state_of(http, "low", f"p-low-{i}") for i in range(3)] == ["queued"] * 3
    # ...and a restarted worker stays paused.
    assert stack.stop("worker") == 0
    await start_worker(stack, http, "worker2")
    await asyncio.sleep(2)
    assert (await queue_row(http, "low"))["queued"] == 3
    row = await queue_row(http, "low")
    assert row["paused"] is True and row["paused_by"] == "ops@example.com"

    assert (await http.post("/api/v1/admin/queues/low/resume")).json()["paused"] is False
    for job_id in ("p-low-0", "p-low-1", "p-low-2"):
        await eventually(partial(_is, http, "low", job_id, "completed"), "low resumed")
    assert (await queue_row(http, "low"))["completed"] == 3
    actions = await audit_actions(http)
    assert ("queue.pause", "low", "ok") in actions and ("queue.resume", "low", "ok") in actions


async def test_a_running_job_finishes_when_its_queue_is_paused(
    stack: Stack, http: httpx.AsyncClient, arq: ArqRedis
) -> None:
    await start_worker(stack, http)
    # Long enough that the pause lands while it runs even on a loaded machine.
    await probe(arq, Queue.LOW, "slow", sleep_ms=10_000)
    await eventually(lambda: _is(http, "low", "slow", "in_progress"), "slow started")
    await http.post("/api/v1/admin/queues/low/pause")
    assert await state_of(http, "low", "slow") == "in_progress"
    # Sent once the pause landed (a worker reads the flag every 0.2 s poll): low borrows the
    # idle slots of the other queues, so a job queued beside "slow" would start at once.
    await asyncio.sleep(1)
    await probe(arq, Queue.LOW, "next")
    await eventually(lambda: _is(http, "low", "slow", "completed"), "slow finished", 30)
    await asyncio.sleep(1)
    assert await state_of(http, "low", "next") == "queued"


async def test_cancel_retry_delete_and_run_now(
    stack: Stack, http: httpx.AsyncClient, arq: ArqRedis
) -> None:
    await start_worker(stack, http)
    base = "/api/v1/admin/queues/default/jobs"
    # run-now: a job deferred by an hour runs at once.
    await probe(arq, Queue.DEFAULT, "later", defer_by_s=3600)
    assert await state_of(http, "default", "later") == "deferred"
    assert (await http.post(f"{base}/later/run-now")).status_code == 200
    await eventually(lambda: _is(http, "default", "later", "completed"), "run-now")

    # cancel a waiting job: it never runs.
    await probe(arq, Queue.DEFAULT, "doomed", defer_by_s=3600)
    r = await http.post(f"{base}/doomed/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert await job(http, "default", "doomed") is None

    # cancel a running job: ARQ aborts it; it ends failed with CancelledError, not archived.
    await probe(arq, Queue.DEFAULT, "long", sleep_ms=30_000)
    await eventually(lambda: _is(http, "default", "long", "in_progress"), "long started")
    r = await http.post(f"{base}/long/cancel")
    assert r.json()["status"] == "aborting"
    aborted = await eventually(lambda: _is(http, "default", "long", "failed"), "abort", 10)
    assert "CancelledError" in aborted["error"]

    # a job that fails for good, retried after its cause is gone, succeeds under its id.
    await probe(arq, Queue.DEFAULT, "flaky", fail="permanent", fail_until=time.time() + 2)
    failed = await eventually(lambda: _is(http, "default", "flaky", "failed"), "failure")
    assert "ProbeFailed" in failed["error"] and "Traceback" in failed["traceback"]
    assert "_probe" in failed["traceback"]
    await asyncio.sleep(2.2)  # the failure's cause is gone
    assert (await http.post(f"{base}/flaky/retry")).status_code == 200
    done = await eventually(lambda: _is(http, "default", "flaky", "completed"), "retried")
    assert done["tries"] == 1

    # delete: a waiting job and a finished job's result; a running job must be cancelled.
    await probe(arq, Queue.DEFAULT, "unwanted", defer_by_s=3600)
    assert (await http.delete(f"{base}/unwanted")).json()["status"] == "deleted"
    assert (await http.delete(f"{base}/flaky")).json()["status"] == "result deleted"
    assert await job(http, "default", "flaky") is None
    missing = await http.delete(f"{base}/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")

    actions = await audit_actions(http)
    for expected in [
        ("job.run_now", "later", "ok"),
        ("job.cancel", "doomed", "ok"),
        ("job.cancel", "long", "ok"),
        ("job.retry", "flaky", "ok"),
        ("job.delete", "unwanted", "ok"),
        ("job.delete", "flaky", "ok"),
        ("job.delete", "nothing-here", "refused"),
    ]:
        assert expected in actions


async def test_retries_exhausted_are_archived_and_replay_succeeds(
    stack: Stack, http: httpx.AsyncClient, arq: ArqRedis
) -> None:
    await start_worker(stack, http)
    await probe(
        arq,
        Queue.CRITICAL,
        "deliver-1",
        fail="transient",
        fail_until=time.time() + 4,
        payload={"api_token": "s3cret-value", "sku": "A1"},
    )
    page = await eventually(lambda: _archived(http, "deliver-1"), "archived after its retries", 20)
    entry = page[0]
    assert entry["tries"] == 2 and entry["queue"] == "critical"
    assert entry["error_type"] == "TransientError" and "Traceback" in entry["traceback"]
    # Secrets are redacted on display...
    assert entry["keyword_args"]["payload"] == {"api_token": "***", "sku": "A1"}
    assert (await queue_row(http, "critical"))["archived"] == 1
    await asyncio.sleep(4)
    r = await http.post(f"/api/v1/admin/dead-letters/{entry['id']}/replay")
    assert r.status_code == 202
    replay_id = r.json()["job_id"]
    assert replay_id == f"replay:{entry['id']}:1"
    done = await eventually(lambda: _is(http, "critical", replay_id, "completed"), "replayed")
    assert done["success"] is True
    # ...but replayed with the real value (the job echoes it; shown redacted again).
    assert done["result"]["payload"] == {"api_token": "***", "sku": "A1"}
    after = (await http.get(f"/api/v1/admin/dead-letters/{entry['id']}")).json()
    assert after["replay_count"] == 1 and after["last_replay_job_id"] == replay_id
    assert (await http.delete(f"/api/v1/admin/dead-letters/{entry['id']}")).status_code == 204
    assert (await http.get(f"/api/v1/admin/dead-letters/{entry['id']}")).status_code == 404
    actions = await audit_actions(http)
    assert ("dead_letter.replay", replay_id, "ok") in actions
    assert ("dead_letter.delete", entry["id"], "ok") in actions


async def test_bulk_retry_and_delete_of_failed_jobs(
    stack: Stack, http: httpx.AsyncClient, arq: ArqRedis
) -> None:
    await start_worker(stack, http)
    for i in range(4):
        await probe(arq, Queue.LOW, f"bad-{i}", fail="permanent", fail_until=time.time() + 3)
    await eventually(lambda: _count(http, "low", "failed", 4), "4 failures")
    await asyncio.sleep(3)
    r = await http.post("/api/v1/admin/queues/low/failed/retry", params={"function": "admin.probe"})
    assert r.json()["affected"] == 4
    await eventually(lambda: _count(http, "low", "completed", 4), "4 retried")
    r = await http.post("/api/v1/admin/queues/low/failed/delete")
    assert r.json()["affected"] == 0
    assert ("jobs.retry_failed", "low", "ok") in await audit_actions(http)


async def test_a_killed_worker_shows_as_gone(stack: Stack, http: httpx.AsyncClient) -> None:
    await start_worker(stack, http)
    workers = await eventually(lambda: _workers_alive(http, 1), "worker registered")
    assert set(workers[0]["queues"]) == {"critical", "default", "low"}
    assert sum(workers[0]["capacity"].values()) >= 3
    process = stack.processes["worker"]
    process.send_signal(signal.SIGKILL)
    process.wait()

    async def gone() -> bool:
        rows = (await http.get("/api/v1/admin/workers")).json()
        return bool(rows) and not any(w["alive"] for w in rows)

    await eventually(gone, "the killed worker marked gone", 15)
    stack.processes.pop("worker")


async def start_worker(stack: Stack, http: httpx.AsyncClient, name: str = "worker") -> None:
    """A worker process serving every queue, once it reports itself alive (slow on a busy box)."""
    stack.start(name, "worker", extra_env=WORKER_ENV)
    await eventually(lambda: _workers_alive(http, 1), f"{name} up", 90)


async def _workers_alive(http: httpx.AsyncClient, n: int) -> list[dict[str, Any]] | None:
    rows = [w for w in (await http.get("/api/v1/admin/workers")).json() if w["alive"]]
    return rows if len(rows) >= n else None


async def _is(http: httpx.AsyncClient, queue: str, job_id: str, state: str) -> Any:
    found = await job(http, queue, job_id)
    return found if found is not None and found["state"] == state else None


async def _archived(http: httpx.AsyncClient, job_id: str) -> list[dict[str, Any]] | None:
    page = (await http.get("/api/v1/admin/dead-letters", params={"q": job_id})).json()
    return page["items"] or None


async def _count(http: httpx.AsyncClient, queue: str, state: str, n: int) -> bool:
    return bool((await queue_row(http, queue))[state] >= n)
