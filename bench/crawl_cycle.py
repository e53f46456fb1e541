"""Benchmark: full crawl cycles of N tracked products against the simulator, at growing N.

For each N (10k, 30k, 100k by default): plan → batches → worker process → snapshots in
PostgreSQL, end to end with real processes (the Apify simulator and one ``shelfwatch worker``),
then PostgreSQL's own COPY of the same number of snapshot rows into a scratch table. The table
shows time per product and the worker's peak RSS next to the smallest N's: both must stay flat.

    uv run python -m bench.crawl_cycle [--sizes 10000,30000,100000] [--batch-size 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import psutil

from bench.common import Bench, bench, machine, table, verdict
from services.core.embedded import free_port, wait_for_port
from services.core.jobs import JobRequest, Queue, create_arq_pool, send_job
from services.core.settings import Settings
from services.product.repository.snapshots import SNAPSHOT_COLUMNS

REDIS_DB = 14
TARGET_100K_S = 60.0


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
                True,  # deal
            )
            for i in range(n)
        ]
        columns = list(SNAPSHOT_COLUMNS)
        started = time.perf_counter()
        await conn.copy_records_to_table("copy_scratch", records=records, columns=columns)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def _cycle(state: Bench, n: int, args: argparse.Namespace) -> dict[str, float]:
    db_url = await state.fresh_database()
    await state.flush_redis()
    await _seed(db_url, n)
    sim_port = free_port()
    env = state.env(
        SHELFWATCH_APIFY__BASE_URL=f"http://127.0.0.1:{sim_port}",
        SHELFWATCH_APIFY__TOKEN="bench",
        SHELFWATCH_APIFY__SIMULATED="true",
        SHELFWATCH_APIFY__BATCH_SIZE=str(args.batch_size),
        SHELFWATCH_APIFY__PAGE_SIZE=str(args.page_size),
        SHELFWATCH_APIFY__MAX_ITEMS_PER_RUN=str(args.batch_size * 2),
        SHELFWATCH_QUEUE__CONCURRENCY=str(args.concurrency),
    )
    sim = state.spawn(["apify-sim", "--port", str(sim_port)], env, "crawl-sim.log")
    wait_for_port(sim_port, 20)
    workers = [
        state.spawn(["worker", "--queue", "default"], env, "crawl-worker.log")
        for _ in range(args.workers)
    ]
    await asyncio.sleep(2)  # let the workers connect
    settings = Settings().model_copy(deep=True)
    settings.redis.url = state.redis_url
    arq = await create_arq_pool(settings)
    conn = await asyncpg.connect(db_url)
    peak_rss = 0
    try:
        started = time.perf_counter()
        await send_job(arq, JobRequest("product.plan_crawls", Queue.DEFAULT, {}, "bench-plan"))
        while True:
            for w in workers:
                try:
                    peak_rss = max(peak_rss, psutil.Process(w.pid).memory_info().rss)
                except psutil.NoSuchProcess:
                    raise RuntimeError("a worker died; see .shelfwatch/bench-logs") from None
            row = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed')) AS done, "
                "count(*) AS total FROM crawl_runs"
            )
            if row["total"] and row["done"] == row["total"]:
                break
            if time.perf_counter() - started > args.timeout:
                raise RuntimeError(f"timed out with {row['done']}/{row['total']} runs finished")
            await asyncio.sleep(0.25)
        elapsed = time.perf_counter() - started
        snapshots = await conn.fetchval("SELECT count(*) FROM snapshots")
        dupes = await conn.fetchval(
            "SELECT count(*) FROM (SELECT product_id, crawl_run_id FROM snapshots "
            "GROUP BY 1, 2 HAVING count(*) > 1) d"
        )
        runs = await conn.fetchval("SELECT count(*) FROM crawl_runs")
    finally:
        await conn.close()
        await arq.aclose()
        for w in workers:
            state.stop(w)
        state.stop(sim)
    copy_s = await _copy_baseline(db_url, n)
    return {
        "n": n,
        "runs": runs,
        "expected_runs": -(-n // args.batch_size),
        "snapshots": snapshots,
        "dupes": dupes,
        "cycle_s": elapsed,
        "us_per_product": elapsed / n * 1e6,
        "rss_mb": peak_rss / 1_048_576,
        "copy_s": copy_s,
    }


async def _run(args: argparse.Namespace) -> list[dict[str, float]]:
    results = []
    async with bench("crawl", REDIS_DB) as state:
        for n in args.sizes:
            results.append(await _cycle(state, n, args))
    return results


def report(results: list[dict[str, float]], args: argparse.Namespace) -> str:
    base = results[0]
    rows = []
    for r in results:
        rows.append(
            (
                f"{r['n']:,}",
                f"{r['runs']} ({r['expected_runs']})",
                f"{r['snapshots']:,} / {r['dupes']}",
                f"{r['cycle_s']:.1f} s",
                f"{r['us_per_product']:.0f}",
                f"{r['us_per_product'] / base['us_per_product']:.2f}x",
                f"{r['rss_mb']:.0f} MB",
                f"{r['rss_mb'] / base['rss_mb']:.2f}x",
                f"{r['copy_s']:.2f} s",
                f"{r['cycle_s'] / r['copy_s']:.0f}x",
            )
        )
    largest = results[-1]
    flat_time = all(r["us_per_product"] <= 1.5 * base["us_per_product"] for r in results)
    flat_rss = all(r["rss_mb"] <= 1.5 * base["rss_mb"] for r in results)
    notes = [
        f"machine: {machine()}",
        f"batch size {args.batch_size}, page size {args.page_size}, "
        f"{args.workers} worker process(es) x concurrency {args.concurrency}",
        f"time per product flat in N (<= 1.5x the smallest N): {verdict(flat_time)}",
        f"worker RSS flat in N (<= 1.5x the smallest N): {verdict(flat_rss)}",
    ]
    if largest["n"] >= 100_000:
        notes.append(
            f"100k cycle <= {TARGET_100K_S:.0f} s: "
            f"{verdict(largest['cycle_s'] * 100_000 / largest['n'] <= TARGET_100K_S)}"
        )
    return (
        table(
            "Crawl cycle: growth in N",
            [
                "products",
                "actor runs (expected)",
                "snapshots / dupes",
                "cycle",
                "µs/product",
                "vs smallest N",
                "worker peak RSS",
                "vs smallest N",
                "COPY same rows",
                "cycle / COPY",
            ],
            rows,
        )
        + "\n\n"
        + "\n".join(f"- {n}" for n in notes)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[10_000, 30_000, 100_000],
        help="comma-separated product counts, smallest first",
    )
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    print(report(asyncio.run(_run(args)), args), flush=True)


if __name__ == "__main__":
    main()
