"""What the admin API and pages show: queues, jobs, workers, the archive, the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.core.jobs import Queue
from services.core.pagination import PageParams


class JobState(StrEnum):
    QUEUED = "queued"
    DEFERRED = "deferred"
    IN_PROGRESS = "in_progress"
    RETRYING = "retrying"
    FAILED = "failed"
    COMPLETED = "completed"


class MinuteCount(BaseModel):
    minute: datetime
    completed: int
    failed: int
    retried: int


class QueueRead(BaseModel):
    """One queue's counts, oldest ready job, recent throughput and pause state."""

    name: Queue
    queued: int
    deferred: int
    in_progress: int
    retrying: int
    failed: int = Field(description="Failed results ARQ still keeps (last keep_result seconds)")
    archived: int = Field(description="Dead-lettered jobs in the archive")
    completed: int = Field(description="Completed results ARQ still keeps")
    oldest_ready_age_s: float
    paused: bool
    paused_by: str | None = None
    paused_at: datetime | None = None
    throughput_per_min: float = Field(description="Jobs finished per minute, last 5 minutes")
    failure_rate: float = Field(description="Share of finished jobs that failed, last 5 minutes")
    minutes: list[MinuteCount]


class JobRead(BaseModel):
    """A job as the dashboard lists and details it; secrets in its arguments are redacted."""

    job_id: str
    queue: Queue
    state: JobState
    function: str
    args: list[Any] = Field(default_factory=list)
    keyword_args: dict[str, Any] = Field(default_factory=dict)
    tries: int | None = None
    enqueued_at: datetime | None = None
    due_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    success: bool | None = None
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    request_id: str | None = None


class JobPage(BaseModel):
    items: list[JobRead]
    offset: int
    limit: int
    total: int | None = Field(description="Jobs in that state; None when a search filters them")
    has_more: bool


class JobActionResult(BaseModel):
    job_id: str
    queue: Queue
    action: str
    status: str
    detail: str = ""


class BulkActionResult(BaseModel):
    queue: Queue
    function: str | None
    action: str
    affected: int


class PauseRead(BaseModel):
    queue: Queue
    paused: bool


class WorkerRead(BaseModel):
    name: str
    alive: bool
    host: str | None = None
    pid: int | None = None
    queues: list[str]
    capacity: dict[str, int]
    running: list[str]
    completed: int
    failed: int
    retried: int
    started_at: datetime | None = None
    last_heartbeat: datetime
    heartbeat_age_s: float


class ScheduleEntry(BaseModel):
    """A cron entry as the scheduler defines it (handed to the service by the edge)."""

    name: str
    function: str
    queue: Queue
    minute: list[int] | None = None
    hour: list[int] | None = None


class ScheduleRead(BaseModel):
    name: str
    function: str
    queue: Queue
    cron: str
    last_run_at: datetime | None
    last_job_id: str | None
    last_outcome: str
    next_run_at: datetime


class RedisPrefix(BaseModel):
    prefix: str
    keys: int


class RedisRead(BaseModel):
    version: str
    used_memory_bytes: int
    used_memory_human: str
    peak_memory_human: str
    connected_clients: int
    blocked_clients: int
    total_keys: int
    keys_scanned: int
    scan_complete: bool
    prefixes: list[RedisPrefix]


class DeadLetterRead(BaseModel):
    id: uuid.UUID
    job_id: str
    queue: str
    function: str
    args: list[Any]
    keyword_args: dict[str, Any]
    tries: int
    error_type: str
    error: str
    traceback: str | None
    request_id: str | None
    enqueued_at: datetime | None
    started_at: datetime | None
    failed_at: datetime
    archived_at: datetime
    replay_count: int
    last_replay_job_id: str | None
    last_replayed_at: datetime | None


class DeadLetterFilter(PageParams):
    """Which archived jobs to list, newest failure first."""

    queue: Queue | None = None
    function: str | None = Field(default=None, min_length=1, max_length=200)
    q: str | None = Field(
        default=None, min_length=1, max_length=200, description="Search id, function or error"
    )


class ReplayResult(BaseModel):
    dead_letter_id: uuid.UUID
    job_id: str
    queue: Queue
    sent: bool


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: uuid.UUID | None
    actor_email: str
    action: str
    queue: str | None
    job_id: str | None
    target: str | None
    detail: dict[str, Any]
    outcome: str
    message: str | None


class AuditFilter(PageParams):
    """Which admin actions to list, newest first."""

    action: str | None = Field(default=None, min_length=1, max_length=200)
    q: str | None = Field(default=None, min_length=1, max_length=200)


class ProbeRequest(BaseModel):
    """Test jobs an operator sends through a queue to see it work (or flood it on purpose)."""

    model_config = ConfigDict(extra="forbid")

    queue: Queue = Queue.LOW
    count: int = Field(default=1, ge=1, le=10_000)
    sleep_ms: int = Field(default=0, ge=0, le=60_000)
    fail: str = Field(default="none", pattern="^(none|transient|permanent)$")
    fail_for_s: float = Field(
        default=0, ge=0, le=86_400, description="Fail only during this many seconds from now"
    )


class ProbeResult(BaseModel):
    queue: Queue
    sent: int
    first_job_id: str
