"""Benchmark: the history queries at 10 M snapshot rows.

Seeds 10 000 products x 1 000 good snapshots evenly over a year (monthly partitions, as a
long-running install has them) into a scratch database, one seller tracking 1 000 of them, then
runs the product module's own SQL (its repositories), warm, several times each:

- one product's year of price history (``history_rows``, the 1y range): target <= 20 ms;
- the seller's list with latest state and 7-day change (``list_tracked``, 1 000 tracked
  products, first page of 50 by the default sort and by 7-day change, which must rank all
  1 000): target <= 50 ms.

Server-side time is PostgreSQL's own "Execution Time" from EXPLAIN (ANALYZE, BUFFERS); the
client time through SQLAlchemy is beside it, and each plan is printed under the table.

    uv run python -m bench.history_at_scale [--products 10000] [--points 1000] [--tracked 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text

from bench.common import bench, machine, table, verdict
from bench.seed import seed_catalogue
from services.core.db import create_engine, create_sessionmaker
from services.core.settings import Settings
from services.product.repository import SnapshotRepository, TrackingRepository
from services.product.repository.snapshots import _HISTORY_SQL
from services.product.repository.trackings import list_sql

REPEATS = 7


def _explain_ms(plan: list[str]) -> tuple[float, float]:
    joined = "\n".join(plan)
    execution = float(re.search(r"Execution Time: ([\d.]+) ms", joined)[1])  # type: ignore[index]
    planning = float(re.search(r"Planning Time: ([\d.]+) ms", joined)[1])  # type: ignore[index]
    return execution, planning


async def _measure(
    sessionmaker: Any, sql: str, params: dict[str, Any], call: Any
) -> dict[str, Any]:
    executions, plannings, clients = [], [], []
    plan: list[str] = []
    rows = 0
    for _ in range(REPEATS):
        async with sessionmaker() as session:
            plan = [
                r[0]
                for r in await session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql), params)
            ]
            execution, planning = _explain_ms(plan)
            executions.append(execution)
            plannings.append(planning)
            started = time.perf_counter()
            rows = len(await call(session))
            clients.append((time.perf_counter() - started) * 1000)
    return {
        "execution_ms": statistics.median(executions),
        "planning_ms": statistics.median(plannings),
        "client_ms": statistics.median(clients),
        "rows": rows,
        "plan": plan,
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    async with bench("history", None) as state:
        db_url = await state.fresh_database()
        conn = await asyncpg.connect(db_url)
        started = time.perf_counter()
        seeded = await seed_catalogue(
            conn,
            products=args.products,
            tracked=args.tracked,
            points=args.points,
            span_days=365,
            chunk=max(1, 500_000 // args.points),
        )
        seed_s = time.perf_counter() - started
        size = await conn.fetchval("SELECT pg_total_relation_size('snapshots')")
        partitions = await conn.fetchval(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'snapshots'::regclass"
        )
        size = await conn.fetchval(
            "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
            "WHERE inhparent = 'snapshots'::regclass"
        )
        product_id = await conn.fetchval(
            "SELECT product_id FROM tracked_products WHERE user_id = $1 "
            "ORDER BY product_id OFFSET $2 LIMIT 1",
            seeded.user_id,
            args.tracked // 2,
        )
        await conn.close()

        settings = Settings()
        settings.database.url = db_url
        engine = create_engine(settings)
        sessionmaker = create_sessionmaker(engine)
        now = datetime.now(UTC)
        year = {"product_id": product_id, "start": now - timedelta(days=365), "end": now}
        results = {
            "history": await _measure(
                sessionmaker,
                _HISTORY_SQL,
                year,
                lambda s: SnapshotRepository(s).history_rows(
                    product_id, year["start"], year["end"]
                ),
            )
        }
        for sort in ("created_at", "price_change_7d"):
            params = {
                "user_id": seeded.user_id,
                "week_ago": now - timedelta(days=7),
                "limit": 50,
                "offset": 0,
            }
            sql = list_sql(sort, descending=True)

            async def call(session: Any, sort: str = sort, params: dict[str, Any] = params) -> Any:
                rows, _ = await TrackingRepository(session).list_for_user(
                    params["user_id"],
                    week_ago=params["week_ago"],
                    tag=None,
                    role=None,
                    active=None,
                    crawl_status=None,
                    q=None,
                    sort=sort,
                    descending=True,
                    limit=50,
                    offset=0,
                )
                return rows

            results[f"list:{sort}"] = await _measure(sessionmaker, sql, params, call)
        await engine.dispose()
    return {
        "results": results,
        "rows": seeded.snapshots,
        "seed_s": seed_s,
        "size_gb": size / 2**30,
        "partitions": partitions,
    }


def report(r: dict[str, Any], args: argparse.Namespace) -> str:
    labels = {
        "history": ("one product's year of price history", 20.0),
        "list:created_at": (f"seller's list of {args.tracked:,}, page 1 by date added", 50.0),
        "list:price_change_7d": (
            f"seller's list of {args.tracked:,}, page 1 by 7-day change",
            50.0,
        ),
    }
    rows = []
    plans = []
    for key, (label, target) in labels.items():
        m = r["results"][key]
        rows.append(
            (
                label,
                f"{m['rows']:,}",
                f"{m['execution_ms']:.1f} ms",
                f"{m['planning_ms']:.1f} ms",
                f"{m['client_ms']:.1f} ms",
                f"{target:.0f} ms",
                f"{m['execution_ms'] / target:.2f}",
                verdict(m["execution_ms"] <= target),
            )
        )
        plans.append(
            f"EXPLAIN (ANALYZE, BUFFERS): {label}\n\n```\n" + "\n".join(m["plan"]) + "\n```"
        )
    notes = [
        f"machine: {machine()}",
        f"{r['rows']:,} snapshot rows ({args.products:,} products x {args.points:,} points over a "
        f"year) in {r['partitions']} partitions, {r['size_gb']:.2f} GiB with indexes; "
        f"seeded in {r['seed_s']:.0f} s; medians of {REPEATS} warm runs",
    ]
    return (
        table(
            "History at scale (server-side time from EXPLAIN ANALYZE)",
            [
                "query",
                "rows",
                "execution",
                "planning",
                "client (SQLAlchemy)",
                "target",
                "execution / target",
                "",
            ],
            rows,
        )
        + "\n\n"
        + "\n".join(f"- {n}" for n in notes)
        + "\n\n"
        + "\n\n".join(plans)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--tracked", type=int, default=1000)
    args = parser.parse_args()
    print(report(asyncio.run(_run(args)), args), flush=True)


if __name__ == "__main__":
    main()
