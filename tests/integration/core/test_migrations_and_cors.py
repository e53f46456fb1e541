"""Migrations match the models and run both ways; CORS answers only configured origins."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command

from services.core.migrate import alembic_config
from services.core.settings import Settings
from tests.integration.conftest import app_client

pytestmark = pytest.mark.asyncio


async def test_models_and_migrations_agree(database_url: str) -> None:
    # Raises when autogenerate would find a difference between the models and the database.
    await asyncio.to_thread(command.check, alembic_config(database_url))


async def test_cors_only_for_configured_origins(settings: Settings) -> None:
    configured = settings.model_copy(deep=True)
    configured.http.cors_origins = ["https://app.example.com"]
    async with app_client(configured) as client:
        r = await client.options(
            "/api/v1/auth/login",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
            },
        )
        assert r.headers.get("access-control-allow-origin") == "https://app.example.com"
        r = await client.get("/health/live", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


async def test_migrations_downgrade_and_upgrade_again(server_urls: tuple[str, str]) -> None:
    import os
    from urllib.parse import urlparse

    import asyncpg

    from services.core.migrate import downgrade, upgrade

    admin_url = server_urls[0]
    name = f"shelfwatch_migrations_{os.getpid()}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.execute(f'CREATE DATABASE "{name}"')
    url = urlparse(admin_url)._replace(path=f"/{name}").geturl()
    try:
        await asyncio.to_thread(upgrade, url)
        await asyncio.to_thread(downgrade, url, "base")
        scratch = await asyncpg.connect(url)
        tables = await scratch.fetchval(
            "SELECT count(*) FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        await scratch.close()
        assert tables == 0
        await asyncio.to_thread(upgrade, url)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
