"""What counts as an outage of PostgreSQL or Redis, decided in one place.

A connection refused, dropped or reset, a server starting up or shutting down, a pool that
cannot hand out a connection: none of these says anything about the request or the job, and
each passes once the server is back. Jobs retry them with backoff, the gateway answers 503 with
``Retry-After``, and neither logs a traceback for each occurrence.
"""

from __future__ import annotations

import errno
import logging
import time

import asyncpg
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from services.core.errors import TransientError

# How long a client should wait before trying again while a server is away: a restart of
# PostgreSQL or Redis takes seconds, not minutes.
RETRY_AFTER_S = 5

_CONNECTION_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.ETIMEDOUT,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
}

_POSTGRES_OUTAGES: tuple[type[BaseException], ...] = (
    # SQLSTATE class 08: the connection itself failed.
    asyncpg.exceptions.PostgresConnectionError,
    # 57P01 admin shutdown, 57P02 crash shutdown, 57P03 starting up / shutting down.
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    # The socket closed under a query (the server went away mid-statement).
    asyncpg.exceptions.ConnectionDoesNotExistError,
)

_REDIS_OUTAGES: tuple[type[BaseException], ...] = (
    # Includes BusyLoadingError: Redis answers while it still reads its data back from disk.
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
)


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, (TransientError, *_POSTGRES_OUTAGES, *_REDIS_OUTAGES)):
        return True
    if isinstance(exc, sa_errors.DBAPIError) and exc.connection_invalidated:
        return True
    # No connection free in the pool in time: the database is slow or away, not the caller.
    if isinstance(exc, sa_errors.TimeoutError):
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return isinstance(exc, OSError) and exc.errno in _CONNECTION_ERRNOS


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is PostgreSQL or Redis being away for a while."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_outage(current):
            return True
        # SQLAlchemy keeps the driver's error as .orig; the asyncpg adapter raises from it.
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


def dependency_of(exc: BaseException) -> str:
    """Which server an outage error came from, for logs and metrics ("database", "redis")."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, _REDIS_OUTAGES):
            return "redis"
        if isinstance(current, sa_errors.SQLAlchemyError | asyncpg.PostgresError):
            return "database"
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    # A bare socket error (asyncpg lets a refused connect through unwrapped): the library
    # whose code raised it names the server.
    tb = exc.__traceback__
    found = "unknown"
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(("asyncpg", "sqlalchemy")):
            found = "database"
        elif module.startswith("redis"):
            found = "redis"
        tb = tb.tb_next
    return found


class OutageLog:
    """Logs an outage once when it starts and then at most every ``every_s`` seconds, with a
    count of what was suppressed: a server away for a minute must not write a traceback for
    each of the thousands of requests or polls that met it."""

    def __init__(self, logger: logging.Logger, every_s: float = 10.0) -> None:
        self.logger = logger
        self.every_s = every_s
        self._last = 0.0
        self._suppressed = 0

    def seen(self, message: str, exc: BaseException, **extra: object) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s:
            self._suppressed += 1
            return
        self.logger.warning(
            message,
            extra={
                **extra,
                "dependency": dependency_of(exc),
                "error_type": type(exc).__name__,
                "error": str(exc)[:300],
                "suppressed": self._suppressed,
            },
        )
        self._last = now
        self._suppressed = 0
