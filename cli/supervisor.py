"""``shelfwatch up``: embedded servers if needed, migrations, then every process, stopped as one."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from types import FrameType

from services.core.embedded import EmbeddedPostgres, EmbeddedServers, free_port
from services.core.migrate import upgrade
from services.core.settings import Settings

logger = logging.getLogger("shelfwatch.up")


@contextlib.contextmanager
def embedded_database(settings: Settings) -> Iterator[str]:
    """The configured database URL, or an embedded PostgreSQL's for the duration of the block."""
    if settings.database.url:
        yield settings.database.url
        return
    postgres = EmbeddedPostgres(settings.data_dir.resolve() / "postgres")
    try:
        yield postgres.start()
    finally:
        postgres.stop()


def _banner(settings: Settings, servers: EmbeddedServers, env: dict[str, str]) -> None:
    lines = [
        "Shelfwatch is starting",
        f"  gateway    http://{settings.http.host}:{settings.http.port}  (API docs at /schema)",
    ]
    if "postgres" in servers.started:
        lines.append(f"  PostgreSQL embedded, data in {servers.data_dir / 'postgres'}")
    else:
        lines.append("  PostgreSQL from SHELFWATCH_DATABASE__URL")
    if "redis" in servers.started:
        lines.append(
            f"  Redis      embedded at {env['SHELFWATCH_REDIS__URL']}, "
            f"data in {servers.data_dir / 'redis'}"
        )
    else:
        lines.append("  Redis      from SHELFWATCH_REDIS__URL")
    if env.get("SHELFWATCH_APIFY__SIMULATED") == "true":
        lines.append(
            "  Apify      SIMULATED by the bundled simulator at "
            f"{env['SHELFWATCH_APIFY__BASE_URL']} - crawl data is not real; "
            "set SHELFWATCH_APIFY__TOKEN for real crawls"
        )
    else:
        lines.append(f"  Apify      {env.get('SHELFWATCH_APIFY__BASE_URL') or 'api.apify.com'}")
    if env.get("SHELFWATCH_OPENAI__SIMULATED") == "true":
        lines.append(
            "  OpenAI     SIMULATED by the bundled stand-in at "
            f"{env['SHELFWATCH_OPENAI__BASE_URL']} - reports are not written by a real model"
        )
    elif settings.openai.enabled:
        lines.append(f"  OpenAI     {settings.openai.base_url or 'api.openai.com'}")
    else:
        lines.append(
            "  OpenAI     not configured - reports are rule_based; "
            "set SHELFWATCH_OPENAI__API_KEY, or pass --openai-sim"
        )
    if servers.started:
        lines.append(
            "  To use your own servers, set SHELFWATCH_DATABASE__URL and SHELFWATCH_REDIS__URL "
            "(see .env.example)."
        )
    print("\n".join(lines), file=sys.stderr, flush=True)


def run_all(settings: Settings, with_scheduler: bool = True, openai_sim: bool = False) -> int:
    """Start everything, wait until Ctrl-C/SIGTERM or a process dies, then stop all of it."""
    servers = EmbeddedServers(settings.data_dir.resolve())
    servers.start(need_database=not settings.database.url, need_redis=not settings.redis.url)
    env = dict(os.environ)
    env["SHELFWATCH_DATABASE__URL"] = (
        servers.postgres.url if servers.postgres else settings.database.url
    )
    env["SHELFWATCH_REDIS__URL"] = servers.redis.url if servers.redis else settings.redis.url
    if settings.needs_apify_simulator:
        env["SHELFWATCH_APIFY__BASE_URL"] = f"http://127.0.0.1:{free_port()}"
        # The simulator wants a token like Apify does; this one opens nothing real.
        env["SHELFWATCH_APIFY__TOKEN"] = "simulator"  # noqa: S105
        env["SHELFWATCH_APIFY__SIMULATED"] = "true"
    if openai_sim:
        env["SHELFWATCH_OPENAI__BASE_URL"] = f"http://127.0.0.1:{free_port()}/v1"
        # The stand-in wants a bearer key like OpenAI does; this one opens nothing real.
        env["SHELFWATCH_OPENAI__API_KEY"] = "sk-openai-sim"
        env["SHELFWATCH_OPENAI__SIMULATED"] = "true"
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        upgrade(env["SHELFWATCH_DATABASE__URL"])
        _banner(settings, servers, env)
        commands = [["gateway"], ["worker"]] + ([["scheduler"]] if with_scheduler else [])
        if settings.needs_apify_simulator:
            port = env["SHELFWATCH_APIFY__BASE_URL"].rsplit(":", 1)[1]
            commands.insert(0, ["apify-sim", "--port", port])
        if openai_sim:
            port = env["SHELFWATCH_OPENAI__BASE_URL"].rsplit(":", 1)[1].split("/")[0]
            commands.insert(0, ["openai-sim", "--port", port])
        for command in commands:
            children.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and module
                    [sys.executable, "-m", "cli.main", *command],
                    env=env,
                    # Children ignore the terminal's Ctrl-C; we stop them in order ourselves.
                    start_new_session=True,
                )
            )
        while not stopping:
            if any(child.poll() is not None for child in children):
                logger.error("a process exited; stopping the others")
                break
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        servers.stop()
        print("Shelfwatch stopped", file=sys.stderr, flush=True)
    failed = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed and not stopping else 0
