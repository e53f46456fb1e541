"""Which errors count as PostgreSQL or Redis being away (retried, 503) and which do not."""

from __future__ import annotations

import asyncio
import errno

import asyncpg
import pytest
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from services.core.errors import InvalidInput, TransientError
from services.core.outage import dependency_of, is_transient


def _wrapped(orig: BaseException, invalidated: bool = False) -> sa_errors.DBAPIError:
    """What SQLAlchemy's asyncpg dialect raises: its own error, the driver's as the cause."""
    translated = Exception(str(orig))
    translated.__cause__ = orig
    return sa_errors.DBAPIError("SELECT 1", {}, translated, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
        ConnectionResetError(errno.ECONNRESET, "reset by peer"),
        OSError(errno.ECONNREFUSED, "refused"),
        TimeoutError(),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        _wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")),
        _wrapped(Exception("connection is closed"), invalidated=True),
        sa_errors.TimeoutError("QueuePool limit reached"),
        redis_errors.ConnectionError("Error 111 connecting"),
        redis_errors.BusyLoadingError("Redis is loading the dataset in memory"),
        redis_errors.TimeoutError("Timeout reading from socket"),
        TransientError("upstream 503"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_outages_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad input"),
        InvalidInput("bad input"),
        FileNotFoundError(errno.ENOENT, "no such file"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        _wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")),
        _wrapped(asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence")),
        sa_errors.IntegrityError("INSERT", {}, Exception("duplicate")),
        redis_errors.ResponseError("WRONGTYPE"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_are_not(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_an_outage_names_its_server() -> None:
    assert dependency_of(redis_errors.ConnectionError("down")) == "redis"
    assert dependency_of(_wrapped(asyncpg.exceptions.CannotConnectNowError("down"))) == "database"


def test_a_bare_socket_error_is_named_by_the_library_that_raised_it() -> None:
    async def connect() -> None:
        # What asyncpg raises for a refused connect: an OSError, not one of its own errors.
        await asyncpg.connect("postgresql://postgres@127.0.0.1:1/none", timeout=2)

    with pytest.raises(OSError) as raised:
        asyncio.run(connect())
    assert is_transient(raised.value)
    assert dependency_of(raised.value) == "database"
