"""EXPLAIN the statements the 0004 indexes serve, on a scratch database of realistic size.

Fills a throw-away database (migrated to head) with a year of crawl runs, deliveries and refresh
tokens, ANALYZEs it and prints the plan of each statement exactly as its repository builds it.
The results are written down in docs/queries.md.

    uv run python -m bench.explain_indexes --server postgresql://postgres@127.0.0.1:5432 [--scale 1]
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import Select, Update, select, update
from sqlalchemy.dialects import postgresql

from services.auth.models import RefreshToken
from services.core.db import async_url
from services.core.migrate import upgrade
from services.product.models import CrawlRun
from services.product.repository.crawl_runs import OPEN_STATUSES

SCRATCH = "shelfwatch_explain"

FILL = """
INSERT INTO plans (name, max_tracked_products, refreshes_per_day, rate_limit_per_minute)
VALUES ('explain', 100, 10, 60) ON CONFLICT DO NOTHING;
INSERT INTO users (id, email, password_hash, role, plan_id)
SELECT gen_random_uuid(), 'u' || g || '@example.com', 'x', 'seller', (SELECT min(id) FROM plans)
FROM generate_series(1, {users}) g;
INSERT INTO notification_channels (id, user_id, name, kind, target)
SELECT gen_random_uuid(), id, 'hook', 'webhook', 'https://example.com/hook' FROM users;
-- A year of hourly batches of 500 products; all finished but the last few.
INSERT INTO crawl_runs (id, actor, product_ids, asin_count, status, trigger, created_at,
                        captured_at)
SELECT gen_random_uuid(), 'a',
       ARRAY(SELECT (g * 100 + k) % {products} + 1 FROM generate_series(0, 99) k),
       100, CASE WHEN g > {runs} - 5 THEN 'queued' ELSE 'succeeded' END, 'schedule',
       now() - make_interval(mins => ({runs} - g) * 5),
       now() - make_interval(mins => ({runs} - g) * 5)
FROM generate_series(1, {runs}) g;
-- Deliveries: almost all sent long ago, a handful pending.
WITH c AS (SELECT row_number() OVER () AS n, id, user_id FROM notification_channels)
INSERT INTO deliveries (id, user_id, channel_id, kind, dedupe_key, status, created_at)
SELECT gen_random_uuid(), c.user_id, c.id, 'event', 'event:' || g,
       CASE WHEN g % 20000 = 0 THEN 'pending' ELSE 'sent' END,
       now() - make_interval(secs => g * 30)
FROM generate_series(1, {deliveries}) g JOIN c ON c.n = g % {users} + 1;
-- Refresh tokens: each login a family, each refresh a new token of it; 30-day expiry, and
-- the daily purge keeps the expired ones to the last couple of days.
WITH u AS (SELECT row_number() OVER () AS n, id FROM users)
INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at)
SELECT gen_random_uuid(), u.id, md5((g / 10)::text)::uuid, md5(random()::text || g),
       now() + make_interval(days => 30) - make_interval(secs => g * 7)
FROM generate_series(1, {tokens}) g JOIN u ON u.n = (g / 10) % {users} + 1;
ANALYZE;
"""


def _sql(stmt: Select[Any] | Update) -> tuple[str, list[Any]]:
    """The statement as asyncpg receives it, with its positional parameters."""
    compiled = stmt.compile(
        dialect=postgresql.asyncpg.dialect(),  # type: ignore[attr-defined]
        compile_kwargs={"render_postcompile": True},
    )
    names = compiled.positiontup or []
    return str(compiled), [compiled.params[n] for n in names]


async def main(base: str, scale: float) -> None:
    base = base.rstrip("/")
    conn = await asyncpg.connect(base + "/postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
    await conn.execute(f'CREATE DATABASE "{SCRATCH}"')
    await conn.close()
    url = f"{base}/{SCRATCH}"
    await asyncio.to_thread(upgrade, async_url(url))
    db = await asyncpg.connect(url)
    try:
        sizes = {
            "users": int(2000 * scale),
            "products": int(100_000 * scale),
            "runs": int(50_000 * scale),
            "deliveries": int(400_000 * scale),
            "tokens": int(400_000 * scale),
        }
        await db.execute(FILL.format(**sizes))
        print("rows:", sizes)
        now = datetime.now(UTC)
        family = await db.fetchval("SELECT family_id FROM refresh_tokens LIMIT 1")
        product = int(await db.fetchval("SELECT product_ids[1] FROM crawl_runs LIMIT 1"))
        statements = {
            "refresh: open run holding a product (CrawlRunRepository.open_run_for_product)": (
                select(CrawlRun)
                .where(
                    CrawlRun.product_ids.contains([product]),
                    CrawlRun.status.in_(OPEN_STATUSES),
                )
                .order_by(CrawlRun.created_at.desc())
                .limit(1)
            ),
            "token reuse: revoke a family (RefreshTokenRepository.revoke_family)": (
                update(RefreshToken)
                .where(RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            ),
            "purge: expired tokens (RefreshTokenRepository.delete_expired)": (
                select(RefreshToken.id).where(RefreshToken.expires_at < now)
            ),
        }
        for title, stmt in statements.items():
            sql, params = _sql(stmt)
            # ANALYZE runs the statement: the UPDATE is rolled back.
            tx = db.transaction()
            await tx.start()
            rows = await db.fetch("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, *params)
            await tx.rollback()
            print(f"\n## {title}\n")
            print("\n".join("    " + r[0] for r in rows))
    finally:
        await db.close()
        conn = await asyncpg.connect(base + "/postgres")
        await conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(main(args.server, args.scale))
