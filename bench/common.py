"""What every benchmark shares: scratch databases, processes, the machine line and the tables.

Each benchmark owns one scratch PostgreSQL database and, when it needs Redis, one Redis DB
number, so benchmarks never touch the development data or each other's, and each drops what it
made when it ends. PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 are used when they
answer (override with ``SHELFWATCH_BENCH_POSTGRES_URL`` / ``SHELFWATCH_BENCH_REDIS_HOST_URL``);
otherwise the embedded servers the product ships are started for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import platform
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import psutil
from redis.asyncio import Redis

from services.core.db import async_url
from services.core.embedded import EmbeddedServers
from services.core.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / ".shelfwatch" / "bench-logs"


def _reachable(url: str, port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or port), 1):
            return True
    except OSError:
        return False


def plain_url(url: str) -> str:
    """A libpq-style URL for asyncpg from any of the forms the settings accept."""
    return async_url(url).replace("postgresql+asyncpg://", "postgresql://")


@dataclass
class Bench:
    """The servers and scratch resources of one benchmark run."""

    name: str
    redis_db: int | None
    pg_admin: str = ""
    redis_base: str = ""
    servers: EmbeddedServers | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def db_name(self) -> str:
        return f"shelfwatch_bench_{self.name}"

    @property
    def db_url(self) -> str:
        return urlparse(self.pg_admin)._replace(path=f"/{self.db_name}").geturl()

    @property
    def redis_url(self) -> str:
        if self.redis_base.startswith("unix://"):  # a socket path: the DB goes in the query
            return f"{self.redis_base.split('?', 1)[0]}?db={self.redis_db}"
        return f"{self.redis_base.rstrip('/').rsplit('/', 1)[0]}/{self.redis_db}"

    def spawn(
        self, args: Sequence[str], env: dict[str, str], log: str, *, module: str = "cli.main"
    ) -> subprocess.Popen[bytes]:
        LOGS.mkdir(parents=True, exist_ok=True)
        with (LOGS / log).open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process in self.processes:
            self.processes.remove(process)

    def env(self, **extra: str) -> dict[str, str]:
        """A process environment pointing at this benchmark's scratch database and Redis DB."""
        env = {
            **os.environ,
            "SHELFWATCH_ENVIRONMENT": "development",
            "SHELFWATCH_LOG_LEVEL": "WARNING",
            "SHELFWATCH_DATABASE__URL": self.db_url,
            "SHELFWATCH_QUEUE__METRICS_PORT": "0",
        }
        if self.redis_db is not None:
            env["SHELFWATCH_REDIS__URL"] = self.redis_url
        env.update(extra)
        return env

    async def fresh_database(self, migrate: bool = True) -> str:
        conn = await asyncpg.connect(plain_url(self.pg_admin))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{self.db_name}"')
        finally:
            await conn.close()
        if migrate:
            await asyncio.to_thread(upgrade, self.db_url)
        return self.db_url

    async def flush_redis(self) -> None:
        if self.redis_db is None:
            return
        redis = Redis.from_url(self.redis_url)
        try:
            await redis.flushdb()  # our own scratch DB number only
        finally:
            await redis.aclose()

    async def drop(self) -> None:
        with contextlib.suppress(Exception):
            conn = await asyncpg.connect(plain_url(self.pg_admin))
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            finally:
                await conn.close()
        with contextlib.suppress(Exception):
            await self.flush_redis()


@contextlib.asynccontextmanager
async def bench(name: str, redis_db: int | None, *, keep: bool = False) -> AsyncIterator[Bench]:
    """Servers up, a fresh scratch database; every process stopped and the scratch data dropped
    at the end (``keep`` leaves the database for a look afterwards)."""
    pg_admin = os.environ.get(
        "SHELFWATCH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    redis_base = os.environ.get("SHELFWATCH_BENCH_REDIS_HOST_URL", "redis://127.0.0.1:6379/0")
    servers = EmbeddedServers(ROOT / ".shelfwatch" / f"bench-{name}")
    servers.start(
        need_database=not _reachable(pg_admin, 5432),
        need_redis=redis_db is not None and not _reachable(redis_base, 6379),
    )
    if servers.postgres:
        pg_admin = plain_url(servers.postgres.url.replace("/shelfwatch?", "/postgres?"))
    if servers.redis:
        redis_base = servers.redis.url
    state = Bench(name, redis_db, plain_url(pg_admin), redis_base, servers)
    try:
        await state.fresh_database(migrate=False)
        await state.flush_redis()
        yield state
    finally:
        for process in list(state.processes):
            state.stop(process)
        if not keep:
            await state.drop()
        servers.stop()


async def wait_http(url: str, timeout_s: float = 120) -> None:
    """Until ``url`` answers 2xx (every server process up, not just the listening socket)."""
    import httpx

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).is_success:
                    return
            if loop.time() > deadline:
                raise RuntimeError(f"{url} did not answer in {timeout_s:.0f} s")
            await asyncio.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (several server processes)."""
    try:
        process = psutil.Process(pid)
        tree = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
        f"load avg {load[0]:.1f} at start"
    )


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (pastes straight into bench/README.md)."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [f"### {title}", ""]
    for n, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


@contextlib.contextmanager
def timer() -> Iterator[list[float]]:
    """``with timer() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    import time

    box: list[float] = []
    started = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - started)
