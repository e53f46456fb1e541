"""Redis keys the admin dashboard and the workers share, next to ARQ's own.

ARQ keeps a queue as a sorted set of job ids scored by due time (ms), the job under
``arq:job:<id>``, a try counter under ``arq:retry:<id>``, a lock under ``arq:in-progress:<id>``
while a worker runs it, and the outcome under ``arq:result:<id>`` for ``keep_result`` seconds.
It keeps no index of running, retrying or finished jobs per queue, no pause flag and no counters,
so the workers maintain these small structures beside ARQ's keys.
"""

from __future__ import annotations

from services.core.jobs import Queue

PREFIX = "shelfwatch:admin:"
# Hash: worker name -> JSON of its last report (kept after it dies, so it can show as gone).
WORKER_REGISTRY = PREFIX + "workers"
# Hash: schedule name -> JSON {at, job_id, sent, manual} of its last enqueue.
CRON_LAST_RUN = PREFIX + "cron-last"
# Hash: schedule name -> JSON ScheduleEntry, published by the scheduler when it starts.
CRON_ENTRIES = PREFIX + "cron-entries"
# Set of job ids whose failure could not be archived yet (PostgreSQL away); retried later.
ARCHIVE_PENDING = PREFIX + "archive-pending"
# How long the per-minute counters are kept.
STATS_TTL_S = 2 * 3600


def paused_key(queue: Queue | str) -> str:
    """Present while the queue is paused; no expiry, so a restarted worker stays paused."""
    return f"{PREFIX}paused:{Queue(queue).value}"


def running_key(queue: Queue | str) -> str:
    """Sorted set: job id -> start time (ms) of jobs a worker is running."""
    return f"{PREFIX}running:{Queue(queue).value}"


def retrying_key(queue: Queue | str) -> str:
    """Sorted set: job id -> due time (ms) of jobs waiting for their next try."""
    return f"{PREFIX}retrying:{Queue(queue).value}"


def finished_key(queue: Queue | str, success: bool) -> str:
    """Sorted set: job id -> finish time (ms) of jobs whose ARQ result is still kept."""
    return f"{PREFIX}{'completed' if success else 'failed'}:{Queue(queue).value}"


def minute_key(queue: Queue | str, minute: int) -> str:
    """Hash of counters (completed, failed, retried) for one queue and one minute (epoch//60)."""
    return f"{PREFIX}stats:{Queue(queue).value}:{minute}"


def queue_of(arq_queue_name: str) -> Queue | None:
    """Our queue behind an ARQ queue key (``shelfwatch:queue:<name>``)."""
    name = arq_queue_name.rsplit(":", 1)[-1]
    try:
        return Queue(name)
    except ValueError:
        return None
