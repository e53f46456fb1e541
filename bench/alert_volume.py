"""Benchmark: how many alerts a seller with 1 000 products gets on an ordinary simulated day.

One seller tracks N products in groups of five sharing a tag (four of the seller's own and one
competitor, so undercuts can fire), with the default thresholds. Each simulated day moves the
Apify simulator's clock one day on (``PUT /_sim/config {"day_offset": d}``), makes every product
due again and sends one ``product.plan_crawls`` job: the real path then runs in real processes
(planner, crawl batches against the simulator, ingest, change detection in a ``shelfwatch
worker``), and the table counts the alert events stored per rule per simulated day, per
1 000 products.

The re-arm window and the daily cap are switched off for the run (every simulated day passes in
a few real minutes, so both would hide what the rules themselves produce); the last line shows
what the default cap would still let through.

    uv run python -m bench.alert_volume [--products 1000] [--days 7] [--warmup-days 7]

Day 0 only lays down the first snapshots, so by default the products start the run without a
past: a deal, a stock-out or a rank jump already under way on day 0 ends on day 1 with no open
alert to end. ``--warmup-days N`` crawls N simulated days before day 0 and counts nothing there,
which measures a seller whose products have been tracked for a while (the steady state). Every
simulated day passes in a few real minutes, so all of them fall inside the seven-day windows of
alert episodes and usual ranks, which are measured on snapshot capture times.

To measure another revision's defaults (e.g. before a threshold change), run the same file in a
checkout of that revision: ``git worktree add --detach /tmp/old <rev> && cp
bench/alert_volume.py /tmp/old/bench/ && cd /tmp/old && uv run python -m bench.alert_volume``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import Counter

import asyncpg
import httpx
from redis.asyncio import Redis

from bench.common import bench, machine, table
from services.core.embedded import free_port, wait_for_port
from services.core.jobs import JobRequest, Queue, create_arq_pool, queue_key, send_job
from services.core.settings import AlertSettings, Settings

REDIS_DB = 15


async def _seed(db_url: str, n: int) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        plan_id = await conn.fetchval(
            "INSERT INTO plans (name, max_tracked_products, rate_limit_per_minute) "
            "VALUES ('bench', 1000000, 1000000000) RETURNING id"
        )
        user_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO users (id, email, password_hash, role, plan_id) "
            "VALUES ($1, 'alerts@bench.example', 'x', 'seller', $2)",
            user_id,
            plan_id,
        )
        await conn.execute(
            "INSERT INTO products (id, marketplace, asin) "
            "SELECT i, 'US', 'B' || lpad((i - 1)::text, 9, '0') FROM generate_series(1, $1) i",
            n,
        )
        await conn.execute("SELECT setval('products_id_seq', $1)", n)
        await conn.execute(
            "INSERT INTO tracked_products (id, user_id, product_id, tags, role, frequency) "
            "SELECT gen_random_uuid(), $1, i, ARRAY['group' || ((i - 1) / 5)], "
            "CASE WHEN i % 5 = 0 THEN 'competitor' ELSE 'own' END, 'daily' "
            "FROM generate_series(1, $2) i",
            user_id,
            n,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _settled(conn: asyncpg.Connection, redis: Redis, timeout_s: float) -> None:
    """Until every crawl run has finished and no job is queued or running."""
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while quiet < 3:
        if time.monotonic() > deadline:
            raise RuntimeError("the day did not settle; see .shelfwatch/bench-logs")
        open_runs = await conn.fetchval(
            "SELECT count(*) FROM crawl_runs WHERE status NOT IN ('succeeded', 'failed')"
        )
        queued = sum([await redis.zcard(queue_key(q)) for q in Queue])
        running = [k async for k in redis.scan_iter("arq:in-progress:*", count=1000)]
        quiet = quiet + 1 if not (open_runs or queued or running) else 0
        await asyncio.sleep(0.3)


async def _ended(conn: asyncpg.Connection, since: object) -> Counter[str]:
    """Alerts that a snapshot captured after ``since`` ended, per rule (none on a revision
    before alert episodes)."""
    if not await conn.fetchval(
        "SELECT 1 FROM information_schema.columns "
        "WHERE table_name = 'alert_events' AND column_name = 'ended_at'"
    ):
        return Counter()
    rows = await conn.fetch(
        "SELECT rule, count(*) AS n FROM alert_events WHERE ended_at > $1 GROUP BY rule", since
    )
    return Counter({r["rule"]: r["n"] for r in rows})


async def _run(
    args: argparse.Namespace,
) -> tuple[list[Counter[str]], Counter[str], Counter[str], int]:
    """Alerts per rule for each simulated day, and per severity and alerts ended per rule over
    the whole run."""
    per_day: list[Counter[str]] = []
    severities: Counter[str] = Counter()
    ended: Counter[str] = Counter()
    async with bench("alerts", args.redis_db) as state:
        db_url = await state.fresh_database()
        await _seed(db_url, args.products)
        sim_port = free_port()
        env = state.env(
            SHELFWATCH_APIFY__BASE_URL=f"http://127.0.0.1:{sim_port}",
            SHELFWATCH_APIFY__TOKEN="bench",
            SHELFWATCH_APIFY__SIMULATED="true",
            SHELFWATCH_ALERTS__REARM_WINDOW_S="0",
            SHELFWATCH_ALERTS__DAILY_CAP_PER_SELLER="100000",
        )
        sim = state.spawn(["apify-sim", "--port", str(sim_port)], env, "alerts-sim.log")
        wait_for_port(sim_port, 20)
        state.spawn(["worker"], env, "alerts-worker.log")
        settings = Settings().model_copy(deep=True)
        settings.redis.url = state.redis_url
        arq = await create_arq_pool(settings)
        redis = Redis.from_url(state.redis_url)
        conn = await asyncpg.connect(db_url)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim_port}") as sim_http:
                for day in range(-args.warmup_days, args.days + 1):
                    (
                        await sim_http.put("/_sim/config", json={"day_offset": day})
                    ).raise_for_status()
                    await conn.execute(
                        "UPDATE products SET last_crawled_at = NULL, last_good_at = NULL, "
                        "crawl_pending_until = NULL"
                    )
                    before = await conn.fetchval(
                        "SELECT coalesce(max(created_at), now()) FROM alert_events"
                    )
                    await send_job(
                        arq, JobRequest("product.plan_crawls", Queue.DEFAULT, {}, f"plan-{day}")
                    )
                    await asyncio.sleep(1)
                    await _settled(conn, redis, args.timeout)
                    rows = await conn.fetch(
                        "SELECT rule, severity, count(*) AS n FROM alert_events "
                        "WHERE created_at > $1 GROUP BY rule, severity",
                        before,
                    )
                    if day > 0:  # day 0 and before only lay down snapshots
                        counts: Counter[str] = Counter()
                        for r in rows:
                            counts[r["rule"]] += r["n"]
                            severities[r["severity"]] += r["n"]
                        per_day.append(counts)
                        ended.update(await _ended(conn, before))
        finally:
            await conn.close()
            await redis.aclose()
            await arq.aclose()
            state.stop(sim)
    return per_day, severities, ended, args.products


def report(
    per_day: list[Counter[str]],
    severities: Counter[str],
    ended: Counter[str],
    products: int,
    args: argparse.Namespace,
) -> str:
    scale = 1000 / products
    totals: Counter[str] = Counter()
    for day in per_day:
        totals.update(day)
    all_alerts = sum(totals.values())
    rows = [
        (
            rule,
            *(f"{day.get(rule, 0) * scale:.0f}" for day in per_day),
            f"{count * scale / len(per_day):.1f}",
            f"{100 * count / all_alerts:.0f} %" if all_alerts else "-",
            f"{ended.get(rule, 0) * scale / len(per_day):.1f}",
        )
        for rule, count in totals.most_common()
    ]
    daily = [sum(day.values()) * scale for day in per_day]
    rows.append(
        (
            "**all rules**",
            *(f"{d:.0f}" for d in daily),
            f"{sum(daily) / len(daily):.1f}",
            "100 %",
            f"{sum(ended.values()) * scale / len(per_day):.1f}",
        )
    )
    cap = AlertSettings().daily_cap_per_seller
    notes = [
        f"machine: {machine()}",
        f"{products:,} products (groups of four own + one competitor), {len(per_day)} "
        f"simulated days after {args.warmup_days} days of warm-up, "
        "default thresholds; re-arm window and daily cap off",
        f"after the default daily cap of {cap} per seller: "
        f"{sum(min(cap, d / scale) for d in daily) / len(daily) * scale:.1f} per 1 000 per day",
        "by severity, per 1 000 a day: "
        + ", ".join(
            f"{name} {severities.get(name, 0) * scale / len(per_day):.1f}"
            for name in ("critical", "warning", "info")
        )
        + " (a channel set to warning and above sends the first two)",
        "sent at once by a channel on the default settings (critical at once, the rest in the "
        f"morning digest): {severities.get('critical', 0) * scale / len(per_day):.1f} a day, "
        "and one digest",
        "ended/day: earlier alerts of the rule that a later snapshot undid (ended instead of a "
        "new alert), per 1 000 a day",
    ]
    return (
        table(
            "Alerts per 1 000 products per simulated day"
            + (f" ({args.label})" if args.label else ""),
            [
                "rule",
                *(f"day {i + 1}" for i in range(len(per_day))),
                "mean/day",
                "share",
                "ended/day",
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
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument(
        "--warmup-days", type=int, default=0, help="simulated days crawled before, not counted"
    )
    parser.add_argument("--redis-db", type=int, default=REDIS_DB)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per simulated day")
    parser.add_argument("--label", default="", help="a name for the table's title")
    args = parser.parse_args()
    per_day, severities, ended, products = asyncio.run(_run(args))
    print(report(per_day, severities, ended, products, args), flush=True)


if __name__ == "__main__":
    main()
