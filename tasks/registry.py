"""Every task of every module, in one list the workers register."""

from __future__ import annotations

from services.core.jobs import Hook, Queue
from tasks import admin, alerts, auth, competitor, optimization, product
from tasks.runtime import TaskDef

ALL_TASKS: list[TaskDef] = [
    auth.purge_expired_tokens,
    product.plan_crawls,
    product.plan_first_crawls,
    product.crawl_batch,
    product.refresh_batch,
    product.maintain_partitions,
    product.refresh_read_models,
    product.resend_stalled_crawls,
    alerts.detect_changes,
    alerts.deliver,
    alerts.send_digests,
    competitor.run_report,
    optimization.run_optimization,
    optimization.evaluate_due_experiments,
    optimization.evaluate_experiment,
    admin.purge_dead_letters,
    admin.probe_critical,
    admin.probe_default,
    admin.probe_low,
]


def hooks(tasks: list[TaskDef]) -> dict[Hook, list[tuple[str, Queue]]]:
    """Which tasks follow which hook: what a producer announces, and who gets a job for it."""
    followers: dict[Hook, list[tuple[str, Queue]]] = {}
    for t in tasks:
        if t.after is not None:
            followers.setdefault(t.after, []).append((t.name, t.queue))
    return followers
