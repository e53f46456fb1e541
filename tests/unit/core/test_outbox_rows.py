"""The outbox rows a unit of work writes for the jobs it asked for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.core.jobs import META_KWARG, JobRequest, Queue
from services.core.logging import request_id_var
from services.core.outbox import outbox_rows

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def test_one_row_per_job_id_and_every_row_without_one() -> None:
    requests = [
        JobRequest("a.job", Queue.LOW, {"n": 1}, "a.job:1"),
        JobRequest("a.job", Queue.LOW, {"n": 2}, "a.job:1"),  # asked twice: the first stands
        JobRequest("b.job", Queue.DEFAULT, {}),
        JobRequest("b.job", Queue.DEFAULT, {}),
    ]
    rows = outbox_rows(requests, NOW)
    assert [(r["function"], r["job_id"]) for r in rows] == [
        ("a.job", "a.job:1"),
        ("b.job", None),
        ("b.job", None),
    ]
    assert rows[0]["kwargs"]["n"] == 1
    assert len({r["id"] for r in rows}) == 3


def test_arguments_are_stored_as_the_job_will_receive_them_with_the_request_id() -> None:
    run_id = uuid.uuid4()
    token = request_id_var.set("req-123")
    try:
        (row,) = outbox_rows(
            [JobRequest("a.job", Queue.CRITICAL, {"run_id": run_id, "at": NOW}, "x")], NOW
        )
    finally:
        request_id_var.reset(token)
    assert row["queue"] == "critical"
    assert row["kwargs"] == {
        "run_id": str(run_id),
        "at": NOW.isoformat(),
        META_KWARG: {"request_id": "req-123"},
    }


def test_a_deferred_job_gets_an_absolute_not_before() -> None:
    deferred, now = outbox_rows(
        [
            JobRequest("a.job", Queue.LOW, {}, "later", defer_by_s=90),
            JobRequest("a.job", Queue.LOW, {}, "now"),
        ],
        NOW,
    )
    assert deferred["not_before"] == NOW + timedelta(seconds=90)
    assert now["not_before"] is None
