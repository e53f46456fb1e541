"""JSON-lines logging with the request, job and user ids bound once per unit of work."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import msgspec
from pythonjsonlogger.jsonlogger import JsonFormatter

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


class JsonLinesFormatter(JsonFormatter):
    """python-json-logger's record, encoded by msgspec: the gateway writes a line per request,
    and the standard library's encoder with the library's per-value ``default`` was a third of
    that line's cost (py-spy under load). Anything msgspec cannot encode is written as its
    ``str()``, as the library's default does; times are RFC 3339."""

    _encoder = msgspec.json.Encoder(enc_hook=str)

    def jsonify_log_record(self, log_record: dict[str, Any]) -> str:
        try:
            return self._encoder.encode(log_record).decode()
        except (TypeError, ValueError, OverflowError):  # e.g. a key that is not a string
            return str(super().jsonify_log_record(log_record))  # type: ignore[no-untyped-call]


def configure_logging(level: str = "INFO", process: str = "shelfwatch") -> None:
    """Send every log record to stdout as one JSON object per line."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonLinesFormatter(  # type: ignore[no-untyped-call]
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            static_fields={"process_name": process},
            timestamp="time",
        )
    )
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
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
