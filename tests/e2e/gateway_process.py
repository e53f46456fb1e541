"""A real gateway process on a free port, for tests that need real HTTP from outside."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from services.core.embedded import free_port
from services.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def gateway_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SHELFWATCH_ENVIRONMENT": "test",
        "SHELFWATCH_DATABASE__URL": settings.database.url,
        "SHELFWATCH_REDIS__URL": settings.redis.url,
        "SHELFWATCH_AUTH__JWT_SECRET": settings.auth.jwt_secret.get_secret_value(),
        "SHELFWATCH_APIFY__BASE_URL": "http://127.0.0.1:9",
        "SHELFWATCH_APIFY__TOKEN": "not-used",
        **extra,
    }


@contextmanager
def running_gateway(env: dict[str, str], log: Path) -> Iterator[str]:
    """Start ``shelfwatch gateway`` and yield its base URL once /health/live answers."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "gateway", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health/live", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("gateway did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
