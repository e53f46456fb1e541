"""PostgreSQL and Redis restarted under a running crawl cycle, with real processes.

Each test starts its own PostgreSQL or Redis server on a free port (never the machine's own),
points a gateway, a worker, the scheduler and the Apify simulator at it, and restarts that server
while the cycle's batches are being ingested. Nothing may be lost or written twice, no run may
stay open, the gateway answers 503 problem+json with Retry-After while the database is away
(never 500) and recovers by itself, and the worker and scheduler keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.db import create_engine, create_sessionmaker
from services.core.embedded import EmbeddedRedis, PrivatePostgres, free_port
from services.core.migrate import upgrade
from services.core.settings import Settings
from tests.e2e.conftest import Stack
from tests.factories import seed_tracked

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e, pytest.mark.timeout(300)]
logger = logging.getLogger(__name__)

PRODUCTS = 200
PASSWORD = "a-Strong-passw0rd"
# Small batches and pages with a slow simulator: the cycle takes long enough to be cut.
CRAWL_ENV = {
    "SHELFWATCH_APIFY__BATCH_SIZE": "50",
    "SHELFWATCH_APIFY__PAGE_SIZE": "10",
    "SHELFWATCH_QUEUE__RETRY_BASE_DELAY_S": "1",
    "SHELFWATCH_QUEUE__RETRY_MAX_DELAY_S": "8",
    "SHELFWATCH_QUEUE__JOB_TIMEOUT_S": "120",
}


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL of the test's own on a free port, with a migrated ``shelfwatch`` database."""
    root = Path(tempfile.mkdtemp(prefix="shelfwatch-pg-"))
    server = PrivatePostgres(root / "data")
    server.start()

    async def create() -> None:
        conn = await asyncpg.connect(server.url)
        try:
            await conn.execute("CREATE DATABASE shelfwatch")
        finally:
            await conn.close()

    asyncio.run(create())
    server.url = server.url.rsplit("/", 1)[0] + "/shelfwatch"
    upgrade(server.url)
    yield server
    server.stop("immediate")
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def private_sessionmaker(
    private_postgres: PrivatePostgres, settings: Settings
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    own = settings.model_copy(deep=True)
    own.database.url = private_postgres.url
    engine = create_engine(own)
    yield create_sessionmaker(engine)
    await engine.dispose()


@dataclass
class Probe:
    """Gateway calls made while a server restarts: each one's status and headers."""

    replies: list[tuple[float, int, dict[str, str]]] = field(default_factory=list)

    def statuses(self) -> Counter[int]:
        return Counter(status for _, status, _ in self.replies)


async def _start_stack(stack: Stack, port: int) -> None:
    sim_port = int(stack.env["SHELFWATCH_SIM_PORT"])
    stack.env.update(CRAWL_ENV)
    stack.start("sim", "apify-sim", "--port", str(sim_port))
    stack.wait_port("sim", sim_port, 60)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim_port}") as sim:
        r = await sim.put("/_sim/config", json={"latency_ms": 250})
        assert r.status_code == 200, r.text
    stack.start("gateway", "gateway", "--port", str(port))
    stack.start("worker", "worker")
    stack.wait_port("gateway", port, 90)


