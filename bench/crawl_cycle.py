"""Benchmark: one full crawl cycle of N tracked products against the simulator.

plan → batches → worker process → snapshots in PostgreSQL, end to end with real processes,
then PostgreSQL's own COPY of the same number of snapshot rows into a scratch table, for scale.

    uv run python -m bench.crawl_cycle [--products 100000] [--batch-size 500] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import psutil
from redis.asyncio import Redis

from services.core.db import async_url
from services.core.embedded import EmbeddedServers, free_port, wait_for_port
from services.core.jobs import JobRequest, Queue, create_arq_pool, send_job
from services.core.migrate import upgrade
from services.core.settings import Settings
from services.product.ingest import SNAPSHOT_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "shelfwatch_bench"


def _reachable(url: str, port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or port), 1):
            return True
    except OSError:
        return False


def _plain(url: str) -> str:
    return async_url(url).replace("postgresql+asyncpg://", "postgresql://")


async def _reset_database(admin_url: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()
    return urlparse(admin_url)._replace(path=f"/{BENCH_DB}").geturl()


async def _seed(db_url: str, n: int) -> None:
    """N products, each tracked by one seller, loaded with COPY."""
    conn = await asyncpg.connect(db_url)
    try:
        user_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO users (id, email, password_hash, role, plan_id) "
            "VALUES ($1, 'bench@example.com', 'x', 'seller', 1)",
            user_id,
        )
        await conn.copy_records_to_table(
            "products",
            records=((i + 1, "US", f"B{i:09d}") for i in range(n)),
            columns=["id", "marketplace", "asin"],
        )
        await conn.execute("SELECT setval('products_id_seq', $1)", n)
        await conn.copy_records_to_table(
            "tracked_products",
            records=((uuid.uuid4(), user_id, i + 1, "daily", "own") for i in range(n)),
            columns=["id", "user_id", "product_id", "frequency", "role"],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _copy_baseline(db_url: str, n: int) -> float:
    """Seconds PostgreSQL's COPY takes to load N snapshot-shaped rows into a scratch table."""
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(
            "CREATE TABLE copy_scratch (LIKE snapshots INCLUDING DEFAULTS); "
            "ALTER TABLE copy_scratch ADD PRIMARY KEY (product_id, crawl_run_id, captured_at)"
        )
        run = uuid.uuid4()
        now = datetime.now(UTC)
        bsr = json.dumps([{"rank": 1234, "category": "Electronics"}, {"rank": 5, "category": "X"}])
        records = [
            (
                i,
                run,
                now,
                "ok",
                "USD",
                Decimal("23.49"),
                Decimal("49.99"),
                Decimal("23.49"),
                "AnkerDirect",
                "FBA",
                True,
                "In Stock",
                True,
                Decimal("4.4"),
                6687,
                bsr,
                None,
            )
            for i in range(n)
        ]
        columns = list(SNAPSHOT_COLUMNS)
        started = time.perf_counter()
        await conn.copy_records_to_table("copy_scratch", records=records, columns=columns)
        return time.perf_counter() - started
    finally:
        await conn.close()


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _run(args: argparse.Namespace) -> dict[str, object]:
    base = Settings()
    pg_admin = os.environ.get(
        "SHELFWATCH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    redis_url = os.environ.get("SHELFWATCH_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    servers = EmbeddedServers(ROOT / ".shelfwatch" / "bench")
    servers.start(
        need_database=not _reachable(pg_admin, 5432), need_redis=not _reachable(redis_url, 6379)
    )
    if servers.postgres:
        pg_admin = servers.postgres.url.replace("/shelfwatch?", "/postgres?")
    if servers.redis:
        redis_url = servers.redis.url
    processes: list[subprocess.Popen[bytes]] = []
    logs = ROOT / ".shelfwatch" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        db_url = await _reset_database(_plain(pg_admin))
        await asyncio.to_thread(upgrade, db_url)
        flush = Redis.from_url(redis_url)
        await flush.flushdb()
        await flush.aclose()
        await _seed(db_url, args.products)

        sim_port = free_port()
        env = {
            **os.environ,
            "SHELFWATCH_ENVIRONMENT": "development",
            "SHELFWATCH_LOG_LEVEL": "WARNING",
            "SHELFWATCH_DATABASE__URL": db_url,
            "SHELFWATCH_REDIS__URL": redis_url,
            "SHELFWATCH_APIFY__BASE_URL": f"http://127.0.0.1:{sim_port}",
            "SHELFWATCH_APIFY__TOKEN": "bench",
            "SHELFWATCH_APIFY__SIMULATED": "true",
            "SHELFWATCH_APIFY__BATCH_SIZE": str(args.batch_size),
            "SHELFWATCH_APIFY__PAGE_SIZE": str(args.page_size),
            "SHELFWATCH_APIFY__MAX_ITEMS_PER_RUN": str(args.batch_size * 2),
            "SHELFWATCH_QUEUE__CONCURRENCY": str(args.concurrency),
            "SHELFWATCH_QUEUE__METRICS_PORT": "0",
        }
        processes.append(_spawn(["apify-sim", "--port", str(sim_port)], env, logs / "sim.log"))
        wait_for_port(sim_port, 20)
        workers = [
            _spawn(["worker", "--queue", "default"], env, logs / "worker.log")
            for _ in range(args.workers)
        ]
        processes.extend(workers)
        await asyncio.sleep(2)  # let the workers connect

        settings = base.model_copy(deep=True)
        settings.redis.url = redis_url
        arq = await create_arq_pool(settings)
        conn = await asyncpg.connect(db_url)
        peak_rss = 0
        started = time.perf_counter()
        await send_job(arq, JobRequest("product.plan_crawls", Queue.DEFAULT, {}, "bench-plan"))
        done = 0
        while True:
            for w in workers:
                try:
                    rss = psutil.Process(w.pid).memory_info().rss
                except psutil.NoSuchProcess:
                    raise RuntimeError("a worker died; see .shelfwatch/bench-logs") from None
                peak_rss = max(peak_rss, rss)
            row = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed')) AS done, "
                "count(*) AS total FROM crawl_runs"
            )
            done, total = row["done"], row["total"]
            if total and done == total:
                break
            if time.perf_counter() - started > args.timeout:
                raise RuntimeError(f"timed out with {done}/{total} runs finished")
            await asyncio.sleep(0.25)
        elapsed = time.perf_counter() - started
        snapshots = await conn.fetchval("SELECT count(*) FROM snapshots")
        dupes = await conn.fetchval(
            "SELECT count(*) FROM (SELECT product_id, crawl_run_id FROM snapshots "
            "GROUP BY 1, 2 HAVING count(*) > 1) d"
        )
        runs = await conn.fetchval("SELECT count(*) FROM crawl_runs")
        await conn.close()
        await arq.aclose()
        copy_s = await _copy_baseline(db_url, args.products)
        return {
            "products": args.products,
            "batch_size": args.batch_size,
            "actor_runs": runs,
            "expected_runs": -(-args.products // args.batch_size),
            "snapshots": snapshots,
            "duplicates": dupes,
            "cycle_s": elapsed,
            "products_per_s": args.products / elapsed,
            "worker_peak_rss_mb": peak_rss / 1_048_576,
            "copy_s": copy_s,
            "ratio": elapsed / copy_s,
        }
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        servers.stop()


def _print(result: dict[str, object], args: argparse.Namespace) -> None:
    rows = [
        (
            "machine",
            f"{platform.machine()}, {psutil.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        ),
        ("products tracked", f"{result['products']:,}"),
        ("batch size / page size", f"{args.batch_size} / {args.page_size}"),
        ("worker processes x concurrency", f"{args.workers} x {args.concurrency}"),
        ("actor runs (expected)", f"{result['actor_runs']} ({result['expected_runs']})"),
        ("snapshots written", f"{result['snapshots']:,} (duplicates: {result['duplicates']})"),
        ("full cycle", f"{result['cycle_s']:.1f} s"),
        ("products/s", f"{result['products_per_s']:,.0f}"),
        ("worker peak RSS", f"{result['worker_peak_rss_mb']:.0f} MB"),
        ("PostgreSQL COPY of the same rows", f"{result['copy_s']:.2f} s"),
        ("cycle / COPY", f"{result['ratio']:.1f}x"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"| {'metric'.ljust(width)} | value |")
    print(f"| {'-' * width} | ----- |")
    for key, value in rows:
        print(f"| {key.ljust(width)} | {value} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    result = asyncio.run(_run(args))
    _print(result, args)


if __name__ == "__main__":
    main()
