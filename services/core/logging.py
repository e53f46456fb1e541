"""JSON-lines logging with the request, job and user ids bound once per unit of work."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)

_CONTEXT_VARS = {"request_id": request_id_var, "job_id": job_id_var, "user_id": user_id_var}
# Keys that must never reach a log line, whoever passes them in `extra`.
_REDACTED_KEYS = frozenset(
    {"password", "token", "access_token", "refresh_token", "authorization", "secret", "jwt_secret"}
)


class ContextFilter(logging.Filter):
    """Copies the bound ids onto every record and redacts secret-looking extras."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT_VARS.items():
            value = var.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        # uvicorn's copy of the message with terminal colour codes has no place in JSON logs.
        if hasattr(record, "color_message"):
            del record.color_message
        for key in _REDACTED_KEYS:
            if hasattr(record, key):
                setattr(record, key, "[redacted]")
        return True


# What every LogRecord carries: anything else on a record was passed in ``extra``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}
_ENCODER = msgspec.json.Encoder(enc_hook=str)


class JsonLinesFormatter(logging.Formatter):
    """A record as one JSON object: time (RFC 3339, UTC), level, logger, message, the process
    and every ``extra``; values JSON cannot hold are written as their ``str()``.

    The gateway writes a line per request. python-json-logger's formatter (an ordered dict,
    a walk of the record per reserved name, the standard library's encoder with a Python
    ``default`` per value) was a fifth of a cached read's CPU under load (py-spy); msgspec
    encodes the same object in C."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process_name": self.process,
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        try:
            return _ENCODER.encode(line).decode()
        except (TypeError, ValueError, OverflowError):  # e.g. a key that is not a string
            return json.dumps(line, default=str)


ACCESS_LOGGER = "gateway.access"


class JsonLinesHandler(logging.StreamHandler[TextIO]):
    """Writes each record as a line; flushes every record at once but the access log's.

    The access log is a line per request: those lines go out as the stream's buffer fills, with
    the next other record, and at least every ``flush_every_s`` (and at exit), instead of one
    write call each, which was a tenth of a cached read's CPU under load (py-spy)."""

    def __init__(self, stream: TextIO, flush_every_s: float = 0.2) -> None:
        super().__init__(stream)
        self.flush_every_s = flush_every_s
        self._unflushed = False
        self._flusher: threading.Thread | None = None
        os.register_at_fork(after_in_child=self._forget_flusher)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.name == ACCESS_LOGGER and record.levelno < logging.WARNING:
                self._unflushed = True
                if self._flusher is None:
                    self._flusher = threading.Thread(
                        target=self._flush_periodically, name="log-flush", daemon=True
                    )
                    self._flusher.start()
            else:
                self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        super().flush()
        self._unflushed = False

    def _flush_periodically(self) -> None:
        while True:
            time.sleep(self.flush_every_s)
            if self._unflushed:
                self.flush()

    def _forget_flusher(self) -> None:  # threads do not survive a fork
        self._flusher = None


def _stdout() -> TextIO:
    """stdout with a buffer of our own (PYTHONUNBUFFERED, as container images set it, would
    make every line its own write); stdout itself when it has no file descriptor."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.stdout
    return open(fd, "w", encoding="utf-8", buffering=1 << 16, closefd=False)


def configure_logging(level: str = "INFO", process: str = "shelfwatch") -> None:
    """Send every log record to stdout as one JSON object per line."""
    handler = JsonLinesHandler(_stdout())
    handler.setFormatter(JsonLinesFormatter(process))
    # The JSON line carries none of these: not gathered for every record (the logging HOWTO's
    # "Optimization"; a third of a record's making in the gateway's profile).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for previous in root.handlers:
        previous.flush()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Their own access logs duplicate ours and are not JSON.
    for noisy in (
        "uvicorn.access",
        "httpx",
        "httpcore",
        "arq.worker",
        "arq.jobs",
        "alembic",
        "pgserver",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").handlers[:] = []
    logging.getLogger("uvicorn").handlers[:] = []


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind request_id / job_id / user_id for the logs of the enclosed block."""
    tokens = [
        (_CONTEXT_VARS[k], _CONTEXT_VARS[k].set(None if v is None else str(v)))
        for k, v in values.items()
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
