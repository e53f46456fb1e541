"""``shelfwatch up``: embedded servers if needed, migrations, then every process; a crashed one is
restarted, Ctrl-C/SIGTERM stops them all in order."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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


# A child that crashes is started again after a pause that doubles from RESTART_FIRST_S up to
# RESTART_MAX_S; more than CRASH_BURST crashes of one child inside CRASH_WINDOW_S means it
# cannot run (bad config, a broken dependency), and restarting it for ever would only hide that.
RESTART_FIRST_S = 0.5
RESTART_MAX_S = 30.0
CRASH_BURST = 5
CRASH_WINDOW_S = 120.0
# Stopped first to last: nothing new enqueued, no new requests, running jobs finish, then the
# stand-ins those jobs may still be calling.
STOP_ORDER = ("scheduler", "gateway", "worker", "apify-sim", "openai-sim")


@dataclass
class Child:
    """One supervised process and its recent crash history."""

    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    crashes: deque[float] = field(default_factory=deque)
    restart_at: float | None = None

    @property
    def name(self) -> str:
        return self.command[0]

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "cli.main", *self.command],
            env=self.env,
            # Children ignore the terminal's Ctrl-C; we stop them in order ourselves.
            start_new_session=True,
        )
        self.restart_at = None

    def crashed(self, now: float) -> bool:
        """Record an exit; False when this child crashed too often to try again."""
        self.crashes.append(now)
        while self.crashes and self.crashes[0] < now - CRASH_WINDOW_S:
            self.crashes.popleft()
        if len(self.crashes) > CRASH_BURST:
            return False
        delay = min(RESTART_MAX_S, RESTART_FIRST_S * 2 ** (len(self.crashes) - 1))
        self.restart_at = now + delay
        return True


def _supervise(children: list[Child], stopping: Callable[[], bool]) -> bool:
    """Restart crashed children until asked to stop; False when one crashed too often."""
    while not stopping():
        now = time.monotonic()
        for child in children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    logger.warning("restarting a process", extra={"child": child.name})
                    child.start()
                continue
            process = child.process
            if process is None or process.poll() is None:
                continue
            if not child.crashed(now):
                logger.error(
                    "a process keeps crashing; giving up and stopping the others",
                    extra={
                        "child": child.name,
                        "returncode": process.returncode,
                        "exits": len(child.crashes),
                        "window_s": CRASH_WINDOW_S,
                    },
                )
                return False
            logger.error(
                "a process exited; restarting it",
                extra={
                    "child": child.name,
                    "returncode": process.returncode,
                    "restart_in_s": round((child.restart_at or now) - now, 1),
                },
            )
        time.sleep(0.2)
    return True


def _stop(children: list[Child], timeout_s: float = 20) -> None:
    """SIGTERM each running child in STOP_ORDER and wait for it, within one overall deadline."""
    deadline = time.monotonic() + timeout_s
    for child in sorted(children, key=lambda c: STOP_ORDER.index(c.name)):
        process = child.process
        if process is None or process.poll() is not None:
            continue
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def run_all(settings: Settings, with_scheduler: bool = True, openai_sim: bool = False) -> int:
    """Start everything and restart what crashes, until Ctrl-C/SIGTERM (or a child crashes too
    often), then stop all of it in order."""
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
    children: list[Child] = []
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    healthy = True
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
            child = Child(command, env)
            child.start()
            children.append(child)
        healthy = _supervise(children, lambda: stopping)
    finally:
        _stop(children)
        servers.stop()
        print("Shelfwatch stopped", file=sys.stderr, flush=True)
    return 0 if healthy else 1
