"""Seeding a scratch database with a seller, a catalogue and its snapshot history, server-side
(``INSERT ... SELECT generate_series``), so millions of rows take seconds, not a client loop."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

from services.auth.passwords import hash_password
from services.product.repository.partitions import add_months, month_start, partition_name

SELLER_EMAIL = "seller@bench.example"
SELLER_PASSWORD = "bench-password-1"  # a scratch database's seller


@dataclass(frozen=True)
class Seeded:
    user_id: uuid.UUID
    tracking_ids: list[uuid.UUID]
    snapshots: int


async def ensure_partitions(conn: asyncpg.Connection, since: datetime) -> int:
    """Monthly partitions from ``since`` to now, as a long-running install would have them."""
    created = 0
    month: date = month_start(since.date())
    while month <= datetime.now(UTC).date():
        end = add_months(month, 1)
        status = await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{partition_name(month)}" PARTITION OF snapshots '
            f"FOR VALUES FROM ('{month.isoformat()} 00:00:00+00') TO "
            f"('{end.isoformat()} 00:00:00+00')"
        )
        created += status == "CREATE TABLE"
        month = end
    return created


async def seed_catalogue(
    conn: asyncpg.Connection,
    *,
    products: int,
    tracked: int,
    points: int,
    span_days: float,
    chunk: int = 500,
) -> Seeded:
    """``products`` products with ``points`` good snapshots each, evenly over ``span_days`` up
    to now; one seller (on a plan without a practical rate limit) tracks the first ``tracked``;
    one listing version per product. Prices move a little each point, so 7-day changes exist."""
    plan_id = await conn.fetchval(
        "INSERT INTO plans (name, max_tracked_products, rate_limit_per_minute) "
        "VALUES ('bench', 1000000, 1000000000) RETURNING id"
    )
    user_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO users (id, email, password_hash, role, plan_id) "
        "VALUES ($1, $2, $3, 'seller', $4)",
        user_id,
        SELLER_EMAIL,
        hash_password(SELLER_PASSWORD),
        plan_id,
    )
    now = datetime.now(UTC).replace(microsecond=0)
    await ensure_partitions(conn, now - timedelta(days=span_days))
    await conn.execute(
        "INSERT INTO products (id, marketplace, asin, last_crawled_at, last_status, last_good_at) "
        "SELECT i, 'US', 'B' || lpad(i::text, 9, '0'), $2, 'ok', $2 "
        "FROM generate_series(1, $1) i",
        products,
        now,
    )
    await conn.execute("SELECT setval('products_id_seq', $1)", products)
    await conn.execute(
        "INSERT INTO tracked_products (id, user_id, product_id, alias, tags, role, frequency, "
        "created_at) "
        "SELECT gen_random_uuid(), $1, i, 'Product ' || i, ARRAY['bench', 'tag' || (i % 10)], "
        "CASE WHEN i % 5 = 0 THEN 'competitor' ELSE 'own' END, 'daily', "
        "$3::timestamptz - make_interval(secs => i) FROM generate_series(1, $2) i",
        user_id,
        tracked,
        now,
    )
    await conn.execute(
        "INSERT INTO listing_versions (product_id, crawl_run_id, captured_at, content_hash, "
        "title, brand, bullets, description, images, video_count, category_path) "
        "SELECT i, '00000000-0000-0000-0000-000000000001', $2::timestamptz - interval '30 days', "
        "md5(i::text) || md5(i::text), "
        "'Bench product ' || i || ' with a title as long as Amazon titles tend to be, really', "
        '\'BenchBrand\', \'["First bullet point", "Second bullet point", "Third"]\', '
        "'A description of product ' || i, "
        '\'["https://m.media-amazon.com/images/I/a.jpg", '
        '"https://m.media-amazon.com/images/I/b.jpg"]\', 1, '
        '\'["Electronics", "Accessories"]\' '
        "FROM generate_series(1, $1) i",
        products,
        now,
    )
    step_s = span_days * 86_400 / points
    for first in range(1, products + 1, chunk):
        last = min(products, first + chunk - 1)
        await conn.execute(
            "INSERT INTO snapshots (product_id, crawl_run_id, captured_at, status, currency, "
            "price, list_price, buybox_price, buybox_seller, fulfillment, is_prime, "
            "availability, in_stock, rating, review_count, bsr) "
            "SELECT p, md5(k::text)::uuid, $3::timestamptz - make_interval(secs => k * $4), "
            "'ok', 'USD', round((10 + p % 90 + (k % 13) * 0.37)::numeric, 2), 99.99, "
            "round((10 + p % 90 + (k % 13) * 0.37)::numeric, 2), 'BenchSeller', 'FBA', true, "
            "'In Stock', true, 4.3, 1000 + k, "
            "jsonb_build_array(jsonb_build_object('rank', 1000 + (p * 7 + k) % 5000, "
            "'category', 'Electronics'), jsonb_build_object('rank', 1 + k % 90, "
            "'category', 'Accessories')) "
            "FROM generate_series($1::int, $2::int) p, generate_series(0, $5::int - 1) k",
            first,
            last,
            now,
            step_s,
            points,
        )
    await conn.execute("ANALYZE")
    ids = [
        r[0]
        for r in await conn.fetch(
            "SELECT id FROM tracked_products WHERE user_id = $1 ORDER BY product_id", user_id
        )
    ]
    return Seeded(user_id, ids, products * points)
