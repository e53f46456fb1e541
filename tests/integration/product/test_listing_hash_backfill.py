"""The migration that gives each product its newest listing hash fills it from the versions
stored before it: the page writer compares new listings with it from the first page on."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import asyncpg
import pytest

from services.core.migrate import upgrade

pytestmark = pytest.mark.asyncio


async def test_the_newest_version_of_each_product_gives_its_hash(
    server_urls: tuple[str, str],
) -> None:
    admin_url = server_urls[0]
    name = f"shelfwatch_listing_hash_{os.getpid()}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlparse(admin_url)._replace(path=f"/{name}").geturl()
    try:
        await asyncio.to_thread(upgrade, url, "0012_channel_critical_now")
        conn = await asyncpg.connect(url)
        day1 = datetime(2026, 11, 1, tzinfo=UTC)
        day2 = day1 + timedelta(days=1)
        await conn.execute(
            "INSERT INTO products (id, marketplace, asin) VALUES "
            "(1, 'US', 'B000000001'), (2, 'US', 'B000000002'), (3, 'US', 'B000000003')"
        )
        versions = [
            # Product 1: the newest capture wins, whatever the insertion order.
            (1, day2, "h-new"),
            (1, day1, "h-old"),
            # Product 2: two versions captured at the same moment, the later stored wins.
            (2, day1, "h-first"),
            (2, day1, "h-second"),
        ]
        for pid, at, content_hash in versions:
            await conn.execute(
                "INSERT INTO listing_versions (product_id, crawl_run_id, captured_at, content_hash)"
                " VALUES ($1, $2, $3, $4)",
                pid,
                uuid.uuid4(),
                at,
                content_hash,
            )
        await conn.close()

        await asyncio.to_thread(upgrade, url)

        conn = await asyncpg.connect(url)
        rows = await conn.fetch(
            "SELECT id, listing_hash, listing_hash_at FROM products ORDER BY id"
        )
        await conn.close()
        assert [tuple(r) for r in rows] == [
            (1, "h-new", day2),
            (2, "h-second", day1),
            (3, None, None),  # never versioned
        ]
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