async def _signed_in(
    http: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> dict[str, str]:
    """A seller on the pro plan (its rate limit leaves room for the probe's calls)."""
    r = await http.post(
        "/api/v1/auth/register", json={"email": "outage@example.com", "password": PASSWORD}
    )
    assert r.status_code == 201, r.text
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text(
                "UPDATE users SET plan_id = (SELECT id FROM plans WHERE name = 'pro') "
                "WHERE email = 'outage@example.com'"
            )
        )
    r = await http.post(
        "/api/v1/auth/login", json={"email": "outage@example.com", "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _progress(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    """(runs, runs still open, pages ingested so far) of the cycle."""
    async with sessionmaker() as session:
        row = (
            await session.execute(
                text(
                    "SELECT count(*), count(*) FILTER (WHERE status IN ('queued', 'running')), "
                    "coalesce(sum(pages_ingested), 0) FROM crawl_runs"
                )
            )
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def _until(check: object, timeout_s: float, what: str, stack: Stack) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            if await check():  # type: ignore[operator]
                return
        await asyncio.sleep(0.3)
    raise AssertionError(
        f"{what} did not happen within {timeout_s}s:\n{stack.log('worker')[-6000:]}"
    )


async def _mid_crawl(sessionmaker: async_sessionmaker[AsyncSession], stack: Stack) -> None:
    """Wait until the cycle is planned and some pages, but not all runs, are written."""

    async def started() -> bool:
        runs, open_runs, pages = await _progress(sessionmaker)
        return runs > 0 and pages >= 2 and open_runs > 0

    await _until(started, 90, "the cycle to be part-way through", stack)


async def _probe_until(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    probe: Probe,
    done: asyncio.Event,
    start: float | None = None,
    path: str = "/api/v1/products",
) -> None:
    """Call ``path`` every 0.25 s until ``done`` is set (times from ``start``)."""
    start = time.monotonic() if start is None else start
    while not done.is_set():
        try:
            r = await http.get(path, headers=auth, timeout=10)
            probe.replies.append((time.monotonic() - start, r.status_code, dict(r.headers)))
        except httpx.HTTPError as exc:  # the gateway itself must never stop answering
            probe.replies.append((time.monotonic() - start, 0, {"error": repr(exc)}))
        await asyncio.sleep(0.25)


async def _assert_cycle_complete(
    sessionmaker: async_sessionmaker[AsyncSession], product_ids: list[int], stack: Stack
) -> None:
    async def finished() -> bool:
        runs, open_runs, _ = await _progress(sessionmaker)
        return runs > 0 and open_runs == 0

    await _until(finished, 150, "every run of the cycle to finish", stack)
    async with sessionmaker() as session:
        per_product = dict(
            (
                await session.execute(
                    text("SELECT product_id, count(*) FROM snapshots GROUP BY product_id")
                )
            ).all()
        )
        statuses = (
            await session.execute(
                text("SELECT status, count(*), sum(missing_count) FROM crawl_runs GROUP BY status")
            )
        ).all()
    # Every product of the cycle ingested exactly once: no gap, no duplicate.
    assert sorted(per_product) == sorted(product_ids)
    assert set(per_product.values()) == {1}
    assert [(s, m) for s, _, m in statuses] == [("succeeded", 0)], statuses


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_postgres_restart_mid_crawl_loses_nothing_and_answers_503(
    stack: Stack,
    private_postgres: PrivatePostgres,
    private_sessionmaker: async_sessionmaker[AsyncSession],
    mode: str,
) -> None:
    product_ids = await seed_tracked(private_sessionmaker, count=PRODUCTS)
    stack.env["SHELFWATCH_DATABASE__URL"] = private_postgres.url
    port = free_port()
    await _start_stack(stack, port)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        auth = await _signed_in(http, private_sessionmaker)
        stack.start("scheduler", "scheduler")
        await _mid_crawl(private_sessionmaker, stack)

        probe, done = Probe(), asyncio.Event()
        start_at = time.monotonic()
        # The account itself is read from PostgreSQL on every call (cached lists are not:
        # they keep answering from Redis through a database outage).
        prober = asyncio.create_task(
            _probe_until(http, auth, probe, done, start_at, path="/api/v1/auth/me")
        )
        await asyncio.sleep(0.6)
        open_runs = (await _progress(private_sessionmaker))[1]
        stopped_at = time.monotonic()
        # A real restart, held down a few seconds so requests meet the outage.
        await asyncio.to_thread(private_postgres.restart, mode, 4.0)
        back_at = time.monotonic()
        recovered_at: float | None = None
        while recovered_at is None and time.monotonic() - back_at < 30:
            await asyncio.sleep(0.3)
            if probe.replies and probe.replies[-1][1] == 200:
                recovered_at = time.monotonic()
        done.set()
        await prober

    statuses = probe.statuses()
    first_ok = next(
        (at for at, status, _ in probe.replies if status == 200 and at > back_at - start_at), None
    )
    logger.warning(
        "postgres %s restart: open runs at stop=%d statuses=%s down=%.1fs "
        "first 200 %.2fs after start",
        mode,
        open_runs,
        dict(statuses),
        back_at - stopped_at,
        (first_ok if first_ok is not None else -1) - (back_at - start_at),
    )
    assert open_runs > 0  # the restart did cut the cycle
    assert recovered_at is not None, probe.replies[-5:]
    assert set(statuses) <= {200, 503}, probe.replies
    assert statuses[503] >= 3, statuses
    for _, status, headers in probe.replies:
        if status == 503:
            assert headers["content-type"].startswith("application/problem+json")
            assert int(headers["retry-after"]) > 0

    await _assert_cycle_complete(private_sessionmaker, product_ids, stack)
    # Batches met the outage and resumed.
    assert any(r.get("outcome") == "retried" for r in stack.records("worker"))
    # Nobody had to restart the processes.
    for name in ("gateway", "worker", "scheduler"):
        assert stack.processes[name].poll() is None, stack.log(name)[-3000:]
    assert "Traceback" not in stack.log("gateway")


@pytest.mark.parametrize("appendonly", [True, False], ids=["aof", "no-aof"])
async def test_redis_restart_mid_crawl_completes(
    stack: Stack,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    appendonly: bool,
) -> None:
    root = Path(tempfile.mkdtemp(prefix="shelfwatch-redis-"))
    redis = EmbeddedRedis(root, appendonly=appendonly)
    redis.start()
    try:
        product_ids = await seed_tracked(sessionmaker, count=PRODUCTS)
        stack.env["SHELFWATCH_REDIS__URL"] = redis.url
        port = free_port()
        await _start_stack(stack, port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            auth = await _signed_in(http, sessionmaker)
            stack.start("scheduler", "scheduler")
            await _mid_crawl(sessionmaker, stack)

            probe, done = Probe(), asyncio.Event()
            prober = asyncio.create_task(_probe_until(http, auth, probe, done))
            await asyncio.sleep(0.6)
            redis.stop()  # SIGTERM: a clean shutdown (AOF flushed, or an RDB snapshot)
            await asyncio.sleep(1.0)
            # What needs Redis itself says so with a 503, never a 500: sign-in (its throttle).
            # The sign-in page needs no session yet, so it still renders.
            during = [
                await http.post(
                    "/api/v1/auth/login",
                    json={"email": "outage@example.com", "password": PASSWORD},
                )
            ]
            page_during = await http.get("/login")
            await asyncio.sleep(3.0)
            redis.start()
            await asyncio.sleep(2.0)
            done.set()
            await prober
        statuses = probe.statuses()
        logger.warning("redis restart (aof=%s): statuses=%s", appendonly, dict(statuses))
        # Reads need only PostgreSQL: the cache, rate limiter and revocation list fail soft.
        assert set(statuses) == {200}, probe.replies
        for r in during:
            assert r.status_code == 503, (r.request.url, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert int(r.headers["retry-after"]) > 0
        assert page_during.status_code == 200

        await _assert_cycle_complete(sessionmaker, product_ids, stack)
        # Each run's follow-up jobs ran, also for a run that ended while Redis was away.
        async with sessionmaker() as session:
            run_ids = (await session.execute(text("SELECT id FROM crawl_runs"))).scalars().all()

        async def followed() -> bool:
            log = stack.log("worker")
            return all(
                f'"product.refresh_read_models:{run_id}"' in log
                and f'"alerts.detect_changes:{run_id}"' in log
                for run_id in run_ids
            )

        await _until(followed, 30, "every run's follow-up jobs", stack)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/login")).status_code == 200
        for name in ("gateway", "worker", "scheduler"):
            assert stack.processes[name].poll() is None, stack.log(name)[-3000:]
        assert "redis back; worker resumed" in stack.log("worker")
        assert "Traceback" not in stack.log("gateway")
    finally:
        stack.stop_all()
        redis.stop()
        shutil.rmtree(root, ignore_errors=True)
