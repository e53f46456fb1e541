"""Log lines: every record reaches the stream at once but the access log's, which go out in
batches, at the latest after the handler's flush interval."""

from __future__ import annotations

import io
import json
import logging
import time

from services.core.logging import ACCESS_LOGGER, JsonLinesFormatter, JsonLinesHandler


class Sink(io.StringIO):
    """A stream that only shows what was flushed to it."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed = ""

    def flush(self) -> None:
        self.flushed = self.getvalue()


def logger_for(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.Logger(name)
    logger.addHandler(handler)
    return logger


def test_access_lines_are_flushed_in_batches_and_other_records_at_once() -> None:
    sink = Sink()
    handler = JsonLinesHandler(sink, flush_every_s=0.1)
    handler.setFormatter(JsonLinesFormatter("test"))
    access = logger_for(ACCESS_LOGGER, handler)
    other = logger_for("tasks.worker", handler)

    access.info("request", extra={"status": 200})
    access.info("request", extra={"status": 404})
    assert sink.flushed == ""  # written, not yet flushed
    other.info("job done", extra={"outcome": "succeeded"})
    lines = [json.loads(line) for line in sink.flushed.splitlines()]
    # The other record went out at once, and the access lines before it with it, in order.
    assert [line.get("status") for line in lines] == [200, 404, None]
    assert lines[2]["outcome"] == "succeeded" and lines[2]["process_name"] == "test"

    access.warning("request", extra={"status": 500})  # a warning is never held back
    assert json.loads(sink.flushed.splitlines()[-1])["status"] == 500

    access.info("request", extra={"status": 201})
    deadline = time.monotonic() + 2
    while '"status":201' not in sink.flushed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert json.loads(sink.flushed.splitlines()[-1])["status"] == 201
